package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/authloop/authloop/store"
)

// racingKeyring is a fake keyring whose every Get first lets another
// writer save the record again: a Load that reads without the save lock
// always finds its generation's items replaced.
type racingKeyring struct {
	*fakeKeyring
	save  func()
	racer func() // the save that races, put back after each one
}

func (r *racingKeyring) Get(service, user string) (string, error) {
	r.save()
	return r.fakeKeyring.Get(service, user)
}

// A Load that keeps losing the race with concurrent Saves (each replaces
// the items it is about to read) still returns the record: after a few
// lost rounds it reads under the save lock, where no Save can replace them.
// Was: it gave up after 8 rounds with "Object does not exist" (seen in CI
// with the OS keyring under storetest's ConcurrentSavers).
func TestKeyringLoadWinsAgainstEndlessSaves(t *testing.T) {
	rk := &racingKeyring{fakeKeyring: newFakeKeyring()}
	k, err := store.NewKeyringWithBackend(filepath.Join(t.TempDir(), "authloop"), "authloop-test", rk)
	if err != nil {
		t.Fatal(err)
	}
	rec := sampleRecord(helperKey)
	rk.save = func() {}
	if _, err := k.Save(bg, rec); err != nil {
		t.Fatal(err)
	}
	saves := 0
	rk.save = func() {
		// Another writer: it waits for the save lock at most a moment (the
		// locked Load holds it), and gives up then.
		ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
		defer cancel()
		again := rec.Clone()
		rk.save, saves = func() {}, saves+1 // no recursion through this Save's own reads
		if _, err := k.Save(ctx, again); err != nil && ctx.Err() == nil {
			t.Errorf("the racing save: %v", err)
		}
		rk.save = rk.racer
	}
	rk.racer = rk.save
	got, err := k.Load(bg, helperKey)
	rk.save = func() {}
	if err != nil {
		t.Fatalf("Load against endless saves (%d of them): %v", saves, err)
	}
	if got.Token == nil || got.Token.AccessToken != rec.Token.AccessToken {
		t.Errorf("Load returned another record: %+v", got)
	}
}
