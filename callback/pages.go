package callback

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"
	"sync"
)

//go:embed pages/*.html
var pagesFS embed.FS

// defaultPages returns the embedded templates (success.html, error.html and
// the shared pieces they use), parsed on first use so that a program that
// links authloop but never logs in pays nothing at start-up.
var defaultPages = sync.OnceValue(parsePages)

// DefaultSuccessTemplate returns a fresh copy of the embedded success page,
// executed with a PageData: the page used when Config.SuccessTemplate is nil.
// The copy is the caller's to change (for example to redefine its "head"
// block) without affecting other receivers.
func DefaultSuccessTemplate() *template.Template { return parsePages().Lookup("success.html") }

// DefaultErrorTemplate returns a fresh copy of the embedded error page,
// executed with a PageData: the page used when Config.ErrorTemplate is nil.
// The copy is the caller's to change without affecting other receivers.
func DefaultErrorTemplate() *template.Template { return parsePages().Lookup("error.html") }

func parsePages() *template.Template {
	return template.Must(template.ParseFS(pagesFS, "pages/*.html"))
}

// contentSecurityPolicy forbids scripts, frames, forms and every external
// resource; the pages need only their inline style.
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; " +
	"form-action 'none'; frame-ancestors 'none'"

// setPageHeaders sets the headers every answer of the receiver carries.
func setPageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
}

// render executes t with data. If the template fails (a custom template with
// a mistake in it), the person still gets a minimal page saying what happened.
func render(t *template.Template, data PageData) []byte {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err == nil {
		return buf.Bytes()
	}
	buf.Reset()
	_ = fallbackPage().Execute(&buf, data)
	return buf.Bytes()
}

// fallbackPage is parsed on first use, like the embedded pages: only a
// broken custom template needs it.
var fallbackPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("fallback").Parse(
		`<!doctype html><meta charset="utf-8"><title>{{.Title}}</title><h1>{{.Title}}</h1><p>{{.Message}}</p>` +
			`{{if .ErrorCode}}<p>Error: <code>{{.ErrorCode}}</code>{{if .ErrorDescription}} — {{.ErrorDescription}}{{end}}</p>{{end}}`))
})

// writePage writes a complete page with the given status.
func writePage(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	setPageHeaders(h)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
