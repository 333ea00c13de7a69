package authloop

import (
	"math/rand/v2"
	"time"
)

// jitter returns a random duration in [0, d): "full jitter" backoff, and
// the spread that keeps many clients from refreshing in the same instant.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
