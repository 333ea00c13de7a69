package authloop

import (
	"testing"
	"time"
)

// TestWallNanoIsTheWallClock checks the fast path's clock read against
// time.Now: the same wall clock (a sleeping laptop's, too: both read
// CLOCK_REALTIME), within the microsecond that wallNano truncates to.
func TestWallNanoIsTheWallClock(t *testing.T) {
	for range 1000 {
		before := time.Now().UnixNano()
		got := wallNano()
		after := time.Now().UnixNano()
		if got < before-int64(time.Microsecond) || got > after {
			t.Fatalf("wallNano() = %d, not between time.Now() readings %d and %d", got, before, after)
		}
	}
}
