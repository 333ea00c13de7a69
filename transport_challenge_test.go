package authloop

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// The Transport with ChallengeDriven set (what mcpauth.Transport returns):
// the resource server's challenges drive the authorization.

// authRecorder is a resource server that records the Authorization header
// of every request and answers with reply.
type authRecorder struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string
}

func newAuthRecorder(t *testing.T, reply http.HandlerFunc) *authRecorder {
	t.Helper()
	r := &authRecorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.auth = append(r.auth, req.Header.Get("Authorization"))
		r.mu.Unlock()
		reply(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *authRecorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auth...)
}

func challengeClient(s *Session) *http.Client {
	return &http.Client{Transport: &Transport{Session: s, ChallengeDriven: true}}
}

func always(status int, challenge, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if challenge != "" {
			w.Header().Set("WWW-Authenticate", challenge)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// A session without a token sends the first request without one (the
// caller's own Authorization header removed, the caller's request left as
// it was); the server's 401 leads, through Authorize, to discovery and
// one login, and the request is sent again with the new token.
func TestChallengeDrivenFirstRequestWithoutToken(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{JWTAccessTokens: true})
	defer srv.Close()
	rs, _ := stepUpServer(t, srv)
	var mu sync.Mutex
	var seen []string
	rec := &recordingRT{base: http.DefaultTransport, on: func(r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
	}}
	b := &approvingBrowser{}
	defer b.wg.Wait()
	s := mcpSession(t, srv, rs, b.open)
	c := &http.Client{Transport: &Transport{Session: s, Base: rec, ChallengeDriven: true}}
	defer c.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, rs.URL+"/mcp", nil)
	req.Header.Set("Authorization", "Bearer the-callers-own")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "" || seen[1] != "Bearer "+s.Cached().AccessToken {
		t.Errorf("the resource saw %d requests, want twice: none, then the new token", len(seen))
	}
	if n := srv.Count("authorize"); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
	if req.Header.Get("Authorization") != "Bearer the-callers-own" {
		t.Error("the caller's request was modified")
	}
}

// recordingRT calls on with each request it sends.
type recordingRT struct {
	base   http.RoundTripper
	on     func(*http.Request)
	closed int
}

func (r *recordingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.on(req)
	return r.base.RoundTrip(req)
}

func (r *recordingRT) CloseIdleConnections() { r.closed++ }

// A 401 for the session's token: Authorize refreshes once, and the request
// is sent again, once, with the new token; a server that still refuses it
// gets no third request, and the caller sees its 401.
func TestChallengeDriven401RetriesOnce(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	rs := newAuthRecorder(t, always(http.StatusUnauthorized, `Bearer error="invalid_token"`, "refused"))
	resp, err := challengeClient(s).Post(rs.URL, "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want the server's 401", resp.StatusCode)
	}
	seen := rs.seen()
	if len(seen) != 2 {
		t.Fatalf("%d requests, want 2 (one retry)", len(seen))
	}
	if seen[0] != "Bearer "+f.tok.AccessToken || seen[1] != "Bearer "+s.Cached().AccessToken || seen[0] == seen[1] {
		t.Error("want the first request with the old token, the retry with the refreshed one")
	}
	if f.refreshes() != 1 {
		t.Errorf("%d refreshes, want 1", f.refreshes())
	}
}

// A 403 with error="insufficient_scope" goes to Authorize's step-up: a
// new authorization asking for the challenged scopes, then the request
// again (its body replayed).
func TestChallengeDrivenInsufficientScopeStepsUp(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{JWTAccessTokens: true})
	defer srv.Close()
	rs, forbidden := stepUpServer(t, srv)
	b := &approvingBrowser{}
	defer b.wg.Wait()
	s := mcpSession(t, srv, rs, b.open)
	c := challengeClient(s)
	defer c.CloseIdleConnections()
	// GET needs "read": a 401, the login. POST needs "read write": a 403,
	// the step-up.
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, rs.URL+"/mcp", strings.NewReader(`{}`))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d, want 200", method, resp.StatusCode)
		}
	}
	if n := forbidden.Load(); n != 1 {
		t.Errorf("%d 403s, want 1", n)
	}
	if n := srv.Count("authorize"); n != 2 {
		t.Errorf("%d authorizations, want 2 (the login, the step-up)", n)
	}
}

// A 403 that is not about scope comes back as it came, body included: no
// Authorize, no retry.
func TestChallengeDrivenOther403Returned(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	rs := newAuthRecorder(t, always(http.StatusForbidden, `Bearer error="invalid_token"`, "not yours"))
	resp, err := challengeClient(s).Get(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || string(body) != "not yours" {
		t.Errorf("got %d %q, want the server's 403 and its body", resp.StatusCode, body)
	}
	if n := len(rs.seen()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if f.refreshes() != 0 {
		t.Errorf("%d refreshes, want none", f.refreshes())
	}
}

// A 401 for a request whose body cannot be sent again comes back as it
// came: no Authorize, no retry.
func TestChallengeDrivenUnreplayableBodyNotRetried(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	rs := newAuthRecorder(t, always(http.StatusUnauthorized, `Bearer error="invalid_token"`, "refused"))
	req, _ := http.NewRequest(http.MethodPost, rs.URL, io.NopCloser(strings.NewReader("once")))
	resp, err := challengeClient(s).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || string(body) != "refused" {
		t.Errorf("got %d %q, want the server's 401 and its body", resp.StatusCode, body)
	}
	if n := len(rs.seen()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if f.refreshes() != 0 {
		t.Errorf("%d refreshes, want none", f.refreshes())
	}
}

// A redirect to another origin is followed without the token, and that
// origin's 401 starts no authorization; a redirect within the origin
// keeps the token.
func TestChallengeDrivenRedirectElsewhereCarriesNoToken(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	evil := newAuthRecorder(t, always(http.StatusUnauthorized, `Bearer error="invalid_token"`, ""))
	api := newAuthRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/elsewhere":
			http.Redirect(w, r, evil.URL+"/steal", http.StatusTemporaryRedirect)
		case "/hop":
			http.Redirect(w, r, "/ok", http.StatusFound)
		}
	})
	c := challengeClient(s)
	defer c.CloseIdleConnections()
	for _, p := range []string{"/elsewhere", "/hop"} {
		resp, err := c.Get(api.URL + p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		resp.Body.Close()
	}
	if got := evil.seen(); len(got) != 1 || got[0] != "" {
		t.Errorf("the other origin got %d requests, want 1 without a token", len(got))
	}
	if got := api.seen(); len(got) != 3 || got[2] != "Bearer "+f.tok.AccessToken {
		t.Errorf("the api got %d requests, want 3, the hop within the origin with the token", len(got))
	}
	if f.refreshes() != 0 || f.srv.Count("authorize") != 1 {
		t.Error("the other origin's 401 started an authorization")
	}
}

// A session whose grant died and that may not sign in again sends the
// request without a token; the 401's Authorize fails, and so does the
// round trip, with an error that wraps ErrLoginRequired and names the
// method, the status and the URL without its query.
func TestChallengeDrivenDeadGrantSendsNone(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	f.srv.RevokeAll()
	f.clock.Advance(2 * time.Hour) // the access token expired; its refresh will fail
	rs := newAuthRecorder(t, always(http.StatusUnauthorized, `Bearer error="invalid_token"`, ""))
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, rs.URL+"/x?secret=s3cr3t", nil)
	_, err := (&Transport{Session: s, ChallengeDriven: true}).RoundTrip(req)
	if !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("RoundTrip: %v; want an error wrapping ErrLoginRequired", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "GET "+rs.URL+"/x:") || !strings.Contains(msg, "401") || strings.Contains(msg, "s3cr3t") {
		t.Errorf("error %q: want the method, the URL without its query, the status", msg)
	}
	if got := rs.seen(); len(got) != 1 || got[0] != "" {
		t.Errorf("the resource got %d requests, want 1 without a token", len(got))
	}
}

// http.Client.CloseIdleConnections reaches the base transport.
func TestTransportCloseIdleConnections(t *testing.T) {
	for _, cd := range []bool{false, true} {
		base := &recordingRT{base: http.DefaultTransport, on: func(*http.Request) {}}
		c := &http.Client{Transport: &Transport{Base: base, ChallengeDriven: cd}}
		c.CloseIdleConnections()
		if base.closed != 1 {
			t.Errorf("ChallengeDriven %v: the base's CloseIdleConnections called %d times, want 1", cd, base.closed)
		}
	}
}
