package oauthtest

import (
	"html/template"
	"net/http"
	"sync"
)

// The pages below are parsed back by Browse: keep the form and input
// markup in step with formRE and inputRE in browse.go. They are parsed on
// first use, so that a program linking this package (the authloop command,
// for its demo) pays nothing for them at start-up.

var formPostPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Submit this form</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}" data-oauthtest="form_post">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><button type="submit">Continue</button></noscript>
</form>
</body></html>
`))
})

var consentPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("consent").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Authorize {{.ClientID}}</title></head>
<body>
<h1>Authorize {{.ClientID}}?</h1>
<p>{{.ClientID}} asks, as {{.Subject}}, for: {{if .Scopes}}{{range .Scopes}}<code>{{.}}</code> {{end}}{{else}}no particular scope{{end}}</p>
<form method="post" action="{{.Action}}" data-oauthtest="consent">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
</body></html>
`))
})

var errorPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Authorization error</title></head>
<body><h1>Authorization error</h1><p>{{.}}</p>
<p>The request cannot be sent back to the application, because its client or redirect URI is not valid.</p>
</body></html>
`))
})

type formField struct{ Name, Value string }

type formData struct {
	Action   template.URL // a registered redirect URI or our own endpoint
	Fields   []formField
	ClientID string
	Subject  string
	Scopes   []string
}

func (x *exchange) renderHTML(status int, t func() *template.Template, data any) {
	h := x.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	x.WriteHeader(status)
	_ = t().Execute(x, data)
}

// showError answers an authorization request that must not be redirected
// (unknown client, bad redirect URI) with an HTML page.
func (x *exchange) showError(code, msg string) {
	x.errCode = code
	x.renderHTML(http.StatusBadRequest, errorPage, msg)
}
