package callback

import (
	"context"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzReceiver feeds arbitrary requests to the receiver's handler and checks
// that it never panics, answers with an expected status and the protective
// headers, never renders an unescaped <script, and ends the wait only for a
// request that carries exactly the expected state.
func FuzzReceiver(f *testing.F) {
	form := "application/x-www-form-urlencoded"
	f.Add("GET", "/callback", "code=abc&state="+testState, "", "", testHost)
	f.Add("GET", "/callback", "error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&error_uri=javascript%3Aalert(1)&state="+testState, "", "", testHost)
	f.Add("POST", "/callback", "", "code=abc&state="+testState, form, testHost)
	f.Add("POST", "/callback", "state="+testState, "code=abc", form+"; charset=utf-8", testHost)
	f.Add("GET", "/callback", "code=abc&state="+testState+"&state="+testState, "", "", testHost)
	f.Add("GET", "/callback", "code=abc&state=wrong", "", "", testHost)
	f.Add("GET", "/callback", "state="+testState, "", "", testHost)
	f.Add("GET", "/callback", "code=abc&state="+testState, "", "", "evil.example:5555")
	f.Add("PUT", "/callback", "code=abc&state="+testState, "", "", testHost)
	f.Add("GET", "/favicon.ico", "", "", "", testHost)
	f.Add("GET", "/callback", "code=a;state="+testState, "", "", testHost)
	f.Add("POST", "/callback", "", "%zz", form, testHost)

	statuses := map[int]bool{200: true, 400: true, 404: true, 405: true, 410: true, 413: true, 415: true}
	f.Fuzz(func(t *testing.T, method, path, rawQuery, body, contentType, host string) {
		r := newHandlerReceiver(t, Config{})
		req := &http.Request{
			Method:     method,
			URL:        &url.URL{Path: path, RawQuery: rawQuery},
			Host:       host,
			Header:     http.Header{},
			Body:       io.NopCloser(strings.NewReader(body)),
			RemoteAddr: "127.0.0.1:40000",
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		r.serveHTTP(w, req)

		if !statuses[w.Code] {
			t.Fatalf("unexpected status %d", w.Code)
		}
		h := w.Header()
		if h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Cache-Control") != "no-store" ||
			!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("missing protective headers: %v", h)
		}
		if strings.Contains(strings.ToLower(w.Body.String()), "<script") {
			t.Fatalf("page contains <script:\n%s", w.Body)
		}

		if !ended(r) {
			return
		}
		// It ended the wait: check independently that it had to.
		if !strings.EqualFold(host, testHost) || path != DefaultPath || (method != "GET" && method != "POST") {
			t.Fatalf("ended by %s %q with Host %q", method, path, host)
		}
		raw := rawQuery
		if method == "POST" {
			mt, _, err := mime.ParseMediaType(contentType)
			if err != nil || mt != "application/x-www-form-urlencoded" {
				t.Fatalf("ended by a POST with Content-Type %q", contentType)
			}
			raw = body
		}
		v, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("ended by unparsable parameters %q", raw)
		}
		if s := v["state"]; len(s) != 1 || s[0] != testState {
			t.Fatalf("ended without exactly the expected state: %q", s)
		}
		if w.Code != 200 && w.Code != 400 {
			t.Fatalf("ending answer has status %d", w.Code)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		resp, _ := r.Wait(ctx)
		if resp == nil || resp.State != testState {
			t.Fatalf("Wait after ending returned %+v", resp)
		}
	})
}
