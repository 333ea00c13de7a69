package authloop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// resourceConfig is a session configuration that names only a protected
// resource: everything else is discovered.
func resourceConfig(srv *oauthtest.Server, resource string, b Browser) *Config {
	return &Config{
		OAuth2:       &oauth2.Config{ClientID: srv.ClientID()},
		Resource:     resource,
		Interactive:  true,
		Browser:      b,
		Prompt:       discardWriter{},
		LoginTimeout: time.Minute,
	}
}

// With only the resource configured, the session finds its authorization
// server (RFC 9728, then RFC 8414), asks for the resource's scopes with the
// resource parameter, and logs in on the first request.
func TestResourceModeDiscoversAndLogsIn(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{JWTAccessTokens: true})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	s, err := NewSession(resourceConfig(srv, srv.ResourceEndpoint(), b.open), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := s.Client(context.Background()).Get(srv.ResourceEndpoint())
	if err == nil {
		resp.Body.Close()
	}
	// Token first: the client's transport has no token yet.
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !audienceContains(jwtClaims(t, tok.AccessToken)["aud"], srv.ResourceEndpoint()) {
		t.Fatal("the token is not for the resource (RFC 8707)")
	}
	u, _ := url.Parse(b.urls[0])
	if got := u.Query().Get("resource"); got != srv.ResourceEndpoint() {
		t.Errorf("resource parameter %q, want %q", got, srv.ResourceEndpoint())
	}
	if sc := strings.Fields(u.Query().Get("scope")); !slices.Contains(sc, "read") || !slices.Contains(sc, "offline_access") {
		t.Errorf("scope %v: want the resource's scopes_supported, with offline_access", sc)
	}
	resp, err = s.Client(context.Background()).Get(srv.ResourceEndpoint())
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("call with the token: %v %v", resp, err)
	}
	resp.Body.Close()
}

// Authorize after a 401 for the current token refreshes once; for a token
// already replaced it does nothing.
func TestAuthorizeOn401(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	req, _ := http.NewRequest(http.MethodGet, f.srv.ResourceEndpoint(), nil)
	req.Header.Set("Authorization", "Bearer "+f.tok.AccessToken)
	resp := &http.Response{StatusCode: 401, Header: http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}, Body: http.NoBody}
	if err := s.Authorize(context.Background(), req, resp); err != nil {
		t.Fatal(err)
	}
	if f.refreshes() != 1 {
		t.Fatalf("%d refreshes, want 1", f.refreshes())
	}
	// The same stale 401 again: the token has changed since; no request.
	if err := s.Authorize(context.Background(), req, resp); err != nil {
		t.Fatal(err)
	}
	if f.refreshes() != 1 {
		t.Fatalf("a 401 for a replaced token refreshed again")
	}
}

// stepUpServer is an MCP-like resource: GET needs "read", POST "read write";
// a token without them gets 403 insufficient_scope naming the scopes.
func stepUpServer(t *testing.T, srv *oauthtest.Server) (*httptest.Server, *atomic.Int32) {
	var forbidden atomic.Int32
	var rs *httptest.Server
	rs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/oauth-protected-resource/mcp" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"resource": rs.URL + "/mcp", "authorization_servers": []string{srv.Issuer()}, "scopes_supported": []string{"read"}})
			return
		}
		tok := bearerOf(r.Header.Get("Authorization"))
		if tok == "" || !srv.ValidAccessToken(tok) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer resource_metadata="%s/.well-known/oauth-protected-resource/mcp"`, rs.URL))
			w.WriteHeader(401)
			return
		}
		need := []string{"read"}
		if r.Method == http.MethodPost {
			need = []string{"read", "write"}
		}
		claims := map[string]any{}
		parts := strings.Split(tok, ".")
		if len(parts) == 3 {
			claims = jwtClaims(t, tok)
		}
		if !covers(claims["scope"], need) {
			forbidden.Add(1)
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="insufficient_scope", scope="%s", resource_metadata="%s/.well-known/oauth-protected-resource/mcp"`, strings.Join(need, " "), rs.URL))
			w.WriteHeader(403)
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(rs.Close)
	return rs, &forbidden
}

// callWithCached sends a request with the session's cached token, if any,
// as a client would before it knows the token is refused. The body is
// closed; the status and headers stay readable.
func callWithCached(t *testing.T, s *Session, method, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if tok := s.Cached(); tok != nil {
		tok.SetAuthHeader(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestAuthorizeStepUp(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{JWTAccessTokens: true})
	defer srv.Close()
	rs, forbidden := stepUpServer(t, srv)
	b := &approvingBrowser{}
	defer b.wg.Wait()
	s := mcpSession(t, srv, rs, b.open)
	ctx := context.Background()
	// First request without a token: 401 → discovery and login with the
	// resource's scopes.
	do := func(method string) *http.Response { return callWithCached(t, s, method, rs.URL+"/mcp") }
	resp := do(http.MethodGet)
	if resp.StatusCode != 401 {
		t.Fatalf("first call: HTTP %d", resp.StatusCode)
	}
	if err := s.Authorize(ctx, resp.Request, resp); err != nil {
		t.Fatal(err)
	}
	if resp := do(http.MethodGet); resp.StatusCode != 200 {
		t.Fatalf("GET after login: HTTP %d", resp.StatusCode)
	}
	// POST needs write: 403 → step-up with read and write.
	resp = do(http.MethodPost)
	if resp.StatusCode != 403 {
		t.Fatalf("POST before step-up: HTTP %d", resp.StatusCode)
	}
	if err := s.Authorize(ctx, resp.Request, resp); err != nil {
		t.Fatal(err)
	}
	if resp := do(http.MethodPost); resp.StatusCode != 200 {
		t.Fatalf("POST after step-up: HTTP %d", resp.StatusCode)
	}
	last, _ := url.Parse(b.urls[len(b.urls)-1])
	if sc := strings.Fields(last.Query().Get("scope")); !slices.Contains(sc, "read") || !slices.Contains(sc, "write") {
		t.Fatalf("step-up asked for %v, want read and write", sc)
	}
	if forbidden.Load() != 1 {
		t.Fatalf("%d 403s", forbidden.Load())
	}
}

// A server that keeps refusing after a step-up does not make the session
// loop.
func TestAuthorizeStepUpRetryLimit(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Interactive = true // a step-up signs in
	s := f.session()
	// Each request carries the session's current token, which after the
	// step-up holds the scope; the server refuses it all the same.
	refused := func() (*http.Request, *http.Response) {
		req, _ := http.NewRequest(http.MethodGet, f.srv.ResourceEndpoint(), nil)
		s.Cached().SetAuthHeader(req)
		return req, insufficientScope("write")
	}
	logins := f.srv.Count("authorize")
	var err error
	for range 5 {
		req, resp := refused()
		if err = s.Authorize(context.Background(), req, resp); err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "insufficient scope") {
		t.Fatalf("got %v, want the step-up to give up", err)
	}
	if n := f.srv.Count("authorize") - logins; n > 1 {
		t.Fatalf("%d step-up logins for the same scopes, want at most 1", n)
	}
}

// No client configured: the session registers one (RFC 7591), keeps it in
// the record, and a restarted session reuses it.
func TestResourceModeRegistersClient(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	dir := t.TempDir()
	cfg := resourceConfig(srv, srv.ResourceEndpoint(), b.open)
	cfg.OAuth2.ClientID = ""
	cfg.Store = fileStore(t, dir)
	s, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if srv.Count("register") != 1 || !srv.ValidAccessToken(tok.AccessToken) {
		t.Fatalf("registrations %d, token valid %v", srv.Count("register"), srv.ValidAccessToken(tok.AccessToken))
	}
	s2, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if srv.Count("register") != 1 || srv.Count("authorize") != 1 {
		t.Fatalf("a restarted session registered or logged in again: %d registrations, %d logins", srv.Count("register"), srv.Count("authorize"))
	}
}

// Resource metadata that names another resource is an error: never a
// reason to fall back to the resource's origin as the authorization
// server, which would then receive an authorization request.
func TestResourceMetadataMismatchIsAnError(t *testing.T) {
	var originHits atomic.Int32
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/oauth-protected-resource") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"resource":"https://evil.example.com/mcp","authorization_servers":["https://evil.example.com"]}`))
			return
		}
		originHits.Add(1)
		w.WriteHeader(404)
	}))
	defer rs.Close()
	cfg := &Config{OAuth2: &oauth2.Config{}, Resource: rs.URL + "/mcp", Browser: NoBrowser, Prompt: discardWriter{}}
	_, err := Login(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "unusable") {
		t.Fatalf("got %v, want the resource metadata refused", err)
	}
	if originHits.Load() != 0 {
		t.Fatalf("the origin was asked %d times after the metadata was refused", originHits.Load())
	}
}

// insufficientScope is a resource server's 403 asking for scope (RFC 6750
// §3.1), as Authorize receives it.
func insufficientScope(scope string) *http.Response {
	return &http.Response{StatusCode: http.StatusForbidden, Header: http.Header{"Www-Authenticate": {`Bearer error="insufficient_scope", scope="` + scope + `"`}}, Body: http.NoBody}
}

func withRequest(resp *http.Response, req *http.Request) *http.Response {
	resp.Request = req
	return resp
}

// mcpSession is a session for the MCP server rs (its /mcp endpoint), whose
// authorization server is srv, signing in with open; closed at the test's
// end.
func mcpSession(t *testing.T, srv *oauthtest.Server, rs *httptest.Server, open Browser) *Session {
	t.Helper()
	s, err := NewSession(resourceConfig(srv, rs.URL+"/mcp", open), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
