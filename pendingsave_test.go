package authloop

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// At a server that does not rotate refresh tokens (Google), a session
// whose token has expired adopts the one another process refreshed
// meanwhile, as at any server: the refresh token they share is still the
// grant's, not one this session saw rotated away.
func TestNoRotationAdoptsTokenRefreshedElsewhere(t *testing.T) {
	f := newFixture(t, oauthtest.Config{DisableRotation: true}, true)
	f.cfg.Store = store.NewMemory()
	a := f.session()
	f.clock.Jump(2 * time.Hour)
	if _, err := a.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := NewSession(f.cfg, nil) // another process, on the record a saved
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f.clock.Jump(2 * time.Hour)
	fromB, err := b.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	before := f.refreshes()
	got, err := a.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken != fromB.AccessToken || f.refreshes() != before {
		t.Fatalf("%d more refreshes, token from the other process adopted: %v; want it adopted without a request",
			f.refreshes()-before, got.AccessToken == fromB.AccessToken)
	}
}

// A live token whose save failed, and whose save fails again at the next
// refresh, stays pending when that refresh fails too (the server is
// down): Close saves it once the store works, so the store does not keep
// the refresh token the server rotated away.
func TestUnsavedTokenKeptThroughFailedRefresh(t *testing.T) {
	sf := newSaveFixture(t)
	live, _ := sf.refreshUnsaved()
	sf.flaky.failSaves.Store(2) // the save before the refresh fails too
	sf.srv.FailNext(1<<10, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
	if _, err := sf.s.Refresh(context.Background()); err == nil || errors.As(err, new(*SaveError)) {
		t.Fatalf("Refresh with the server down: %v; want its failure", err)
	}
	sf.flaky.failSaves.Store(0)
	if err := sf.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := sf.stored().Token.RefreshToken; got != live {
		t.Fatalf("the store holds refresh token %q after Close, want the live %q", got, live)
	}
}

// A session holding a live grant the store never got (its save failed)
// keeps it when the store meanwhile holds only a token without a refresh
// token, now expired (another process's later sign-in, whose refresh token
// was dropped): it saves its grant and refreshes with it, rather than ask
// for a login.
func TestUnsavedGrantUsedOverStoredTokenWithoutRefreshToken(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	mem := store.NewMemory()
	flaky := &flakyStore{Store: mem}
	flaky.failSaves.Store(2)
	f.cfg.Store = flaky
	a := f.session() // starts with the login's token, which it cannot save

	f.clock.Jump(time.Minute)
	later, err := Login(context.Background(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	later.RefreshToken = ""
	other := *f.cfg
	other.Store = mem
	b, err := NewSession(&other, later)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()

	f.clock.Jump(2 * time.Hour) // both access tokens have expired
	tok, err := a.Token(context.Background())
	if err != nil {
		t.Fatalf("Token: %v; want a refresh with the session's own grant", err)
	}
	if !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatal("the server does not know the access token")
	}
	rec, err := mem.Load(context.Background(), a.Key())
	if err != nil || rec.Token.RefreshToken != tok.RefreshToken {
		t.Fatalf("the store holds %v (%v); want the refreshed grant", rec, err)
	}
}
