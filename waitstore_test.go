package authloop

import (
	"context"
	"sync/atomic"

	"github.com/authloop/authloop/store"
)

// waitingStore counts, around a store, the Lock calls in progress (entered,
// not yet returned) by lock name, and the saves begun: a test can then wait
// until a session is blocked on a lock another "process" holds, or has
// saved without it, instead of sleeping for a while and hoping.
type waitingStore struct {
	store.Store
	refreshWaits atomic.Int32 // Lock(…, "refresh") calls in progress
	loginWaits   atomic.Int32 // Lock(…, "login") calls in progress
	saves        atomic.Int32
}

func (w *waitingStore) Lock(ctx context.Context, key store.Key, name string) (func() error, error) {
	n := &w.refreshWaits
	if name == "login" {
		n = &w.loginWaits
	}
	n.Add(1)
	defer n.Add(-1)
	return w.Store.Lock(ctx, key, name)
}

func (w *waitingStore) Save(ctx context.Context, rec *store.Record) (uint64, error) {
	w.saves.Add(1)
	return w.Store.Save(ctx, rec)
}
