package mcpauth_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/mcpauth"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// The RoundTripper against oauthtest's own protected resource: the first
// request goes without a token, its 401 leads to one login, the retry
// carries the new token; the caller's request is left as it was.
func TestTransportFirstRequestSignsIn(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	ctx := testContext(t)
	s := f.session(f.as.ResourceEndpoint(), store.NewMemory(), true)
	c := mcpauth.HTTPClient(s, nil)
	defer c.CloseIdleConnections()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.as.ResourceEndpoint(), strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Caller", "kept")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d (%s), want 200", resp.StatusCode, body)
	}
	if req.Header.Get("Authorization") != "" || req.Header.Get("X-Caller") != "kept" {
		t.Errorf("the caller's request was modified: %v", req.Header)
	}
	if n := f.as.Count("authorize"); n != 1 {
		t.Errorf("authorize requests = %d, want 1", n)
	}
	if n := f.as.Count("resource"); n != 2 {
		t.Errorf("resource requests = %d, want 2 (without a token, then with one)", n)
	}
}

// A refusal the transport must not handle: a 403 that is not about scope
// comes back to the caller as it was, body included, and so does a 401 for
// a request whose body cannot be sent again.
func TestTransportPassesOtherRefusals(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/forbidden":
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "not yours", http.StatusForbidden)
		default:
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+"http://"+r.Host+`/.well-known/oauth-protected-resource"`)
			http.Error(w, "sign in", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	f := newFixture(t, oauthtest.Config{})
	s := f.session(srv.URL, store.NewMemory(), true)
	c := mcpauth.HTTPClient(s, nil)
	defer c.CloseIdleConnections()

	resp, err := c.Get(srv.URL + "/forbidden")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "not yours") {
		t.Errorf("got %d %q, want the server's 403 and its body", resp.StatusCode, body)
	}

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/once", io.NopCloser(strings.NewReader("x")))
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want the 401 of a request that cannot be replayed", resp.StatusCode)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("server hits = %d, want 2 (no retries)", n)
	}
	if n := f.as.Count("authorize"); n != 0 {
		t.Errorf("authorize requests = %d, want 0", n)
	}
}

// When Authorize cannot help (a session that may not sign in), the round
// trip fails with an error wrapping authloop.ErrLoginRequired.
func TestTransportLoginRequired(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	ctx := testContext(t)
	s := f.session(f.as.ResourceEndpoint(), store.NewMemory(), false)
	c := mcpauth.HTTPClient(s, nil)
	defer c.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.as.ResourceEndpoint()+"?secret=x", nil)
	_, err := c.Do(req)
	if !errors.Is(err, authloop.ErrLoginRequired) {
		t.Fatalf("Do: %v; want an error wrapping ErrLoginRequired", err)
	}
	// http.Client's *url.Error names the URL; the transport's own error
	// leaves the query out, where secrets may ride.
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "secret=x") {
		t.Errorf("the transport's error shows the query: %v", ue.Err)
	}
}
