package oauthtest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAuthorizeAutoApprove(t *testing.T) {
	s := newTestServer(t, Config{})
	resp, _ := get(t, noRedirectClient(t), s.AuthorizationEndpoint()+"?"+authParams(s).Encode())
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Host != "127.0.0.1:5555" || loc.Path != "/callback" {
		t.Errorf("redirected to %s", loc)
	}
	q := loc.Query()
	if len(q.Get("code")) < 43 || q.Get("state") != "st4te" || q.Get("iss") != s.Issuer() {
		t.Errorf("redirect query %v", q)
	}
}

func TestAuthorizeOmitIssuer(t *testing.T) {
	s := newTestServer(t, Config{OmitIssuerInResponse: true})
	if q := authorize(t, s, authParams(s)); q.Has("iss") {
		t.Errorf("iss sent: %v", q)
	}
}

func TestAuthorizeLoopbackAnyPort(t *testing.T) {
	s := newTestServer(t, Config{Clients: []Client{{
		ID:           "c1",
		RedirectURIs: []string{"http://127.0.0.1/cb", "http://[::1]/cb", "http://localhost/cb", "https://app.example/cb"},
	}}})
	for _, ru := range []string{
		"http://127.0.0.1:1234/cb", "http://127.0.0.1/cb", "http://[::1]:80/cb", "http://localhost:65000/cb",
		"https://app.example/cb",
	} {
		p := authParams(s)
		p.Set("redirect_uri", ru)
		if q := authorize(t, s, p); q.Get("code") == "" {
			t.Errorf("%s: no code: %v", ru, q)
		}
	}
	for _, ru := range []string{
		"http://127.0.0.1:1234/other", "http://127.0.0.2:1234/cb", "https://app.example:8443/cb",
		"https://app.example/cb/", "http://localhost:1/cb#frag", "https://evil.example/cb",
	} {
		p := authParams(s)
		p.Set("redirect_uri", ru)
		resp, body := get(t, noRedirectClient(t), s.AuthorizationEndpoint()+"?"+p.Encode())
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: status %d Location %q, want an error page", ru, resp.StatusCode, resp.Header.Get("Location"))
		}
		if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "not registered") {
			t.Errorf("%s: body %q", ru, body)
		}
	}
}

func TestAuthorizeErrorPageNotRedirected(t *testing.T) {
	s := newTestServer(t, Config{})
	p := authParams(s)
	p.Set("client_id", `<script>alert(1)</script>`)
	resp, body := get(t, noRedirectClient(t), s.AuthorizationEndpoint()+"?"+p.Encode())
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("unknown client: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("client id not escaped: %s", body)
	}
	p = authParams(s)
	p.Del("redirect_uri") // the default client has no registered URI to fall back on
	resp, _ = get(t, noRedirectClient(t), s.AuthorizationEndpoint()+"?"+p.Encode())
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("missing redirect_uri: %d", resp.StatusCode)
	}
}

func TestAuthorizeErrorsRedirect(t *testing.T) {
	s := newTestServer(t, Config{})
	cases := []struct {
		name string
		edit func(url.Values)
		code string
	}{
		{"no challenge", func(p url.Values) { p.Del("code_challenge") }, "invalid_request"},
		{"plain", func(p url.Values) { p.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"no method", func(p url.Values) { p.Del("code_challenge_method") }, "invalid_request"},
		{"bad challenge", func(p url.Values) { p.Set("code_challenge", "short") }, "invalid_request"},
		{"unknown scope", func(p url.Values) { p.Set("scope", "read admin") }, "invalid_scope"},
		{"token flow", func(p url.Values) { p.Set("response_type", "token") }, "unsupported_response_type"},
		{"no response_type", func(p url.Values) { p.Del("response_type") }, "invalid_request"},
		{"repeated state", func(p url.Values) { p.Add("state", "x") }, "invalid_request"},
		{"bad resource", func(p url.Values) { p.Set("resource", "/relative") }, "invalid_target"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := authParams(s)
			tc.edit(p)
			q := authorize(t, s, p)
			if q.Get("error") != tc.code || q.Has("code") {
				t.Fatalf("got %v, want error %s", q, tc.code)
			}
			if q.Get("iss") != s.Issuer() || q.Get("error_description") == "" {
				t.Errorf("redirect lacks iss or description: %v", q)
			}
			if tc.name != "repeated state" && q.Get("state") != "st4te" {
				t.Errorf("state not echoed: %v", q)
			}
		})
	}
}

func TestAuthorizeClientScopes(t *testing.T) {
	s := newTestServer(t, Config{Clients: []Client{{ID: "narrow", Scopes: []string{"read"}}}})
	p := authParams(s)
	p.Set("scope", "read")
	if q := authorize(t, s, p); q.Get("code") == "" {
		t.Fatalf("allowed scope refused: %v", q)
	}
	p.Set("scope", "read write")
	if q := authorize(t, s, p); q.Get("error") != "invalid_scope" {
		t.Fatalf("scope outside the client's: %v", q)
	}
}

func TestDenyNext(t *testing.T) {
	s := newTestServer(t, Config{})
	s.DenyNext("access_denied", "user said no")
	s.DenyNext("temporarily_unavailable", "")
	q := authorize(t, s, authParams(s))
	if q.Get("error") != "access_denied" || q.Get("error_description") != "user said no" || q.Get("state") != "st4te" {
		t.Fatalf("first: %v", q)
	}
	if q := authorize(t, s, authParams(s)); q.Get("error") != "temporarily_unavailable" {
		t.Fatalf("second: %v", q)
	}
	if q := authorize(t, s, authParams(s)); q.Get("code") == "" {
		t.Fatalf("third: %v", q)
	}
}

func TestAuthorizeFormPost(t *testing.T) {
	s := newTestServer(t, Config{})
	p := authParams(s)
	p.Set("response_mode", "form_post")
	p.Set("state", `a"b<c>&d`)
	resp, body := get(t, noRedirectClient(t), s.AuthorizationEndpoint()+"?"+p.Encode())
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d type %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(body, `action="http://127.0.0.1:5555/callback"`) || !strings.Contains(body, `name="code"`) {
		t.Errorf("form: %s", body)
	}
	if strings.Contains(body, `a"b<c>`) {
		t.Errorf("state not escaped: %s", body)
	}
}

func TestAuthorizeRedirectURIFallback(t *testing.T) {
	s := newTestServer(t, Config{Clients: []Client{{ID: "one", RedirectURIs: []string{"https://app.example/cb?x=1"}}}})
	p := authParams(s)
	p.Del("redirect_uri")
	resp, _ := get(t, noRedirectClient(t), s.AuthorizationEndpoint()+"?"+p.Encode())
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Host != "app.example" || loc.Query().Get("x") != "1" || loc.Query().Get("code") == "" {
		t.Fatalf("%d %s", resp.StatusCode, loc)
	}
	// The token request must then omit redirect_uri as well.
	res := postForm(t, s.TokenEndpoint(), url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"client_id": {"one"}, "code_verifier": {testVerifier},
	}, nil)
	if res.status != http.StatusOK {
		t.Fatalf("exchange: %d %v", res.status, res.body)
	}
}

// With ExactRedirectURIs, a loopback redirect URI matches only as it was
// registered: the same port, or no port.
func TestAuthorizeExactRedirectURIs(t *testing.T) {
	s := newTestServer(t, Config{ExactRedirectURIs: true, Clients: []Client{{
		ID:           "c1",
		RedirectURIs: []string{"http://127.0.0.1:4321/cb", "http://localhost/cb"},
	}}})
	for _, ru := range []string{"http://127.0.0.1:4321/cb", "http://localhost/cb"} {
		p := authParams(s)
		p.Set("client_id", "c1")
		p.Set("redirect_uri", ru)
		if q := authorize(t, s, p); q.Get("code") == "" {
			t.Errorf("%s: no code: %v", ru, q)
		}
	}
	for _, ru := range []string{"http://127.0.0.1:4322/cb", "http://127.0.0.1/cb", "http://localhost:80/cb", "http://localhost:5000/cb"} {
		p := authParams(s)
		p.Set("client_id", "c1")
		p.Set("redirect_uri", ru)
		resp, body := get(t, noRedirectClient(t), s.AuthorizationEndpoint()+"?"+p.Encode())
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, "not registered") {
			t.Errorf("%s: status %d Location %q, want the error page", ru, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}
