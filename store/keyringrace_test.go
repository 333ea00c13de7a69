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
//
// The racing writer runs inside Load's read of the keyring, so it can tell
// without waiting which kind of read it is in: while Load holds the save
// lock (SaveLockHeld) a Save would wait for Load, which waits for it, so
// the writer counts that read and saves nothing; otherwise its Save must
// succeed, and replaces the items Load is about to read.
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
	// After this many saves Load has not turned to the save lock: the
	// writer stops, so that a Load that never would still returns.
	const tooMany = 10
	saves, lockedReads := 0, 0
	rk.save = func() {
		if store.SaveLockHeld(k, helperKey) {
			lockedReads++ // Load reads under the save lock: no Save can run
			return
		}
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		again := rec.Clone()
		rk.save, saves = func() {}, saves+1 // no recursion through this Save's own reads
		if _, err := k.Save(ctx, again); err != nil {
			t.Errorf("the racing save, with the save lock free: %v", err)
		}
		if saves < tooMany {
			rk.save = rk.racer
		}
	}
	rk.racer = rk.save
	got, err := k.Load(bg, helperKey)
	rk.save = func() {}
	if err != nil {
		t.Fatalf("Load against endless saves (%d of them): %v", saves, err)
	}
	if saves >= tooMany {
		t.Errorf("Load still read without the save lock after losing %d rounds", saves)
	}
	if saves == 0 || lockedReads == 0 {
		t.Errorf("Load lost %d rounds to racing saves and read %d times under the save lock; want both", saves, lockedReads)
	}
	if got.Token == nil || got.Token.AccessToken != rec.Token.AccessToken {
		t.Errorf("Load returned another record: %+v", got)
	}
}

// gatedKeyring is a fake keyring whose Set, once armed, says it was
// entered and waits to be released.
type gatedKeyring struct {
	*fakeKeyring
	entered, release chan struct{}
}

func (g *gatedKeyring) Set(service, user, secret string) error {
	if g.entered != nil {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.fakeKeyring.Set(service, user, secret)
}

// A Load does not wait for a Save in progress (which holds the save lock
// while the keyring takes its time): it returns the record saved before.
func TestKeyringLoadDoesNotWaitForSave(t *testing.T) {
	gk := &gatedKeyring{fakeKeyring: newFakeKeyring()}
	k, err := store.NewKeyringWithBackend(filepath.Join(t.TempDir(), "authloop"), "authloop-test", gk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	gk.entered, gk.release = make(chan struct{}), make(chan struct{})
	saved := make(chan error, 1)
	go func() {
		rec := sampleRecord(helperKey)
		rec.Token.AccessToken = "secret-new"
		_, err := k.Save(bg, rec)
		saved <- err
	}()
	<-gk.entered
	// A safety net only: a Load that waits for the save lock would wait
	// for the Save, which waits for this test.
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	got, err := k.Load(ctx, helperKey)
	close(gk.release)
	if err != nil || got.Generation != 1 || got.Token.AccessToken != "secret-access-value" {
		t.Errorf("Load during a Save: %v, %v; want generation 1 at once", got, err)
	}
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
}
