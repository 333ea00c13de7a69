package authloop

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// leaseStore is a memory store whose locks are leases
// (store.LeaseLocker), as a store kept in a server has: the test decides
// when the lease is lost. It records whether each Save came with the
// lease, and refuses a fenced save once the lease is lost.
type leaseStore struct {
	*store.Memory
	lost atomic.Bool // the lease has passed to another holder
	// loseAfterCheck: the lease is lost right after a holder's check
	// (LeaseHeld) found it held: while its request is on the way.
	loseAfterCheck atomic.Bool
	leases         atomic.Int32
	mu             sync.Mutex
	saves          []bool // per Save: whether its context carried the lease
}

// probeMargin, given to store.LeaseHeld, makes a testLease answer
// errLeaseProbe: the way a Save tells a context that carries the lease
// from one that does not.
const probeMargin = -time.Nanosecond

var errLeaseProbe = errors.New("the lease is here")

type testLease struct{ s *leaseStore }

func (l testLease) Held(margin time.Duration) error {
	switch {
	case margin == probeMargin:
		return errLeaseProbe
	case l.s.lost.Load():
		return store.ErrLeaseLost
	case l.s.loseAfterCheck.Swap(false):
		l.s.lost.Store(true)
	}
	return nil
}

func (s *leaseStore) LockLease(ctx context.Context, key store.Key, name string) (context.Context, func() error, error) {
	unlock, err := s.Lock(ctx, key, name)
	if err != nil {
		return nil, nil, err
	}
	s.leases.Add(1)
	return store.WithLease(ctx, testLease{s}), unlock, nil
}

func (s *leaseStore) Save(ctx context.Context, rec *store.Record) (uint64, error) {
	leased := errors.Is(store.LeaseHeld(ctx, probeMargin), errLeaseProbe)
	s.mu.Lock()
	s.saves = append(s.saves, leased)
	s.mu.Unlock()
	if leased && s.lost.Load() {
		return 0, store.ErrLeaseLost
	}
	return s.Memory.Save(ctx, rec)
}

// leasedSaves returns, per Save so far, whether it carried the lease.
func (s *leaseStore) leasedSaves() []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bool(nil), s.saves...)
}

var _ store.LeaseLocker = (*leaseStore)(nil)

func newLeaseStore() *leaseStore { return &leaseStore{Memory: store.NewMemory()} }

// A Session on a store whose locks are leases refreshes under the lease
// (LockLease, not Lock) and saves with the lease's context, so the store
// can fence the save.
func TestSessionRefreshesUnderTheLease(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := newLeaseStore()
	f.cfg.Store = st
	s := f.session()
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.refreshes() != 1 {
		t.Fatalf("%d refreshes, want 1", f.refreshes())
	}
	if st.leases.Load() == 0 {
		t.Error("the refresh took no lease (LockLease was not used)")
	}
	saves := st.leasedSaves()
	if len(saves) < 2 || !saves[len(saves)-1] {
		t.Errorf("saves with the lease: %v; want the refresh's save (the last) fenced by the lease", saves)
	}
	if saves[0] {
		t.Error("NewSession's save, made without any lock, claims a lease")
	}
}

// A holder whose lease may have passed to another holder (this process
// was stalled past the lease) sends no token request: the other holder
// may be presenting the same refresh token. The session keeps its token,
// and the error says why.
func TestSessionSendsNoRefreshAfterTheLeaseIsLost(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := newLeaseStore()
	f.cfg.Store = st
	s := f.session()
	before := s.Cached()
	st.lost.Store(true)
	_, err := s.Refresh(context.Background())
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Refresh: %v, want an error wrapping store.ErrLeaseLost", err)
	}
	if n := f.refreshes(); n != 0 {
		t.Errorf("%d refresh requests sent after the lease was lost, want none", n)
	}
	if got := s.Cached(); got == nil || got.AccessToken != before.AccessToken {
		t.Error("the session dropped or replaced its token")
	}
	// Once the lease is held again, the next refresh goes through.
	st.lost.Store(false)
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh with the lease held: %v", err)
	}
	if n := f.refreshes(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

// A lease lost while the refresh request is on the way: the store refuses
// the fenced save, and the session keeps the rotated token it got (the
// grant, at a rotating server) as its live token, and saves it under a
// new lease later (here at Close) instead of dropping it.
func TestSessionKeepsTheTokenWhoseFencedSaveWasRefused(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := newLeaseStore()
	f.cfg.Store = st
	s := f.session()
	st.loseAfterCheck.Store(true)
	tok, err := s.Refresh(context.Background())
	var se *SaveError
	if !errors.As(err, &se) || !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Refresh: %v, want a *SaveError wrapping store.ErrLeaseLost", err)
	}
	if msg := err.Error(); strings.Contains(msg, "fix the store") || !strings.Contains(msg, "passed to another holder") {
		t.Errorf("the error blames the store instead of saying the lock passed on: %v", err)
	}
	if tok == nil || tok.RefreshToken == f.tok.RefreshToken {
		t.Fatal("the rotated token was not returned")
	}
	if got := s.Cached(); got == nil || got.RefreshToken != tok.RefreshToken {
		t.Fatal("the session does not hold the rotated token")
	}
	st.lost.Store(false) // the lock can be had again
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	rec, err := st.Load(context.Background(), s.Key())
	if err != nil || rec.Token == nil || rec.Token.RefreshToken != tok.RefreshToken {
		t.Errorf("the store does not hold the rotated refresh token after Close (%v)", err)
	}
}
