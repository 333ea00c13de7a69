package authloop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// A 401's challenge guides the next sign-in (RFC 9728 §5.1, the MCP
// authorization spec): its resource_metadata URL is where the resource's
// metadata is found when the well-known URLs have none, and its scope is
// what the sign-in asks for, over the metadata's scopes_supported. A later
// 401 that names no scope does not make the session forget the scope an
// earlier one asked for.
func TestChallengeGuidesSignIn(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	var rs *httptest.Server
	rs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/meta/mcp" { // not a well-known URL
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"resource": rs.URL + "/mcp", "authorization_servers": []string{srv.Issuer()}, "scopes_supported": []string{"read"}})
	}))
	defer rs.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(bctx context.Context, u string) error {
		if !strings.HasPrefix(u, srv.Issuer()+"/") {
			t.Errorf("authorization request to %s, want one to the authorization server the challenge's metadata names (%s)", u, srv.Issuer())
			cancel() // no one will sign in there
			return errors.New("not the authorization server")
		}
		return b.open(bctx, u)
	}
	cfg := resourceConfig(srv, rs.URL+"/mcp", open)
	cfg.Interactive = false // the 401s only note their challenges
	s, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	challenge := func(h string) {
		t.Helper()
		resp := &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{"Www-Authenticate": {h}}, Body: http.NoBody}
		if err := s.Authorize(context.Background(), nil, resp); !errors.Is(err, ErrLoginRequired) {
			t.Fatalf("Authorize on a 401 without a token, not interactive: %v, want ErrLoginRequired", err)
		}
	}
	challenge(`Bearer resource_metadata="` + rs.URL + `/meta/mcp", scope="read write"`)
	challenge(`Bearer resource_metadata="` + rs.URL + `/meta/mcp"`)
	if _, err := s.Login(ctx); err != nil {
		t.Fatalf("sign-in with the metadata the challenge pointed at: %v", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.urls) != 1 {
		t.Fatalf("%d authorization requests, want 1", len(b.urls))
	}
	u, err := url.Parse(b.urls[0])
	if err != nil {
		t.Fatal(err)
	}
	if sc := strings.Fields(u.Query().Get("scope")); !slices.Contains(sc, "read") || !slices.Contains(sc, "write") {
		t.Errorf("scope %v: want the challenge's scope (read write), not only the metadata's scopes_supported", sc)
	}
}

// After the refresh that Authorize's blind retries ended in (a 401 for a
// token it was not told), a 401 that may have been for the old token
// (a request sent before the refresh finished) is answered with "retry
// with the new token", not with a second refresh: the count of blind
// retries starts again with each new token.
func TestUnauthorizedUnknownTokenRetriesEachNewTokenFirst(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	refused := func() *http.Response {
		return &http.Response{StatusCode: 401, Header: http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}, Body: http.NoBody}
	}
	for tries := 0; f.refreshes() == 0; tries++ {
		if tries > maxBlindRetries+1 {
			t.Fatalf("no refresh after %d refusals of the session's token", tries)
		}
		if err := s.Authorize(context.Background(), nil, refused()); err != nil {
			t.Fatalf("Authorize: %v", err)
		}
	}
	refreshed := s.Cached()
	if err := s.Authorize(context.Background(), nil, refused()); err != nil {
		t.Fatalf("Authorize after the refresh: %v", err)
	}
	if n := f.refreshes(); n != 1 || s.Cached() != refreshed {
		t.Fatalf("%d refreshes: a 401 for an unknown token right after a refresh refreshed again, want the new token retried first", n)
	}
}

// A server that answers each new token with a 403 for yet another scope
// gets at most maxStepUps new sign-ins from a session; the next refusal is
// an error that says the session gave up, and opens no browser.
func TestStepUpsAreBounded(t *testing.T) {
	f := newFixture(t, oauthtest.Config{Scopes: []string{"openid", "offline_access", "more0", "more1", "more2", "more3"}}, true)
	f.cfg.Interactive = true
	s := f.session()
	opened := func() int {
		f.b.mu.Lock()
		defer f.b.mu.Unlock()
		return len(f.b.urls)
	}
	before := opened()
	for i := 0; ; i++ {
		req, _ := http.NewRequest(http.MethodGet, f.srv.ResourceEndpoint(), nil)
		s.Cached().SetAuthHeader(req)
		err := s.Authorize(context.Background(), req, insufficientScope(fmt.Sprintf("more%d", i)))
		if i == maxStepUps {
			if err == nil || !strings.Contains(err.Error(), "giving up") {
				t.Fatalf("refusal %d, after %d step-ups: %v, want the session to give up", i+1, maxStepUps, err)
			}
			break
		}
		if err != nil {
			t.Fatalf("step-up %d: %v", i+1, err)
		}
	}
	if n := opened() - before; n != maxStepUps {
		t.Fatalf("%d sign-ins for step-ups, want %d", n, maxStepUps)
	}
}

// prmServer is a protected resource at /mcp whose RFC 9728 metadata is
// served at the well-known URL only, naming servers as its authorization
// servers.
func prmServer(t *testing.T, servers []string) *httptest.Server {
	var rs *httptest.Server
	rs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/oauth-protected-resource/mcp" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"resource": rs.URL + "/mcp", "authorization_servers": servers, "scopes_supported": []string{"read"}})
	}))
	t.Cleanup(rs.Close)
	return rs
}

// A challenge's resource_metadata URL that fails (404) is not the end: the
// well-known URLs are tried, and the sign-in goes ahead with what they
// serve.
func TestFailedChallengeMetadataFallsBackToWellKnown(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	rs := prmServer(t, []string{srv.Issuer()})
	b := &approvingBrowser{}
	defer b.wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(bctx context.Context, u string) error {
		if !strings.HasPrefix(u, srv.Issuer()+"/") {
			t.Errorf("authorization request to %s, want one to %s", u, srv.Issuer())
			cancel() // no one will sign in there
			return errors.New("not the authorization server")
		}
		return b.open(bctx, u)
	}
	cfg := resourceConfig(srv, rs.URL+"/mcp", open)
	cfg.Interactive = false
	s, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp := &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{"Www-Authenticate": {`Bearer resource_metadata="` + rs.URL + `/gone"`}}, Body: http.NoBody}
	if err := s.Authorize(ctx, nil, resp); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("Authorize: %v, want ErrLoginRequired", err)
	}
	if _, err := s.Login(ctx); err != nil {
		t.Fatalf("sign-in after a challenge whose metadata URL failed: %v", err)
	}
}
