package callback

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSecurityHeaders(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	answers := []*httptest.ResponseRecorder{
		serve(r, "GET", "/nope", "", ""),
		serve(r, "PUT", "/callback", "", ""),
		get(r, q("state", "wrong", "code", "c")),
		get(r, q("state", testState, "code", "c")),
		get(r, q("state", testState, "code", "c")),
	}
	for i, w := range answers {
		h := w.Header()
		for k, want := range map[string]string{
			"Content-Type":           "text/html; charset=utf-8",
			"Cache-Control":          "no-store",
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("answer %d: %s = %q, want %q", i, k, got, want)
			}
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("answer %d: CSP %q", i, csp)
		}
		page := w.Body.String()
		for _, bad := range []string{"<script", "http://", "https://", "src="} {
			if strings.Contains(page, bad) {
				t.Errorf("answer %d: page contains %q (no scripts or external resources)", i, bad)
			}
		}
	}
}

func TestSuccessPage(t *testing.T) {
	r := newHandlerReceiver(t, Config{AppName: "mytool"})
	page := get(r, q("state", testState, "code", "SECRETCODE")).Body.String()
	for _, want := range []string{"You&#39;re signed in to mytool", "You can close this tab and return to mytool.", "<svg", "prefers-color-scheme: dark", "system-ui"} {
		if !strings.Contains(page, want) {
			t.Errorf("success page lacks %q", want)
		}
	}
	if strings.Contains(page, "SECRETCODE") || strings.Contains(page, testState) {
		t.Error("success page shows the code or the state")
	}
}

func TestErrorPageEscaping(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	w := get(r, q("state", testState, "error", "<b>bad</b>",
		"error_description", `<script>alert(1)</script>"onmouseover="x`,
		"error_uri", "javascript:alert(document.cookie)"))
	page := w.Body.String()
	if strings.Contains(strings.ToLower(page), "<script") || strings.Contains(page, "<b>bad") {
		t.Fatalf("unescaped markup in page:\n%s", page)
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("description not shown escaped:\n%s", page)
	}
	if strings.Contains(page, "<a ") || strings.Contains(page, "href") {
		t.Errorf("a javascript: error_uri became a link:\n%s", page)
	}
	if !strings.Contains(page, "javascript:alert(document.cookie)") {
		t.Errorf("a javascript: error_uri is not shown as text")
	}
}

func TestErrorPageLinksWebURI(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	page := get(r, q("state", testState, "error", "invalid_scope", "error_uri", "https://as.example/errors?x=1&y=2")).Body.String()
	if !strings.Contains(page, `<a href="https://as.example/errors?x=1&amp;y=2"`) {
		t.Fatalf("https error_uri not linked:\n%s", page)
	}
}

func TestErrorLink(t *testing.T) {
	for uri, want := range map[string]bool{
		"https://a.example/x": true, "HTTP://a.example": true, "javascript:alert(1)": false,
		"data:text/html,hi": false, "/relative": false, "//a.example/x": false, "": false, "http://": false,
	} {
		if got := (PageData{ErrorURI: uri}).ErrorLink() != ""; got != want {
			t.Errorf("ErrorLink(%q) linked = %v, want %v", uri, got, want)
		}
	}
}

func TestCustomTemplates(t *testing.T) {
	ok := template.Must(template.New("ok").Parse(`OK {{.AppName}} {{.Title}} {{.Status}}`))
	bad := template.Must(template.New("bad").Parse(`BAD {{.Status}} {{.ErrorCode}} {{.ErrorDescription}} {{.Message}}`))
	r := newHandlerReceiver(t, Config{AppName: "app", SuccessTemplate: ok, ErrorTemplate: bad})
	if page := serve(r, "GET", "/x", "", "").Body.String(); !strings.HasPrefix(page, "BAD 404") {
		t.Errorf("404 page = %q", page)
	}
	if page := get(r, q("state", "no", "code", "c")).Body.String(); !strings.HasPrefix(page, "BAD 400") {
		t.Errorf("wrong-state page = %q", page)
	}
	if page := get(r, q("state", testState, "code", "c")).Body.String(); page != "OK app You&#39;re signed in to app 200" {
		t.Errorf("success page = %q", page)
	}
	r2 := newHandlerReceiver(t, Config{ErrorTemplate: bad})
	page := get(r2, q("state", testState, "error", "access_denied", "error_description", "<i>no</i>")).Body.String()
	if !strings.HasPrefix(page, "BAD 200 access_denied &lt;i&gt;no&lt;/i&gt;") {
		t.Errorf("error page = %q", page)
	}
	waitNow(t, r)
	waitNow(t, r2)
}

func TestBrokenCustomTemplateFallsBack(t *testing.T) {
	broken := template.Must(template.New("b").Parse(`{{.NoSuchField}}`))
	r := newHandlerReceiver(t, Config{SuccessTemplate: broken})
	w := get(r, q("state", testState, "code", "c"))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "signed in") {
		t.Fatalf("status %d, page %q", w.Code, w.Body)
	}
	waitNow(t, r)
}

func TestDefaultTemplatesExported(t *testing.T) {
	s, e := DefaultSuccessTemplate(), DefaultErrorTemplate()
	if s == nil || e == nil {
		t.Fatal("embedded templates missing")
	}
	// A caller may change its copy without changing the receiver's pages.
	template.Must(s.New("foot").Parse(`CHANGED`))
	r := newHandlerReceiver(t, Config{SuccessTemplate: s})
	if page := get(r, q("state", testState, "code", "c")).Body.String(); !strings.Contains(page, "CHANGED") {
		t.Fatalf("custom copy not used: %q", page)
	}
	if page := render(defaultPages().Lookup("success.html"), PageData{}); strings.Contains(string(page), "CHANGED") {
		t.Fatal("changing the copy changed the embedded page")
	}
	waitNow(t, r)
}

// The error page tells the person what the server's error code means for
// them, in their terms.
func TestErrorPageMessages(t *testing.T) {
	for code, want := range map[string]string{
		"access_denied":           "Access was denied, or the sign-in was cancelled. Return to mytool to try again.",
		"temporarily_unavailable": "The sign-in service had a problem. Wait a moment, then return to mytool and try again.",
		"server_error":            "The sign-in service had a problem. Wait a moment, then return to mytool and try again.",
		"login_required":          "The sign-in service needs you to sign in or give consent. Return to mytool and start again.",
		"consent_required":        "The sign-in service needs you to sign in or give consent. Return to mytool and start again.",
		"interaction_required":    "The sign-in service needs you to sign in or give consent. Return to mytool and start again.",
		"invalid_scope":           "The sign-in service reported an error. Return to mytool and try again.",
	} {
		r := newHandlerReceiver(t, Config{AppName: "mytool"})
		page := get(r, q("state", testState, "error", code)).Body.String()
		if !strings.Contains(page, template.HTMLEscapeString(want)) {
			t.Errorf("%s: the page does not say %q:\n%s", code, want, page)
		}
	}
}
