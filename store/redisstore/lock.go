package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/authloop/authloop/store"
	"github.com/redis/go-redis/v9"
)

// Lock waits: the first retry after pollMin, then twice as long each time
// up to pollMax, each wait drawn between half and all of it so that
// waiters do not poll in step.
const (
	pollMin = 2 * time.Millisecond
	pollMax = 50 * time.Millisecond
)

// lockScript takes the lock KEYS[1] for the owner ARGV[1] with a lease of
// ARGV[2] ms if it is free, or already the owner's (the script's reply was
// lost and the client sent it again), and returns the stamp of the record
// KEYS[2] ("" when there is none) as a string; false if another owner
// holds the lock.
var lockScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	if redis.call('GET', KEYS[1]) ~= ARGV[1] then
		return false
	end
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('HGET', KEYS[2], 'stamp') or ''
`)

// unlockScript deletes the lock KEYS[1] if its owner is ARGV[1]; 1 if it
// did.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// renewScript extends the lock KEYS[1] to ARGV[2] ms if its owner is
// ARGV[1]; 1 if it did.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// Lock takes the lock called name of key, as store.Store describes (SET
// NX PX with a random owner, in a script), as a lease renewed in the
// background until unlock (see LockLease). unlock returns an error
// wrapping store.ErrLeaseLost if the lease had passed to another holder
// before it; nothing the holder saved was fenced, so use LockLease where
// that matters.
func (s *Store) Lock(ctx context.Context, key store.Key, name string) (func() error, error) {
	_, unlock, err := s.LockLease(ctx, key, name)
	return unlock, err
}

// LockLease takes the lock called name of key and returns a context that
// holds its lease, as store.LeaseLocker describes. It polls Redis, backing
// off up to 50 ms between tries, until the lock is free or ctx ends; then
// its error wraps store.ErrLockTimeout and ctx.Err(). When Redis cannot
// be reached it fails at once with an error wrapping store.ErrUnavailable.
//
// The lease lasts Options.LockTTL and is renewed every LockTTL/3. held
// ends with cause store.ErrLeaseLost when a renewal finds the lock gone or
// another holder's, or when LockTTL/10 is left of the lease as measured
// from the start of the last successful renewal (the allowance for the
// rates of Redis's clock and this machine's to differ, and for timers to
// run late).
func (s *Store) LockLease(ctx context.Context, key store.Key, name string) (context.Context, func() error, error) {
	if err := store.CheckLockName(name); err != nil {
		return nil, nil, err
	}
	l := &lease{s: s, key: key, name: name, lockKey: s.lockKey(key, name), owner: newOwner()}
	wait := pollMin
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, s.lockTimeout(key, name, err)
		}
		start := time.Now()
		stamp, err := lockScript.Run(ctx, s.c, []string{l.lockKey, s.recKey(key.ID())}, l.owner, s.ttl.Milliseconds()).Text()
		taken := errors.Is(err, redis.Nil)
		if err != nil && !taken {
			if ctx.Err() != nil {
				// Redis did not answer in time. The SET may still be
				// applied (a slow Redis): release it in the background,
				// so that no one waits out a lock no one holds.
				go l.releaseOrphan()
				return nil, nil, fmt.Errorf("redisstore: take the %q lock of %s: Redis at %s did not answer before the context ended (is it hung or overloaded?): %w: %w: %w",
					name, key, s.where, store.ErrUnavailable, store.ErrLockTimeout, ctx.Err())
			}
			return nil, nil, s.fail(ctx, fmt.Sprintf("take the %q lock of %s", name, key), err)
		}
		if !taken {
			l.stamp = stamp
			return l.start(ctx, start), l.unlock, nil
		}
		t := time.NewTimer(wait/2 + mrand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait = min(2*wait, pollMax)
	}
}

func (s *Store) lockTimeout(key store.Key, name string, ctxErr error) error {
	return fmt.Errorf("redisstore: gave up waiting for the %q lock of %s (%s): another process or goroutine holds it; "+
		"wait for it to finish or stop it (the lock of a process that died frees itself within %v): %w: %w",
		name, key, s.Describe(), s.ttl, store.ErrLockTimeout, ctxErr)
}

// releaseOrphan deletes the lock if a SET whose answer never came took it
// for l's owner, once Redis answers (within a lease).
func (l *lease) releaseOrphan() {
	ctx, cancel := context.WithTimeout(context.Background(), l.s.ttl)
	defer cancel()
	_ = unlockScript.Run(ctx, l.s.c, []string{l.lockKey}, l.owner).Err()
}

// newOwner returns a random value that no other holder will ever have.
func newOwner() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand's documented promise)
	return hex.EncodeToString(b[:])
}

// lease is one holding of a lock: it renews the lock, watches for its end
// and carries it in the held context (store.Lease).
type lease struct {
	s       *Store
	key     store.Key
	name    string
	lockKey string
	owner   string

	mu       sync.Mutex
	stamp    string    // the record's stamp when the lock was taken, or of this holder's last fenced write ("": no record)
	sureEnd  time.Time // start of the last successful renewal (or of the SET) + LockTTL, monotonic
	lost     bool      // the lock is known to be another's or gone, or sureEnd is near
	released bool      // unlock was called
	timer    *time.Timer
	endHeld  context.CancelCauseFunc

	stop     context.CancelFunc // stops the renewals (and any renewal in flight)
	done     chan struct{}      // closed when the renewing goroutine has returned
	once     sync.Once
	unlockEr error
}

type leaseCtxKey struct{}

// leaseOf returns the lease that ctx carries if it is a lock of key in s.
func leaseOf(ctx context.Context, s *Store, key store.Key) *lease {
	l, _ := ctx.Value(leaseCtxKey{}).(*lease)
	if l == nil || l.s != s || l.key != key {
		return nil
	}
	return l
}

// fence returns keys and args with the fence's own (the lock, its owner
// and the record's stamp this holder knows: see the fence script) added,
// for a write fenced by l; as they are when l is nil (no lease).
func (l *lease) fence(keys []string, args []any) ([]string, []any) {
	if l == nil {
		return keys, args
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return append(keys, l.lockKey), append(args, l.owner, l.stamp)
}

// wrote records the stamp of the record after this holder's fenced write
// ("" after a delete); nothing when l is nil.
func (l *lease) wrote(stamp string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.stamp = stamp
	l.mu.Unlock()
}

// margin is what is left of a lease when its holder stops trusting it.
func (l *lease) margin() time.Duration { return l.s.ttl / 10 }

// start begins holding a lock taken by a SET sent at start: it returns the
// held context and starts the renewals.
func (l *lease) start(ctx context.Context, start time.Time) context.Context {
	held, endHeld := context.WithCancelCause(ctx)
	l.mu.Lock()
	l.endHeld = endHeld
	l.sureEnd = start.Add(l.s.ttl)
	l.timer = time.AfterFunc(time.Until(l.sureEnd)-l.margin(), l.expire)
	l.mu.Unlock()
	renewCtx, stop := context.WithCancel(context.Background())
	l.stop = stop
	l.done = make(chan struct{})
	go l.renew(renewCtx)
	return context.WithValue(store.WithLease(held, l), leaseCtxKey{}, l)
}

// renew extends the lease every LockTTL/3 until it is released or lost.
// A renewal that fails (Redis unreachable) is tried again at the next
// tick; expire ends the lease if none succeeds in time.
func (l *lease) renew(ctx context.Context) {
	defer close(l.done)
	tick := time.NewTicker(l.s.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if renewHook != nil {
			renewHook(ctx, l)
		}
		l.mu.Lock()
		end, over := l.sureEnd, l.lost || l.released
		l.mu.Unlock()
		if over {
			return
		}
		start := time.Now()
		rctx, cancel := context.WithDeadline(ctx, end)
		n, err := renewScript.Run(rctx, l.s.c, []string{l.lockKey}, l.owner, l.s.ttl.Milliseconds()).Int64()
		cancel()
		switch {
		case err != nil:
			continue
		case n == 1:
			l.renewed(start)
		default:
			l.lose()
			return
		}
	}
}

// renewHook, when set by a test (before any lock is taken), runs before
// each renewal; it may block until ctx ends, to stall the holder.
var renewHook func(ctx context.Context, l *lease)

// renewed moves the lease's sure end after a renewal sent at start.
func (l *lease) renewed(start time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost || l.released {
		return
	}
	l.sureEnd = start.Add(l.s.ttl)
	l.timer.Reset(time.Until(l.sureEnd) - l.margin())
}

// expire runs when the lease nears its sure end: it ends the lease unless a
// renewal moved the end meanwhile.
func (l *lease) expire() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if left := time.Until(l.sureEnd); left > l.margin() {
		if !l.lost && !l.released {
			l.timer.Reset(left - l.margin())
		}
		return
	}
	l.loseLocked()
}

// lose marks the lease lost and ends the held context with
// store.ErrLeaseLost.
func (l *lease) lose() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loseLocked()
}

func (l *lease) loseLocked() {
	if l.lost || l.released {
		return
	}
	l.lost = true
	l.timer.Stop()
	l.endHeld(store.ErrLeaseLost)
}

// Held implements store.Lease.
//
// A margin longer than a third of the lease (LockTTL/3, the renewal
// period) counts as a third, as store.LeaseHeld allows: a lease shorter
// than the margin a caller needs could never be held long enough.
func (l *lease) Held(margin time.Duration) error {
	margin = min(margin, l.s.ttl/3)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch left := time.Until(l.sureEnd); {
	case l.released:
		return fmt.Errorf("redisstore: the %q lock of %s was released: %w", l.name, l.key, store.ErrLeaseLost)
	case l.lost:
		return fmt.Errorf("redisstore: the %q lock of %s was lost (taken by another holder, or its lease ended unrenewed): %w", l.name, l.key, store.ErrLeaseLost)
	case left < margin:
		return fmt.Errorf("redisstore: the lease of the %q lock of %s is sure for %v more, less than the %v needed: %w",
			l.name, l.key, left.Round(time.Millisecond), margin, store.ErrLeaseLost)
	}
	return nil
}

// unlock stops the renewals, ends the held context and releases the lock
// if it is still this holder's, once.
func (l *lease) unlock() error {
	l.once.Do(func() {
		l.mu.Lock()
		wasLost := l.lost
		l.released = true
		l.timer.Stop()
		l.mu.Unlock()
		l.stop()
		<-l.done
		l.endHeld(nil)
		ok, err := l.release()
		switch {
		case err != nil:
			l.unlockEr = fmt.Errorf("%w; the lock frees itself within %v", err, l.s.ttl)
		case !ok || wasLost:
			l.unlockEr = fmt.Errorf("redisstore: unlock of the %q lock of %s: the lock had passed to another holder, or its lease had ended, before unlock: %w",
				l.name, l.key, store.ErrLeaseLost)
		}
	})
	return l.unlockEr
}

// release deletes the lock if it is this holder's, waiting for Redis at
// most one lease (after which the lock is free anyway).
func (l *lease) release() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.s.ttl)
	defer cancel()
	n, err := unlockScript.Run(ctx, l.s.c, []string{l.lockKey}, l.owner).Int64()
	if err != nil {
		return false, l.s.fail(ctx, fmt.Sprintf("unlock the %q lock of %s", l.name, l.key), err)
	}
	return n == 1, nil
}
