package oauthtest

import (
	"sync"
	"testing"
	"time"
)

func TestFakeClock(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewFakeClock(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("Now = %v, want %v", c.Now(), t0)
	}
	c.Advance(time.Hour)
	if !c.Now().Equal(t0.Add(time.Hour)) {
		t.Fatalf("after Advance: %v", c.Now())
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("after Set: %v", c.Now())
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { c.Advance(time.Second); _ = c.Now() })
	}
	wg.Wait()
	if got := c.Now().Sub(t0); got != 50*time.Second {
		t.Fatalf("concurrent advances: %v", got)
	}
}

func TestFakeClockTimers(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFakeClock(t0)
	fired := make(chan string, 3)
	c.AfterFunc(time.Minute, func() { fired <- "a" })
	stop := c.AfterFunc(2*time.Minute, func() { fired <- "b" })
	if d, ok := c.NextTimer(); !ok || d != time.Minute || c.Timers() != 2 {
		t.Fatalf("NextTimer = %v %v, Timers = %d", d, ok, c.Timers())
	}
	c.Jump(time.Hour) // wall clock only: nothing fires
	if c.Timers() != 2 || !c.Now().Equal(t0.Add(time.Hour)) {
		t.Fatalf("after Jump: %d timers, now %v", c.Timers(), c.Now())
	}
	c.Advance(time.Minute)
	if got := <-fired; got != "a" {
		t.Fatalf("fired %s", got)
	}
	if !stop() || stop() {
		t.Error("stop should cancel once")
	}
	c.Advance(time.Hour)
	if _, ok := c.NextTimer(); ok || c.Timers() != 0 {
		t.Error("timers left")
	}
	select {
	case got := <-fired:
		t.Fatalf("stopped timer fired: %s", got)
	default:
	}
}
