package authloop

import (
	"context"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// A refresh token the session saw rotated away is never taken back, even
// when the store holds it again (another program wrote an old token over
// the record): the session refreshes with its own live token instead of
// adopting the old one, whose refresh token the server would take for a
// replay and answer by revoking the grant.
func TestRotatedAwayTokenNeverAdoptedFromTheStore(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Store = store.NewMemory()
	old := f.tok
	a := f.session()
	live, err := a.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSession(f.cfg, old) // writes the old token over the record
	if err != nil {
		t.Fatal(err)
	}
	b.Close()

	got, err := a.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken == old.AccessToken || got.RefreshToken == old.RefreshToken {
		t.Fatal("the session took back the token whose refresh token was rotated away")
	}
	if got.AccessToken == live.AccessToken || f.refreshes() != 2 {
		t.Fatalf("%d refreshes; want the session's own second refresh", f.refreshes())
	}
	for _, r := range f.srv.Requests() {
		if r.Error != "" {
			t.Fatalf("the server saw a failing request: %+v", r)
		}
	}
}

// Each failed retry of a save waits longer before the next (backing off
// from a second towards a minute): a store that stays down is not written
// to every second.
func TestSaveRetriesBackOff(t *testing.T) {
	sf := newSaveFixture(t)
	sf.refreshUnsaved()
	sf.flaky.failSaves.Store(1 << 20)
	defer sf.flaky.failSaves.Store(0)
	var d time.Duration
	for i := range 6 {
		next, ok := sf.clock.NextTimer()
		if !ok {
			t.Fatalf("retry %d: no timer armed", i+1)
		}
		d = next
		before := sf.flaky.failSaves.Load()
		sf.clock.Advance(d)
		eventually(t, "the save's retry to fail and re-arm", func() bool {
			_, ok := sf.clock.NextTimer()
			return sf.flaky.failSaves.Load() < before && ok
		})
	}
	if d <= time.Second {
		t.Fatalf("after 5 failed retries the next comes %v later, want it backed off past a second", d)
	}
}
