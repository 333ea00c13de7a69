package store

import (
	"context"
	"testing"
	"time"
)

// A waiter for a lock another process holds polls after 1 ms, then at
// doubling intervals up to 25 ms: quick to get an uncontended lock, and no
// busy loop while it waits for a long-held one.
func TestPollerBacksOff(t *testing.T) {
	var p poller
	defer p.stop()
	// The interval of the next wait, after each wait.
	want := []time.Duration{2, 4, 8, 16, 25, 25}
	for i, w := range want {
		if err := p.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if p.next != w*time.Millisecond {
			t.Fatalf("after wait %d the next interval is %v; want %v", i+1, p.next, w*time.Millisecond)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.wait(ctx); err != context.Canceled {
		t.Errorf("wait with a canceled context: %v", err)
	}
}
