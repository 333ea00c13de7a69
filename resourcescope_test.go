package authloop

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// resourceSignInScope signs in for a protected resource whose metadata
// lists scopesSupported (nil: none), at an authorization server that lists
// offline_access, with no scopes configured, and returns the scope
// parameter of the authorization request, and whether it had one.
func resourceSignInScope(t *testing.T, scopesSupported []string) (string, bool) {
	t.Helper()
	srv := oauthtest.NewServer(oauthtest.Config{})
	t.Cleanup(srv.Close)
	var rs *httptest.Server
	rs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/.well-known/oauth-protected-resource") {
			http.NotFound(w, r)
			return
		}
		md := map[string]any{"resource": rs.URL + "/mcp", "authorization_servers": []string{srv.Issuer()}}
		if scopesSupported != nil {
			md["scopes_supported"] = scopesSupported
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(md)
	}))
	t.Cleanup(rs.Close)
	b := &approvingBrowser{}
	t.Cleanup(b.wg.Wait)
	s, err := NewSession(resourceConfig(srv, rs.URL+"/mcp", b.open), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Login(context.Background()); err != nil {
		t.Fatalf("sign-in: %v", err)
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
	q := u.Query()
	return q.Get("scope"), q.Has("scope")
}

// For a protected resource, with no scopes configured, the sign-in asks
// for the resource's scopes_supported plus offline_access when the
// authorization server lists it (MCP): without it, many servers issue no
// refresh token, and the session would need a login every hour.
func TestResourceSignInAddsOfflineAccess(t *testing.T) {
	if sc, _ := resourceSignInScope(t, []string{"read"}); sc != "read offline_access" {
		t.Fatalf("scope %q, want %q", sc, "read offline_access")
	}
}

// For a protected resource that names no scopes, the sign-in sends no
// scope at all (MCP: omit it, and the server grants its default), not
// offline_access alone, which a server that grants what is asked would
// take for a grant of no resource scope.
func TestResourceSignInWithoutScopesSendsNone(t *testing.T) {
	if sc, has := resourceSignInScope(t, nil); has {
		t.Fatalf("scope %q sent, want no scope parameter", sc)
	}
}
