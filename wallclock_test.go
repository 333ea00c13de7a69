package authloop

import (
	"testing"
	"time"
)

// TestWallNanoIsTheWallClock checks the fast path's clock read against
// time.Now: the same wall clock (a sleeping laptop's, too: both read
// CLOCK_REALTIME), never earlier than a reading taken before it (so a
// token is never judged further from its expiry than it is: the load test
// once saw a token handed out within the microsecond that a truncating
// read lost), and at most a microsecond after one taken after it.
func TestWallNanoIsTheWallClock(t *testing.T) {
	for range 10000 {
		before := time.Now().UnixNano()
		got := wallNano()
		after := time.Now().UnixNano()
		if got < before || got > after+int64(time.Microsecond) {
			t.Fatalf("wallNano() = %d, not between the time.Now() readings %d and %d (+1µs)", got, before, after)
		}
	}
}
