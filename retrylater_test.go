package authloop

import (
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// A background refresh that fails (the server is down for a moment) is
// tried again after a tenth of the token's remaining validity (between 1
// and 30 seconds): here 110 s remain, so the next try comes 11 s later,
// long before the 30 s that suit a token with plenty of time left.
func TestFailedBackgroundRefreshRetriesWithinATenthOfWhatRemains(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.RefreshBuffer = 2 * time.Minute
	f.cfg.MaxRetries = NoRetries
	failed := make(chan error, 1)
	f.cfg.OnRefreshFailure = func(err error) { failed <- err }
	s := f.session()
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
	// To the refresh point, 2 min before expiry: 110 s of validity remain
	// (the token is handed out until 10 s before it expires).
	f.clock.Advance(f.tok.Expiry.Sub(f.clock.Now()) - 2*time.Minute)
	eventually(t, "the background refresh to fail", func() bool { return len(failed) == 1 }) // its next try is armed
	if n := f.refreshes(); n != 1 {
		t.Fatalf("%d refreshes at the refresh point, want 1", n)
	}
	f.clock.Advance(12 * time.Second)
	eventually(t, "the background refresh's next try", func() bool { return f.refreshes() == 2 })
	if s.Cached().AccessToken == f.tok.AccessToken {
		eventually(t, "the new token", func() bool { return s.Cached().AccessToken != f.tok.AccessToken })
	}
}

// With plenty of validity left (half an hour at the refresh point, whose
// tenth is 3 minutes), a failed background refresh is tried again 30 s
// later, not later and not at once: the timer is armed for 30 s, and the
// next try comes when they have passed.
func TestFailedBackgroundRefreshRetriesWithinThirtySeconds(t *testing.T) {
	f := newFixture(t, oauthtest.Config{AccessTokenTTL: 2 * time.Hour}, true)
	f.cfg.RefreshBuffer = 30 * time.Minute
	f.cfg.MaxRetries = NoRetries
	failed := make(chan error, 1)
	f.cfg.OnRefreshFailure = func(err error) { failed <- err }
	f.session()
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
	f.clock.Advance(f.tok.Expiry.Sub(f.clock.Now()) - 30*time.Minute)
	eventually(t, "the background refresh to fail", func() bool { return len(failed) == 1 })
	if n := f.refreshes(); n != 1 {
		t.Fatalf("%d refreshes at the refresh point, want 1", n)
	}
	// OnRefreshFailure runs after the timer is armed again.
	d, ok := f.clock.NextTimer()
	if !ok || d != 30*time.Second {
		t.Fatalf("next try armed in %v (armed: %v), want 30s", d, ok)
	}
	f.clock.Advance(29 * time.Second)
	if n := f.refreshes(); n != 1 {
		t.Fatalf("%d refreshes 29 s after the failure, want still 1", n)
	}
	f.clock.Advance(time.Second)
	eventually(t, "the background refresh's next try", func() bool { return f.refreshes() == 2 })
}
