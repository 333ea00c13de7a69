package oauthtest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testRedirect = "http://127.0.0.1:5555/callback"

// newTestServer starts a server that the test's cleanup closes.
func newTestServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s := NewServer(cfg)
	t.Cleanup(s.Close)
	return s
}

// noRedirectClient returns a client that does not follow redirects and
// whose idle connections are closed after the test.
func noRedirectClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

const testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-extra-chars"

// authParams returns a valid authorization request for the default client.
func authParams(s *Server) url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {s.ClientID()},
		"redirect_uri":          {testRedirect},
		"state":                 {"st4te"},
		"scope":                 {"openid read offline_access"},
		"code_challenge":        {challengeOf(testVerifier)},
		"code_challenge_method": {"S256"},
	}
}

// get sends a GET and returns the response with its body read.
func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// authorize sends an authorization request and returns the redirect
// target's query. It fails the test unless the answer is a 302.
func authorize(t *testing.T, s *Server, params url.Values) url.Values {
	t.Helper()
	resp, body := get(t, noRedirectClient(t), s.AuthorizationEndpoint()+"?"+params.Encode())
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302; body %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}

// getCode runs a successful authorization request and returns the code.
func getCode(t *testing.T, s *Server, params url.Values) string {
	t.Helper()
	q := authorize(t, s, params)
	code := q.Get("code")
	if code == "" {
		t.Fatalf("no code in redirect: %v", q)
	}
	return code
}

// tokenResult is a decoded token-endpoint answer.
type tokenResult struct {
	status int
	header http.Header
	body   map[string]any
}

func (r tokenResult) str(k string) string {
	s, _ := r.body[k].(string)
	return s
}

// postForm posts form to u; auth, if set, adjusts the request (e.g. Basic).
func postForm(t *testing.T, u string, form url.Values, auth func(*http.Request)) tokenResult {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != nil {
		auth(req)
	}
	resp, err := noRedirectClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	res := tokenResult{status: resp.StatusCode, header: resp.Header}
	_ = json.Unmarshal(b, &res.body) // nil for a body that is not JSON
	return res
}

// redeem redeems code for the default (public) client.
func redeem(t *testing.T, s *Server, code string) tokenResult {
	t.Helper()
	return postForm(t, s.TokenEndpoint(), url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {testRedirect},
		"client_id":     {s.ClientID()},
		"code_verifier": {testVerifier},
	}, nil)
}

// login runs authorize + exchange and returns the token response.
func login(t *testing.T, s *Server) tokenResult {
	t.Helper()
	res := redeem(t, s, getCode(t, s, authParams(s)))
	if res.status != http.StatusOK {
		t.Fatalf("exchange: %d %v", res.status, res.body)
	}
	return res
}

func refresh(t *testing.T, s *Server, rt string, extra url.Values) tokenResult {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {s.ClientID()}}
	for k, v := range extra {
		form[k] = v
	}
	return postForm(t, s.TokenEndpoint(), form, nil)
}

func wantError(t *testing.T, res tokenResult, status int, code string) {
	t.Helper()
	if res.status != status || res.str("error") != code {
		t.Fatalf("got %d %v, want %d error %q", res.status, res.body, status, code)
	}
}
