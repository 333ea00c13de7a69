package oauthtest

import (
	"sync"
	"time"
)

// Clock tells the server what time it is. Every lifetime the server computes
// or checks (authorization codes, access and refresh tokens, the request log)
// uses it, so a test can move time forward instead of sleeping.
type Clock interface {
	Now() time.Time
}

// realClock is the Clock used when Config.Clock is nil.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// FakeClock is a Clock that only moves when told to, with timers, so that
// one clock can drive both this server and the client under test
// (authloop's Sessions take it as their Clock). It is safe for concurrent
// use.
//
// It keeps two times, as a real machine does: the wall clock (Now) and the
// time timers run on. Advance moves both and fires the timers that come
// due; Jump moves only the wall clock, as when a laptop sleeps or an
// operator sets the clock, so timers fire late, or early.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time     // wall clock
	mono   time.Duration // timer time, since creation
	timers map[*fakeTimer]struct{}
}

type fakeTimer struct {
	at time.Duration // on the timer time line
	f  func()
}

// NewFakeClock returns a FakeClock that reads t until it is advanced or set.
func NewFakeClock(t time.Time) *FakeClock {
	return &FakeClock{now: t, timers: map[*fakeTimer]struct{}{}}
}

// Now returns the clock's current wall-clock time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d, wall clock and timers alike, and
// calls each timer that came due in its own goroutine, as time.AfterFunc
// does. A negative d moves the wall clock back and fires nothing.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	if d <= 0 {
		c.mu.Unlock()
		return
	}
	c.mono += d
	var due []func()
	for t := range c.timers {
		if t.at <= c.mono {
			due = append(due, t.f)
			delete(c.timers, t)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		go f()
	}
}

// Jump moves only the wall clock by d (forward or back): timers keep their
// own time line and do not fire. It simulates a laptop that slept through a
// token's expiry, or a clock corrected by NTP.
func (c *FakeClock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the wall clock to t, like Jump; timers do not fire.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// AfterFunc calls f in its own goroutine once the clock has been advanced
// by d (at once, for d <= 0). stop cancels the call and reports whether it
// did.
func (c *FakeClock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.mono + d, f: f}
	if c.timers == nil {
		c.timers = map[*fakeTimer]struct{}{}
	}
	if d <= 0 {
		go f()
		return func() bool { return false }
	}
	c.timers[t] = struct{}{}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, pending := c.timers[t]
		delete(c.timers, t)
		return pending
	}
}

// Timers returns the number of timers waiting to fire.
func (c *FakeClock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// NextTimer returns how far the clock must advance for the next timer to
// fire, and false when none waits.
func (c *FakeClock) NextTimer() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next time.Duration
	found := false
	for t := range c.timers {
		if !found || t.at < next {
			next, found = t.at, true
		}
	}
	return max(next-c.mono, 0), found
}
