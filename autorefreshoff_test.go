package authloop

import (
	"context"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// With DisableAutoRefresh, nothing refreshes in the background, but a
// token whose save failed is still saved again in the background a second
// later: other processes would otherwise keep reading the stale record
// until the next call.
func TestDisableAutoRefreshStillRetriesAFailedSave(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	mem := store.NewMemory()
	flaky := &flakyStore{Store: mem}
	flaky.failSaves.Store(2)
	f.cfg.Store = flaky
	f.cfg.DisableAutoRefresh = true
	s := f.session() // cannot save the login's token
	if d, ok := f.clock.NextTimer(); !ok || d != time.Second {
		t.Fatalf("the save's retry is armed in %v (armed: %v), want 1s", d, ok)
	}
	f.clock.Advance(time.Second)
	eventually(t, "the token to be saved", func() bool {
		rec, err := mem.Load(context.Background(), s.Key())
		return err == nil && rec.Token.RefreshToken == f.tok.RefreshToken
	})
	if _, ok := f.clock.NextTimer(); ok {
		t.Fatal("a timer is armed after the save, with DisableAutoRefresh")
	}
	if n := f.refreshes(); n != 0 {
		t.Fatalf("%d refreshes, want none", n)
	}
}
