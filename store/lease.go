package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Leases: fencing for stores whose locks can pass to another holder while
// the first one still runs.
//
// The locks of File, Keyring and Memory are held until unlock or until the
// holding process dies, so they never pass while the holder lives. A lock
// kept in a server (store/redisstore) is a lease instead: it ends by
// itself when its holder does not renew it in time, which frees the lock
// of a holder that died, but also takes it from a holder that was merely
// stalled (stopped by SIGSTOP, swapped out, cut off from the server) for
// longer than the lease. Such a stale holder must neither send a token
// request (its refresh token may already have been used by the new
// holder) nor overwrite the new holder's record. LeaseLocker gives it the
// means to know.

// ErrLeaseLost is wrapped by the error of a Save fenced by a lease that
// is no longer held, by LeaseHeld's error, and is the cause
// (context.Cause) of a held context that ended because its lease was lost.
var ErrLeaseLost = errors.New("store: the lock's lease passed to another holder")

// LeaseLocker is implemented by stores whose locks are leases (see above).
// It is optional: callers check for it with a type assertion and use Lock
// when a store does not implement it. File, Keyring and Memory do not: their
// locks never pass to another holder while the holder lives.
type LeaseLocker interface {
	// LockLease takes the lock called name of key as Store.Lock does (same
	// exclusion, against Lock holders too, same waiting and errors) and
	// returns with unlock a context held, derived from ctx, that:
	//
	//   - ends, with context.Cause(held) == ErrLeaseLost, as soon as the
	//     holder can no longer be sure that it holds the lease: a renewal
	//     found the lock held by another owner or gone, or renewals failed
	//     and the lease's end, measured by the local monotonic clock from
	//     the start of the last successful renewal, is near. (It also ends
	//     when ctx does, and when unlock is called.)
	//   - carries the lease: a Save of the same store called with held, or
	//     a context derived from it, for the same key, is refused with an
	//     error wrapping ErrLeaseLost when the lease passed to another
	//     holder: another holder has the lock, or the lock is free but the
	//     record changed (a save or delete not made with held, a record
	//     deleted and written again included) since this holder took the
	//     lock or last saved with held (the store checks
	//     this in the same atomic step as the write). So a stale holder
	//     never overwrites a newer record, and a holder whose lease merely
	//     ran out, no one else having taken over, still saves what it got
	//     meanwhile (a rotated refresh token), when it took the lock on an
	//     existing record; one that took it on no record does not (it
	//     cannot tell that nothing happened from a record written and
	//     deleted meanwhile). A Save with held after held ended is refused
	//     unless the lease is still held; to save the answer to a request
	//     already sent, use context.WithoutCancel(held) (with a timeout),
	//     which keeps the lease for the store's check. A Save with any
	//     other context is not fenced.
	//   - fences a Delete made with it the same way: a holder whose lease
	//     passed does not delete the record another holder wrote since.
	//   - answers LeaseHeld, which the holder calls immediately before it
	//     sends a request that must not be sent twice (a refresh).
	//
	// The lease is renewed in the background while it is held. unlock
	// releases the lock if this holder still holds it; it returns an error
	// wrapping ErrLeaseLost if the lease had passed to another holder or
	// ended meanwhile.
	LockLease(ctx context.Context, key Key, name string) (held context.Context, unlock func() error, err error)
}

// Lease is the lease of a lock held through LockLease, as its held context
// carries it. Implementations are safe for concurrent use.
type Lease interface {
	// Held returns nil if the lease is still held and, by the local
	// monotonic clock, will be for at least margin more even if no renewal
	// succeeds from now on; otherwise an error wrapping ErrLeaseLost that
	// names the key and the lock. It sends nothing to the store. A margin
	// longer than a third of the lease counts as a third of it (one
	// renewal period): a caller cannot know the lease's length, and a
	// lease shorter than its margin could never be held long enough.
	Held(margin time.Duration) error
}

type leaseCtxKey struct{}

// WithLease returns a context derived from ctx that carries l, for
// LeaseHeld. Stores that implement LeaseLocker use it to make their held
// contexts.
func WithLease(ctx context.Context, l Lease) context.Context {
	return context.WithValue(ctx, leaseCtxKey{}, l)
}

// LeaseHeld reports whether ctx's lease, if it carries one (see
// LeaseLocker), still has at least margin to run: nil when it does, or when
// ctx carries no lease (the locks of other stores cannot pass while their
// holder lives); otherwise an error wrapping ErrLeaseLost.
//
// Unlike ctx.Err(), which turns non-nil only when a timer goroutine runs
// (late, after the process was stopped by SIGSTOP or starved), LeaseHeld
// reads the monotonic clock when it is called. Call it immediately before
// sending a request that only the lock's holder may send, with margin at
// least that request's timeout, and do not send it on an error.
func LeaseHeld(ctx context.Context, margin time.Duration) error {
	l, ok := ctx.Value(leaseCtxKey{}).(Lease)
	if !ok || l == nil {
		return nil
	}
	if err := l.Held(margin); err != nil {
		if !errors.Is(err, ErrLeaseLost) {
			return fmt.Errorf("%w: %w", ErrLeaseLost, err)
		}
		return err
	}
	return nil
}
