package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Memory is a Store that keeps records in this process only: for tests,
// and for programs that should forget their sign-in when they exit. Its
// locks exclude goroutines of this process. The zero value is not ready
// for use; call NewMemory.
type Memory struct {
	mu      sync.Mutex
	records map[Key]*Record
	locks   map[memLockKey]chan struct{}
}

type memLockKey struct {
	key  Key
	name string
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{records: make(map[Key]*Record), locks: make(map[memLockKey]chan struct{})}
}

// Load returns a copy of the record of key, or an error wrapping
// ErrNotFound.
func (m *Memory) Load(ctx context.Context, key Key) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[key]
	if !ok {
		return nil, fmt.Errorf("%w: %s in the memory store", ErrNotFound, key)
	}
	return r.Clone(), nil
}

// Save keeps a copy of rec, as Store.Save describes. The copy is what a
// trip through JSON makes of rec, as in the file stores: numbers in
// Token.Extra come back as float64, metadata compacted.
func (m *Memory) Save(ctx context.Context, rec *Record) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := checkRecord(rec); err != nil {
		return 0, err
	}
	// A trip through JSON gives back what the file stores give back:
	// numbers in Extra as float64, metadata compacted, times in UTC.
	data, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("store: save %s: %w", rec.Key, err)
	}
	var c *Record
	if err := json.Unmarshal(data, &c); err != nil {
		return 0, fmt.Errorf("store: save %s: %w", rec.Key, err)
	}
	c.Updated = time.Now().UTC().Round(0)
	m.mu.Lock()
	defer m.mu.Unlock()
	c.Generation = 1
	if old, ok := m.records[rec.Key]; ok {
		c.Generation = old.Generation + 1
	}
	m.records[rec.Key] = c
	rec.Generation, rec.Updated = c.Generation, c.Updated
	return c.Generation, nil
}

// Delete removes the record of key, or returns an error wrapping
// ErrNotFound.
func (m *Memory) Delete(ctx context.Context, key Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.records[key]; !ok {
		return fmt.Errorf("%w: %s in the memory store", ErrNotFound, key)
	}
	delete(m.records, key)
	return nil
}

// List returns the keys of all records, sorted.
func (m *Memory) List(ctx context.Context) ([]Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	keys := make([]Key, 0, len(m.records))
	for k := range m.records {
		keys = append(keys, k)
	}
	m.mu.Unlock()
	slices.SortFunc(keys, compareKeys)
	return keys, nil
}

// Lock takes the named lock of key among the goroutines of this process,
// as Store.Lock describes.
func (m *Memory) Lock(ctx context.Context, key Key, name string) (func() error, error) {
	if err := CheckLockName(name); err != nil {
		return nil, err
	}
	lk := memLockKey{key, name}
	m.mu.Lock()
	ch, ok := m.locks[lk]
	if !ok {
		ch = make(chan struct{}, 1)
		m.locks[lk] = ch
	}
	m.mu.Unlock()
	if err := acquire(ctx, ch); err != nil {
		return nil, lockTimeoutError(key, name, "memory store", err)
	}
	return releaser(ch, nil), nil
}

// Describe returns "memory store".
func (m *Memory) Describe() string { return "memory store" }

// acquire takes the one-slot semaphore ch, or returns ctx's error. A ctx
// already done never takes it, even when it is free.
func acquire(ctx context.Context, ch chan struct{}) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// releaser returns an unlock function that runs then (if any) and frees ch,
// once, however often it is called.
func releaser(ch chan struct{}, then func() error) func() error {
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			if then != nil {
				err = then()
			}
			<-ch
		})
		return err
	}
}

// checkRecord refuses what no store can keep faithfully.
func checkRecord(rec *Record) error {
	if rec == nil {
		return fmt.Errorf("store: Save of a nil record")
	}
	if len(rec.Metadata) > 0 && !json.Valid(rec.Metadata) {
		return fmt.Errorf("store: Save of %s: Metadata is not valid JSON", rec.Key)
	}
	if rec.Client != nil && len(rec.Client.Metadata) > 0 && !json.Valid(rec.Client.Metadata) {
		return fmt.Errorf("store: Save of %s: Client.Metadata is not valid JSON", rec.Key)
	}
	return nil
}

// CheckLockName reports whether name may name a lock (Store.Lock): 1 to
// 32 of a-z, 0-9, '-' and '_' (safe in a lock file's name), and not
// "save", which the stores reserve for their own use. Every store of this
// module checks names with it, and a Store kept elsewhere should too, so
// that a name one store takes every store takes.
func CheckLockName(name string) error {
	ok := name != "" && len(name) <= 32
	for _, c := range name {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("store: lock name %q: use 1 to 32 of a-z, 0-9, '-' and '_'", name)
	}
	if name == saveLockName {
		return fmt.Errorf("store: lock name %q is reserved for the store's own use; choose another name", name)
	}
	return nil
}

// saveLockName is the internal lock that serializes Saves of one key.
const saveLockName = "save"

func compareKeys(a, b Key) int {
	return cmp.Or(cmp.Compare(a.Issuer, b.Issuer), cmp.Compare(a.ClientID, b.ClientID),
		cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Account, b.Account), cmp.Compare(a.Grant, b.Grant))
}
