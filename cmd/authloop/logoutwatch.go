package main

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/authloop/authloop/store"
)

// Issue 16: logout tells what happened, each half on its own: whether the
// server revoked the grant, and whether the record was deleted. The
// library's Logout returns one error for both (the revocation's, the
// delete's, a read's, joined); the store logout works through
// (deleteWatch) sees the delete and the reads, so what is left of that
// error is the revocation's.

// deleteWatch is logout's store: it remembers whether the record's delete
// was tried, how it ended, and the errors of the store's reads.
type deleteWatch struct {
	store.Store

	mu        sync.Mutex
	tried     bool
	deleteErr error
	storeErrs []error // every error the store returned
}

func (w *deleteWatch) Load(ctx context.Context, key store.Key) (*store.Record, error) {
	rec, err := w.Store.Load(ctx, key)
	w.note(err)
	return rec, err
}

func (w *deleteWatch) Delete(ctx context.Context, key store.Key) error {
	err := w.Store.Delete(ctx, key)
	w.mu.Lock()
	w.tried = true
	w.deleteErr = err
	w.mu.Unlock()
	w.note(err)
	return err
}

func (w *deleteWatch) note(err error) {
	if err == nil {
		return
	}
	w.mu.Lock()
	w.storeErrs = append(w.storeErrs, err)
	w.mu.Unlock()
}

// deleted reports whether the delete was tried, and its error: nil when
// it deleted the record, or found none.
func (w *deleteWatch) deleted() (tried bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if errors.Is(w.deleteErr, store.ErrNotFound) {
		return w.tried, nil
	}
	return w.tried, w.deleteErr
}

// revocationErr is what is left of err, an error of Session.Logout, once
// the store's errors are taken out of it: the revocation's, or nil.
func (w *deleteWatch) revocationErr(err error) error {
	if err == nil {
		return nil
	}
	parts := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts = j.Unwrap()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var left []error
	for _, p := range parts {
		fromStore := false
		for _, se := range w.storeErrs {
			if errors.Is(p, se) {
				fromStore = true
				break
			}
		}
		if !fromStore {
			left = append(left, p)
		}
	}
	switch len(left) {
	case 0:
		return nil
	case len(parts):
		return err
	case 1:
		return left[0]
	}
	return errors.Join(left...)
}

// revocationFailure says in a few words why the revocation failed, without
// the library's "the tokens were deleted here": logout says what became of
// the tokens itself.
func revocationFailure(err error) string {
	why := failure(err)
	for _, s := range []string{"the tokens were deleted here, but ", "the tokens were deleted here; "} {
		why = strings.ReplaceAll(why, s, "")
	}
	return why
}
