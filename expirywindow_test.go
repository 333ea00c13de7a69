package authloop

import (
	"context"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// jumpTo moves the fixture's clock to at, firing no timer.
func (f *fixture) jumpTo(at time.Time) {
	f.clock.Jump(at.Sub(f.clock.Now()))
}

// A token is not handed out in its last ten seconds (from exactly ten
// seconds before its expiry): a request it would go out with could arrive
// after it expired. Token waits for the refresh instead.
func TestTokenNotHandedOutInItsLastTenSeconds(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.DisableAutoRefresh = true
	s := f.session()
	f.jumpTo(f.tok.Expiry.Add(-10 * time.Second))
	got, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken == f.tok.AccessToken || f.refreshes() != 1 {
		t.Fatalf("ten seconds before expiry: the old token handed out (%v), %d refreshes; want the refreshed one", got.AccessToken == f.tok.AccessToken, f.refreshes())
	}
}

// From exactly the refresh point (Config.RefreshBuffer before expiry) on,
// Token still hands out the current token but starts a refresh in the
// background.
func TestTokenAtTheRefreshPointStartsARefresh(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.DisableAutoRefresh = true
	f.cfg.RefreshBuffer = 2 * time.Minute
	s := f.session()
	f.jumpTo(f.tok.Expiry.Add(-2 * time.Minute))
	got, err := s.Token(context.Background())
	if err != nil || got != f.tok {
		t.Fatalf("at the refresh point: %v, %v; want the current token at once", got, err)
	}
	eventually(t, "the background refresh", func() bool { return s.Cached().AccessToken != f.tok.AccessToken })
	if n := f.refreshes(); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
}

// A token given without expires_in (a program's own token, with only its
// Expiry) gets the same margins as any: it is refreshed before it
// expires, not handed out to its last nanosecond.
func TestTokenWithoutExpiresInRefreshedBeforeExpiry(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.DisableAutoRefresh = true
	own := &oauth2.Token{AccessToken: f.tok.AccessToken, TokenType: "Bearer", RefreshToken: f.tok.RefreshToken, Expiry: f.tok.Expiry}
	f.tok = own
	s := f.session()
	f.jumpTo(own.Expiry.Add(-10 * time.Second))
	got, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken == own.AccessToken {
		t.Fatal("ten seconds before expiry, the token without expires_in was handed out")
	}
}
