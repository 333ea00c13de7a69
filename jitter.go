// Backoff and jitter for retries: a delay uniform between the base and an
// exponential ceiling, and the jitter that spreads timers apart.

package authloop

import (
	"math/rand/v2"
	"time"
)

// jitter returns a random duration in [0, d): the spread that keeps many
// clients from refreshing in the same instant.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// backoffCeiling is the longest delay before retry number attempt+1:
// base doubled attempt times, but never more than ceiling (and never an
// overflow, however large attempt is).
func backoffCeiling(base, ceiling time.Duration, attempt int) time.Duration {
	d := base
	for i := 0; i < attempt && d > 0 && d < ceiling; i++ {
		d *= 2
	}
	return max(min(d, ceiling), base)
}

// backoff is the delay before retry number attempt+1: exponential backoff
// with jitter, uniform in [base, backoffCeiling).
func backoff(base, ceiling time.Duration, attempt int) time.Duration {
	return base + jitter(backoffCeiling(base, ceiling, attempt)-base)
}
