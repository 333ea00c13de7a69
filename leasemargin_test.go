package authloop

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// shortLeaseStore is a memory store whose leases always have left to
// run, as a lease held by a process that stalled until just before it ran
// out would.
type shortLeaseStore struct {
	*store.Memory
	left time.Duration
}

type shortLease struct{ left time.Duration }

func (l shortLease) Held(margin time.Duration) error {
	if l.left < margin {
		return fmt.Errorf("%w: %v left, %v needed", store.ErrLeaseLost, l.left, margin)
	}
	return nil
}

func (s *shortLeaseStore) LockLease(ctx context.Context, key store.Key, name string) (context.Context, func() error, error) {
	unlock, err := s.Lock(ctx, key, name)
	if err != nil {
		return nil, nil, err
	}
	return store.WithLease(ctx, shortLease{s.left}), unlock, nil
}

// A refresh request is sent under a lease only while the lease surely
// runs for a while yet (two seconds): with one second left, the request
// could reach the server after another holder took the lock and sent the
// same refresh token, so it is not sent; with three, it is.
func TestRefreshNeedsTwoSecondsOfLease(t *testing.T) {
	for _, left := range []time.Duration{time.Second, 3 * time.Second} {
		t.Run(left.String(), func(t *testing.T) {
			f := newFixture(t, oauthtest.Config{}, true)
			f.cfg.Store = &shortLeaseStore{Memory: store.NewMemory(), left: left}
			s := f.session()
			_, err := s.Refresh(context.Background())
			if sent := f.refreshes() == 1; sent != (left > 2*time.Second) {
				t.Fatalf("%v of lease left: refresh sent %v (%v)", left, sent, err)
			}
			if left < 2*time.Second && !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("%v of lease left: %v, want an error wrapping store.ErrLeaseLost", left, err)
			}
		})
	}
}
