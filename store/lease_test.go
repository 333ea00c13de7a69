package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authloop/authloop/store"
)

// leaseFunc is a store.Lease answering with its function.
type leaseFunc func(margin time.Duration) error

func (f leaseFunc) Held(margin time.Duration) error { return f(margin) }

func TestLeaseHeldWithoutALeaseIsNil(t *testing.T) {
	if err := store.LeaseHeld(context.Background(), time.Hour); err != nil {
		t.Errorf("LeaseHeld of a context without a lease: %v; want nil (the locks of such stores cannot pass)", err)
	}
}

func TestLeaseHeldAsksTheLeaseWithTheMargin(t *testing.T) {
	var asked time.Duration
	ctx := store.WithLease(context.Background(), leaseFunc(func(m time.Duration) error { asked = m; return nil }))
	derived, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := store.LeaseHeld(derived, 7*time.Second); err != nil || asked != 7*time.Second {
		t.Errorf("LeaseHeld of a derived context with a held lease: %v, margin asked %v; want nil, 7s", err, asked)
	}
}

func TestLeaseHeldErrorAlwaysWrapsErrLeaseLost(t *testing.T) {
	other := errors.New("lease ended")
	ctx := store.WithLease(context.Background(), leaseFunc(func(time.Duration) error { return other }))
	err := store.LeaseHeld(ctx, time.Second)
	if !errors.Is(err, store.ErrLeaseLost) || !errors.Is(err, other) {
		t.Errorf("LeaseHeld of a lease that says %q: %v; want an error wrapping ErrLeaseLost and the lease's", other, err)
	}
	lost := errors.Join(store.ErrLeaseLost)
	ctx = store.WithLease(context.Background(), leaseFunc(func(time.Duration) error { return lost }))
	if err := store.LeaseHeld(ctx, time.Second); err != lost {
		t.Errorf("LeaseHeld of a lease whose error wraps ErrLeaseLost: %v; want that error as it is", err)
	}
}
