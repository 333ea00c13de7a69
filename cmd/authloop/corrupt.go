package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore"
)

// Issue 13 item 6: a corrupt record file (one the store cannot read as its
// key's record) leaves the person a command that gets them out: login
// moves it aside and signs in, logout deletes it, and the other commands
// exit 3 and say to log in.

// corruptMessage is what a command other than login and logout says of
// the profile's corrupt record.
func corruptMessage(profile string) string {
	return "the saved tokens of profile " + profile + " cannot be read: the record file is corrupt"
}

// corruptHint is the way out of a corrupt record.
func corruptHint(profile string) string {
	return "run: authloop login --profile " + profile + " (it moves the corrupt file aside), or authloop logout --profile " + profile + " to delete it"
}

// clearCorrupt is a store that clears a corrupt record out of the way when
// it loads it, and then reports no record: the store's Delete moves the
// file aside (File and Keyring do so with a corrupt record file; Redis
// deletes it), and with remove set, the moved file is deleted too. A
// record of a newer schema (redisstore.ErrNewerSchema) is not cleared:
// its Load error is returned as it is.
type clearCorrupt struct {
	store.Store
	remove bool

	mu    sync.Mutex
	aside string // where the corrupt file went ("" when removed or unknown)
	found bool
}

func (c *clearCorrupt) Load(ctx context.Context, key store.Key) (*store.Record, error) {
	rec, err := c.Store.Load(ctx, key)
	if !errors.Is(err, store.ErrCorrupt) || errors.Is(err, redisstore.ErrNewerSchema) {
		// A record of a newer schema is no corrupt one: a newer authloop
		// sharing the store (a fleet mid-upgrade) wrote it, and reads it.
		// It is never cleared: the command refuses, saying to upgrade.
		return rec, err
	}
	if derr := c.Store.Delete(ctx, key); derr != nil && !errors.Is(derr, store.ErrNotFound) {
		return nil, fmt.Errorf("%w; clearing it away failed: %w", err, derr)
	}
	aside := asideFile(c.Store, key)
	if c.remove && aside != "" {
		if rerr := os.Remove(aside); rerr != nil {
			return nil, fmt.Errorf("deleting the corrupt record file %s: %w", aside, rerr)
		}
		aside = ""
	}
	c.mu.Lock()
	c.found, c.aside = true, aside
	c.mu.Unlock()
	return nil, fmt.Errorf("%w: %s (the corrupt one was cleared away)", store.ErrNotFound, key)
}

// cleared reports whether a corrupt record was cleared away, and where it
// went.
func (c *clearCorrupt) cleared() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.found, c.aside
}

// asideFile is the newest file that a store keeping record files in a
// directory moved key's corrupt record to (<id>.json.corrupt-<UTC time>),
// or "".
func asideFile(st store.Store, key store.Key) string {
	d, ok := st.(interface{ Dir() string })
	if !ok {
		return ""
	}
	files, _ := filepath.Glob(filepath.Join(d.Dir(), key.ID()+".json.corrupt-*"))
	if len(files) == 0 {
		return ""
	}
	return slices.Max(files)
}
