package store

import (
	"errors"
	"fmt"
)

// Errors that callers branch on with errors.Is.
var (
	// ErrNotFound is wrapped by the error of Load and Delete when the store
	// holds no record for the key.
	ErrNotFound = errors.New("store: no such record")

	// ErrLockTimeout is wrapped by the error of Lock when ctx ended before
	// the lock was free. The same error also wraps ctx's error, and names
	// the key and the lock.
	ErrLockTimeout = errors.New("store: lock timeout")

	// ErrCorrupt is wrapped by the error of Load, List and Delete when a
	// record file cannot be read as a record of its key: bad JSON, an
	// unknown schema version, or another key. The file is never deleted or
	// emptied by the store; see File for what Save does with it.
	ErrCorrupt = errors.New("store: corrupt record")

	// ErrSecretsMissing is wrapped by the error of Load when a record says
	// its secrets are kept in the OS keyring but the keyring does not hold
	// them (the keyring was reset, or the record was copied from another
	// machine or user). A new login that saves the record again fixes it.
	ErrSecretsMissing = errors.New("store: the record's secrets are missing from the OS keyring")

	// ErrUnavailable is wrapped by the errors of a store kept in a server
	// (store/redisstore) when the server cannot be reached: a transient
	// failure, worth trying again later. Nothing was changed, or the
	// change cannot be known to have happened; a Save may be retried (it
	// assigns a new generation).
	ErrUnavailable = errors.New("store: the store's server cannot be reached")
)

// lockTimeoutError builds the error of a Lock that gave up: it wraps
// ErrLockTimeout and ctxErr, and names the key, the lock and where it is.
func lockTimeoutError(key Key, name, where string, ctxErr error) error {
	return fmt.Errorf("store: gave up waiting for the %q lock of %s (%s): another process or goroutine holds it; "+
		"wait for it to finish or stop it (a lock of a process that died is released by the OS): %w: %w",
		name, key, where, ErrLockTimeout, ctxErr)
}
