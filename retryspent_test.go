package authloop

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// A refresh whose retries are spent asks the next request to wait at least
// as long as one more retry would have: the ceiling of the next backoff
// (here twice the base), not just the delay that was drawn.
func TestSpentRetriesWaitAsLongAsTheNextRetry(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.MaxRetries = NoRetries
	s := f.session()
	s.backoffBase, s.backoffCap = time.Second, time.Minute
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
	_, err := s.Refresh(context.Background())
	var rl *RetryLaterError
	if !errors.As(err, &rl) {
		t.Fatalf("got %v, want *RetryLaterError", err)
	}
	if d := rl.Until.Sub(f.clock.Now()); d != 2*time.Second {
		t.Fatalf("wait %v, want 2s (the ceiling of the retry that was not made)", d)
	}
}

// A server's wait clamped to the cap (an hour) is honoured to its end: a
// refresh a moment later sends nothing and says to retry later; once the
// hour has passed, the refresh goes through.
func TestClampedWaitHonouredForTheWholeHour(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.MaxRetries = NoRetries
	s := f.session()
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultTooManyRequests, RetryAfter: "86400"})
	if _, err := s.Refresh(context.Background()); !errors.As(err, new(*RetryLaterError)) {
		t.Fatalf("got %v, want *RetryLaterError", err)
	}
	before := f.refreshes()
	_, err := s.Refresh(context.Background())
	var rl *RetryLaterError
	if !errors.As(err, &rl) || rl.Until.Sub(f.clock.Now()) != maxRetryAfter {
		t.Fatalf("a refresh during the hour's wait: %v; want *RetryLaterError until the hour's end", err)
	}
	if n := f.refreshes() - before; n != 0 {
		t.Fatalf("%d token requests during the server's wait", n)
	}
	f.clock.Jump(maxRetryAfter)
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatalf("a refresh after the hour: %v", err)
	}
}
