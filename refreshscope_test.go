package authloop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// scopeOf returns the scope of a token's response, as a sorted list.
func scopeOf(tok interface{ Extra(string) any }) []string {
	s, _ := tok.Extra("scope").(string)
	f := strings.Fields(s)
	slices.Sort(f)
	return f
}

// narrowFixture signs in with openid, offline_access, read and write.
func narrowFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.OAuth2.Scopes = []string{"openid", "offline_access", "read", "write"}
	tok, err := Login(context.Background(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.tok = tok
	return f
}

func refreshRequests(srv *oauthtest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Endpoint == "token" && r.GrantType == "refresh_token" {
			n++
		}
	}
	return n
}

// Without RefreshScopes a refresh keeps the grant's scope; with it, the
// refreshed tokens carry only those scopes, refresh after refresh.
func TestRefreshScopesNarrow(t *testing.T) {
	f := narrowFixture(t)
	want := []string{"offline_access", "openid", "read", "write"}
	tok, err := f.session().Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := scopeOf(tok); !slices.Equal(got, want) {
		t.Fatalf("without RefreshScopes: scope %q, want the grant's %q", got, want)
	}

	f.cfg.RefreshScopes = []string{"read"}
	f.tok = tok
	s := f.session()
	for i := range 2 {
		tok, err = s.Refresh(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := scopeOf(tok); !slices.Equal(got, []string{"read"}) {
			t.Fatalf("refresh %d with RefreshScopes [read]: scope %q", i+1, got)
		}
	}
	if !s.CanRefresh() {
		t.Fatal("narrowed refresh lost the refresh token")
	}
}

// A narrowing the grant does not cover (invalid_scope) fails that refresh
// with an error naming Config.RefreshScopes, is not retried, and keeps the
// refresh token: the grant is fine, the configuration is not.
func TestRefreshScopesBeyondGrantKeepGrant(t *testing.T) {
	f := narrowFixture(t)
	f.cfg.RefreshScopes = []string{"read", "admin"}
	s := f.session()
	before := refreshRequests(f.srv)
	_, err := s.Refresh(context.Background())
	if err == nil {
		t.Fatal("refresh beyond the grant succeeded")
	}
	if errors.Is(err, ErrLoginRequired) {
		t.Fatalf("a refused narrowing was taken for a dead grant: %v", err)
	}
	var oe *OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_scope" {
		t.Fatalf("error %v does not carry the server's invalid_scope", err)
	}
	if !strings.Contains(err.Error(), "Config.RefreshScopes") || !strings.Contains(err.Error(), `"read admin"`) {
		t.Fatalf("error does not name the field and the scope: %v", err)
	}
	if n := refreshRequests(f.srv) - before; n != 1 {
		t.Fatalf("%d refresh requests, want 1 (invalid_scope is not transient)", n)
	}
	if !s.CanRefresh() {
		t.Fatal("the refresh token was dropped")
	}
	// The grant still works: the same refresh token refreshes without the
	// bad narrowing.
	f.cfg.RefreshScopes = nil
	f.tok = s.Cached()
	if _, err := f.session().Refresh(context.Background()); err != nil {
		t.Fatalf("the grant did not survive: %v", err)
	}
}

// tokenRewriter changes every JSON object the token endpoint answers
// with edit: a server that words its answers otherwise.
type tokenRewriter struct {
	base http.RoundTripper
	edit func(map[string]any)
}

func (w tokenRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.base.RoundTrip(r)
	if err != nil || !strings.HasSuffix(r.URL.Path, "/token") {
		return resp, err
	}
	return editJSON(resp, func(m map[string]any) bool { w.edit(m); return true })
}

// editJSON lets edit change the JSON object of resp's body; the body is
// written anew when edit reports a change. A body that is not a JSON
// object is passed on as it came.
func editJSON(resp *http.Response, edit func(map[string]any) bool) (*http.Response, error) {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil && edit(m) {
		body, _ = json.Marshal(m)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// scopeStripper removes scope from token responses, as a server may when
// it grants exactly what was asked (RFC 6749 §5.1).
func scopeStripper(base http.RoundTripper) http.RoundTripper {
	return tokenRewriter{base, func(m map[string]any) { delete(m, "scope") }}
}

// A narrowed refresh whose response names no scope carries the scopes it
// asked for, not the grant's.
func TestRefreshScopesAbsentInResponse(t *testing.T) {
	f := narrowFixture(t)
	f.cfg.RefreshScopes = []string{"read"}
	f.cfg.HTTPClient = &http.Client{Transport: scopeStripper(http.DefaultTransport)}
	tok, err := f.session().Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := scopeOf(tok); !slices.Equal(got, []string{"read"}) {
		t.Fatalf("scope %q, want [read] (what was asked)", got)
	}
}

func TestRefreshScopesMustBeScopes(t *testing.T) {
	for _, bad := range []string{"", "read write", `a"b`, "caf\u00e9"} {
		cfg := testConfig(oauthtestServer(t), nil)
		cfg.RefreshScopes = []string{"read", bad}
		_, err := NewSession(cfg, nil)
		if err == nil || !strings.Contains(err.Error(), "Config.RefreshScopes") {
			t.Errorf("RefreshScopes with %q: %v", bad, err)
		}
	}
}

func oauthtestServer(t *testing.T) *oauthtest.Server {
	srv := oauthtest.NewServer(oauthtest.Config{})
	t.Cleanup(srv.Close)
	return srv
}

// What a step-up won survives narrowed refreshes: with RefreshScopes
// [read], a session that stepped up to read and write refreshes to both,
// and the resource keeps accepting its POSTs.
func TestRefreshScopesKeepStepUp(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{JWTAccessTokens: true})
	defer srv.Close()
	rs, _ := stepUpServer(t, srv)
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := resourceConfig(srv, rs.URL+"/mcp", b.open)
	cfg.RefreshScopes = []string{"read"}
	s, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	do := func(method string) *http.Response { return callWithCached(t, s, method, rs.URL+"/mcp") }
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		if resp := do(method); resp.StatusCode != 200 {
			if err := s.Authorize(ctx, resp.Request, resp); err != nil {
				t.Fatal(err)
			}
		}
	}
	tok, err := s.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := scopeOf(tok); !slices.Equal(got, []string{"read", "write"}) {
		t.Fatalf("refreshed after a step-up: scope %q, want [read write]", got)
	}
	if resp := do(http.MethodPost); resp.StatusCode != 200 {
		t.Fatalf("POST after the narrowed refresh: HTTP %d", resp.StatusCode)
	}
}

// Every printable ASCII character but space, double quote and backslash
// may be in a scope (RFC 6749 §3.3: %x21 / %x23-5B / %x5D-7E), such as
// the URLs and "~" that some servers' scopes hold; a backslash, DEL or a
// control character may not.
func TestRefreshScopesAcceptEveryScopeCharacter(t *testing.T) {
	var all []byte
	for c := byte('!'); c <= '~'; c++ {
		if c != '"' && c != '\\' {
			all = append(all, c)
		}
	}
	for _, good := range []string{string(all), "https://graph.microsoft.com/.default", "~"} {
		cfg := testConfig(oauthtestServer(t), nil)
		cfg.RefreshScopes = []string{good}
		s, err := NewSession(cfg, nil)
		if err != nil {
			t.Errorf("RefreshScopes with %q: %v", good, err)
			continue
		}
		s.Close()
	}
	for _, bad := range []string{`a\b`, "a\x7fb", "a\tb", "a\x00b"} {
		cfg := testConfig(oauthtestServer(t), nil)
		cfg.RefreshScopes = []string{bad}
		if _, err := NewSession(cfg, nil); err == nil || !strings.Contains(err.Error(), "Config.RefreshScopes") {
			t.Errorf("RefreshScopes with %q: %v, want refused", bad, err)
		}
	}
}
