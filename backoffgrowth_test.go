package authloop

import (
	"context"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// The pauses between a refresh's retries grow: each is drawn from
// [base, base·2^attempt) (capped), so a server that keeps failing is asked
// less and less often, and clients that failed together spread apart. A
// constant pause (the backoff of the first retry every time) would keep
// every pause under twice the base.
func TestRefreshRetryPausesGrow(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	const fails = 16
	s.retries = fails
	s.backoffBase, s.backoffCap = time.Millisecond, time.Hour
	waits := recordRetryWaits(t)
	f.srv.FailNext(fails, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
	f.clock.Jump(2 * time.Hour)
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	w := waits()
	if len(w) != fails {
		t.Fatalf("%d pauses, want %d (one before each retry)", len(w), fails)
	}
	longest := time.Duration(0)
	for k, d := range w {
		if hi := s.backoffBase << k; d < s.backoffBase || d >= max(hi, 2*s.backoffBase) {
			t.Errorf("pause %d: %v, want within [%v, %v)", k+1, d, s.backoffBase, hi)
		}
		longest = max(longest, d)
	}
	// Each pause k (from 0) is below 8 ms with a chance of at most
	// 7/(2^k-1): all of them, at most about 1e-21.
	if longest < 8*s.backoffBase {
		t.Fatalf("pauses %v: none reached 8 times the base; the backoff does not grow", w)
	}
}
