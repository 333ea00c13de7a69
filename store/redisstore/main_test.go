package redisstore

import (
	"context"
	"os"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind (a
// lease's renewals, a client's connections), and installs the hook that
// stalls a holder. With childEnv set, the binary is instead a process of a
// fleet (fleet_child_test.go).
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	renewHook = stallHook
	goleak.VerifyTestMain(m)
}

// stalled holds the leases that stall stopped, each with a channel closed
// when its renewing goroutine is parked.
var stalled sync.Map // *lease -> chan struct{}

func stallHook(ctx context.Context, l *lease) {
	v, ok := stalled.Load(l)
	if !ok {
		return
	}
	select {
	case <-v.(chan struct{}):
	default:
		close(v.(chan struct{}))
	}
	<-ctx.Done()
}

// stall makes the holder of held behave as if its process were stopped
// (SIGSTOP): no more renewals, and no timer that ends held; the lease in
// Redis then runs out. It returns once the renewals are parked.
func stall(t *testing.T, held context.Context) {
	t.Helper()
	l := held.Value(leaseCtxKey{}).(*lease)
	parked := make(chan struct{})
	stalled.Store(l, parked)
	t.Cleanup(func() { stalled.Delete(l) })
	<-parked
	l.mu.Lock()
	l.timer.Stop()
	l.mu.Unlock()
}
