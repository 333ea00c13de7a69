package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

func TestCappedMinValid(t *testing.T) {
	for _, c := range []struct {
		expiresIn int64
		minValid  time.Duration
		want      time.Duration
	}{
		{20, time.Minute, 10 * time.Second},
		{3600, time.Minute, time.Minute},
		{3600, 2 * time.Hour, 30 * time.Minute},
		{0, time.Minute, time.Minute}, // lifetime unknown: as asked
		{-5, time.Minute, time.Minute},
	} {
		if got := cappedMinValid(&oauth2.Token{ExpiresIn: c.expiresIn}, c.minValid); got != c.want {
			t.Errorf("cappedMinValid(expires_in %d, %s) = %s, want %s", c.expiresIn, c.minValid, got, c.want)
		}
	}
}

// refreshes counts the refresh requests the server has answered.
func refreshes(srv *oauthtest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Endpoint == "token" && r.GrantType == "refresh_token" {
			n++
		}
	}
	return n
}

// With tokens shorter than twice --min-valid (40 s against the default 1m),
// each `authloop token` used to refresh: 10 calls, 10 refreshes, each
// rotating the refresh token. --min-valid is now capped at half the
// lifetime: a token fresh from the login serves them all.
func TestE2ETokenMinValidCappedAtHalfLifetime(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{AccessTokenTTL: 40 * time.Second})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "short")
	for i := range 10 {
		r := c.run("", "token", "--profile", "short", "--json")
		var j tokenJSON
		decodeJSON(t, r.stdout, &j)
		if r.code != 0 || j.ExpiresIn < 19 || r.stderr != "" {
			t.Fatalf("call %d: %v", i, r)
		}
	}
	if n := refreshes(srv); n != 0 {
		t.Errorf("10 calls within 20 s of the sign-in made %d refreshes, want 0", n)
	}
	// Asked explicitly for more than half the lifetime: a note says so.
	r := c.run("", "token", "--profile", "short", "--min-valid", "2h")
	if r.code != 0 || !strings.Contains(r.stderr, "this server's access tokens last 40 seconds, less than twice the 2 hours asked (--min-valid): the token printed is valid for at least 20 seconds") || refreshes(srv) != 0 {
		t.Errorf("--min-valid 2h on 40-second tokens: %v", r)
	}
}

// Four loops of `authloop token` (a new process per call) for 7 s against
// 4-second tokens: a refresh only once a token is past half its lifetime,
// so at most one per 2 s (the bound holds whatever the machine's speed: a
// refresh is sent only 2 s after the previous token's request), and every
// printed token has at least the capped 2 s left (1 s of slack for the
// whole seconds of expires_in).
func TestE2ETokenLoopsRefreshOncePerHalfLifetime(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{AccessTokenTTL: 4 * time.Second})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "short")
	start := time.Now()
	var mu sync.Mutex
	calls := 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for time.Since(start) < 7*time.Second {
				r := c.run("", "token", "--profile", "short", "--json")
				var j tokenJSON
				if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || r.code != 0 || j.ExpiresIn < 1 {
					t.Errorf("token: expires_in %d: %v", j.ExpiresIn, r)
					return
				}
				mu.Lock()
				calls++
				mu.Unlock()
				time.Sleep(20 * time.Millisecond) // the machine is shared
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	n := refreshes(srv)
	t.Logf("%d calls in %s, %d refreshes", calls, elapsed.Round(time.Millisecond), n)
	if limit := int(elapsed/(2*time.Second)) + 1; n > limit || n < 1 {
		t.Errorf("%d refreshes in %s (%d calls), want between 1 and %d", n, elapsed, calls, limit)
	}
}

// agePastHalfLife moves the stored access token of profile (file store) to
// 20 minutes before its expiry, its lifetime as issued unchanged, so that
// the next `token --min-valid 2h` must refresh. Since --min-valid is capped
// at half the lifetime, no --min-valid makes a fresh token refresh.
func (c *cli) agePastHalfLife(t testing.TB, profile string) {
	t.Helper()
	c.editRecord(t, profile, func(rec *store.Record) {
		if rec.Token.ExpiresIn < 3600 {
			t.Fatalf("agePastHalfLife: expires_in %d, want at least an hour", rec.Token.ExpiresIn)
		}
		rec.Token.Expiry = time.Now().Add(20 * time.Minute)
	})
}

// expireToken marks the stored access token of profile (file store) as
// expired a minute ago, so that any command needing a token refreshes.
func (c *cli) expireToken(t testing.TB, profile string) {
	t.Helper()
	c.editRecord(t, profile, func(rec *store.Record) { rec.Token.Expiry = time.Now().Add(-time.Minute) })
}

// editRecord loads the record of profile from the file store, lets edit
// change it and saves it.
func (c *cli) editRecord(t testing.TB, profile string, edit func(*store.Record)) {
	t.Helper()
	st, rec := c.fileRecord(t, profile)
	if rec == nil {
		t.Fatalf("no record of profile %s", profile)
	}
	edit(rec)
	if _, err := st.Save(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}
