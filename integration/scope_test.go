package integration_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/authloop/authloop"
)

// Config.RefreshScopes against real servers. A refresh that asks for less
// than the grant (openid without offline_access) gets a token whose scope
// is what the server says it granted: the narrowed scope where the server
// narrows (oidc-provider), the whole grant where it ignores the parameter
// (Hydra v2.3.0); either way the grant keeps refreshing. A narrowing
// beyond the grant is refused with invalid_scope by a server that reads
// the parameter, and the session keeps its refresh token.
func TestRefreshScopesNarrow(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server) {
		f := newFixture(t, srv)
		tok := loginHeadless(t, f.cfg)

		narrow := *f.cfg
		narrow.RefreshScopes = []string{"openid"}
		s := newSession(t, &narrow, tok)
		want := []string{"openid"}
		if !srv.narrowsOnRefresh {
			want = []string{"offline_access", "openid"}
		}
		for i := range 2 {
			nt, err := s.Refresh(t.Context())
			if err != nil {
				t.Fatalf("narrowed refresh %d: %v", i+1, err)
			}
			sc, _ := nt.Extra("scope").(string)
			got := strings.Fields(sc)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("narrowed refresh %d: scope %q; want %q", i+1, sc, want)
			}
			mustUserinfo(t, f, nt.AccessToken)
			t.Logf("%s: refresh %d asked for openid, got %q", srv.name, i+1, sc)
		}
		if !s.CanRefresh() {
			t.Fatal("the narrowed session lost its refresh token")
		}
		if got := f.count.grant("refresh_token"); got != 2 {
			t.Fatalf("%d refresh requests; want 2", got)
		}

		beyond := *f.cfg
		beyond.RefreshScopes = []string{"openid", "offline_access", "authloop-not-granted"}
		s2 := newSession(t, &beyond, s.Cached())
		s.Close()
		_, err := s2.Refresh(t.Context())
		if srv.narrowsOnRefresh {
			var oe *authloop.OAuthError
			if err == nil || errors.Is(err, authloop.ErrLoginRequired) || !errors.As(err, &oe) || oe.Code != "invalid_scope" || !strings.Contains(err.Error(), "Config.RefreshScopes") {
				t.Fatalf("refresh beyond the grant: %v; want invalid_scope in an error naming Config.RefreshScopes, not login-required", err)
			}
			if !s2.CanRefresh() {
				t.Fatal("a refused narrowing dropped the refresh token")
			}
		} else if err != nil {
			t.Fatalf("refresh beyond the grant at a server that ignores scope: %v", err)
		}
		t.Logf("%s: narrowing beyond the grant: %v", srv.name, err)
		full := newSession(t, f.cfg, s2.Cached())
		s2.Close()
		nt, err := full.Refresh(t.Context())
		if err != nil {
			t.Fatalf("the grant did not survive: %v", err)
		}
		mustUserinfo(t, f, nt.AccessToken)
	})
}
