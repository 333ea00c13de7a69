//go:build unix && !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package main

import (
	"strings"
	"testing"

	"github.com/gofrs/flock"
)

// holdStoreLock takes the lock called name of the single record in c's
// file store, as another process would, until the test ends or it calls
// the returned function: here, the flock of <id>.<name>.lock.
func holdStoreLock(t *testing.T, c *cli, name string) func() {
	t.Helper()
	recs := recordFiles(t, c)
	if len(recs) != 1 {
		t.Fatalf("record files: %v", recs)
	}
	lock := flock.New(strings.TrimSuffix(recs[0], ".json") + "." + name + ".lock")
	if err := lock.Lock(); err != nil {
		t.Fatal(err)
	}
	release := func() { _ = lock.Unlock() }
	t.Cleanup(release)
	return release
}

// oneLockFilePerRecord skips: here the file store keeps a lock file per
// lock.
func oneLockFilePerRecord(t *testing.T) { t.Skip("a lock file per lock on this system") }
