// The Clock a Session reads time and arms timers with; tests give a fake
// one (oauthtest.FakeClock).

package authloop

import "time"

// Clock tells the time and runs timers. Sessions use it for every decision
// about expiry and for the background refresh timer, so tests can move time
// (oauthtest.FakeClock implements it). Nil in a Config means the system
// clock.
//
// Times from Now are compared as wall-clock times: a laptop that slept past
// a token's expiry must not hand that token out.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d, unless stopped first;
	// stop reports whether it stopped the call.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
