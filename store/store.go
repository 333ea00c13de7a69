package store

import "context"

// Store keeps credential records, one per Key, and named locks per key.
// Every implementation is safe for concurrent use by many goroutines; the
// File and Keyring stores are also safe for use by many processes at once.
// store/storetest checks these promises.
type Store interface {
	// Load returns a copy of the record of key, or an error wrapping
	// ErrNotFound when there is none. Changing the copy changes nothing in
	// the store.
	Load(ctx context.Context, key Key) (*Record, error)

	// Save stores a copy of rec under rec.Key atomically: a reader sees the
	// old record or the new one, never a mix. It sets rec.Generation to the
	// new generation (the stored one plus 1, or 1 when there is none) and
	// rec.Updated to the time of the save, and returns the generation.
	// Concurrent Saves of one key, from any number of goroutines or
	// processes, each get a distinct generation, and the one stored last
	// wins whole. Generations start again at 1 after a Delete; compare
	// them for equality, not order.
	Save(ctx context.Context, rec *Record) (uint64, error)

	// Delete removes the record of key, or returns an error wrapping
	// ErrNotFound when there is none. Locks are not affected.
	Delete(ctx context.Context, key Key) error

	// List returns the keys of all records, sorted.
	List(ctx context.Context) ([]Key, error)

	// Lock takes the lock called name of key ("refresh" and "login" are
	// the ones authloop uses; locks of different names are independent)
	// and excludes every other holder of that lock, in this process and in
	// others, until the returned unlock is called. It waits until ctx is
	// done and then returns an error wrapping both ErrLockTimeout and
	// ctx.Err(). Calling unlock more than once is harmless. A lock held by
	// a process that died is free again. Load and Save of the same key do
	// not wait for these locks, so the holder can use them.
	Lock(ctx context.Context, key Key, name string) (unlock func() error, err error)

	// Describe says which store this is and where, for messages, such as
	// "file store at /home/a/.config/authloop".
	Describe() string
}

// Every store of this package is a Store.
var (
	_ Store = (*File)(nil)
	_ Store = (*Keyring)(nil)
	_ Store = (*Memory)(nil)
)
