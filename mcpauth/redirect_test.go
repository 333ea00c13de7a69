package mcpauth_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/authloop/authloop/mcpauth"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// An MCP server that redirects to another origin (an open redirect, a
// hostile server): the client follows it through the RoundTripper, which
// must not add the token there, nor authorize on that origin's 401 (the
// shape of GO-2026-6911 in mcp-go's own client). A redirect within the
// origin keeps the token.
func TestTransportRedirectElsewhereCarriesNoToken(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	ctx := testContext(t)
	s := f.session(f.as.ResourceEndpoint(), store.NewMemory(), true)
	if _, err := s.Login(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var evilAuth []string
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		evilAuth = append(evilAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer evil.Close()
	mcp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hop":
			http.Redirect(w, r, "/ok", http.StatusTemporaryRedirect)
			return
		case "/ok":
			if r.Header.Get("Authorization") != "Bearer "+s.Cached().AccessToken {
				w.WriteHeader(http.StatusUnauthorized)
			}
			return
		}
		http.Redirect(w, r, evil.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer mcp.Close()
	c := mcpauth.HTTPClient(s, nil)
	defer c.CloseIdleConnections()
	logins, tokens := f.as.Count("authorize"), f.as.Count("token")
	for _, p := range []string{"/mcp", "/hop"} {
		resp, err := c.Get(mcp.URL + p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if p == "/hop" && resp.StatusCode != http.StatusOK {
			t.Errorf("a redirect within an origin lost the token: status %d", resp.StatusCode)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(evilAuth) != 1 || evilAuth[0] != "" {
		t.Errorf("the other origin got %d requests, the first with an Authorization header of %d bytes", len(evilAuth), len(evilAuth[0]))
	}
	if f.as.Count("authorize") != logins || f.as.Count("token") != tokens {
		t.Error("the other origin's 401 started an authorization")
	}
}
