package authloop

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

func TestSessionLogoutRevokesAndDeletes(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := fileStore(t, t.TempDir())
	var gone bool
	f.cfg.OnTokenChange = func(_, new *oauth2.Token) { gone = new == nil }
	s := f.sessionWith(st, f.tok)
	if err := s.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !gone {
		t.Error("OnTokenChange did not announce the logout")
	}
	if f.srv.Count("revoke") != 1 {
		t.Fatalf("revocation endpoint hit %d times, want 1 (found through the issuer's metadata)", f.srv.Count("revoke"))
	}
	if f.srv.ValidAccessToken(f.tok.AccessToken) {
		t.Error("the grant lives on at the server: revoking the refresh token must end it")
	}
	if _, err := st.Load(context.Background(), s.Key()); err == nil {
		t.Error("the record is still in the store")
	}
	if _, err := s.Token(context.Background()); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("Token after Logout: %v, want ErrLoginRequired", err)
	}
	if s.Cached() != nil {
		t.Error("a token is still cached")
	}
}

func TestSessionLogoutWithoutRevocationEndpoint(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Issuer = "" // nothing to discover a revocation endpoint from
	f.cfg.RequireIssuer = false
	s := f.sessionWith(fileStore(t, t.TempDir()), f.tok)
	if err := s.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.srv.Count("revoke") != 0 {
		t.Fatal("revoked without a known endpoint")
	}
}
