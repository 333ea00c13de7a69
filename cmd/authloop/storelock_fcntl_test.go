//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package main

import (
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// holdStoreLock takes the lock called name of the single record in c's
// file store, as another process would (the test is one), until the test
// ends or it calls the returned function. The file store keeps a record's
// locks as bytes of <id>.lock (store/filelock_fcntl.go): the byte at the
// FNV-1a 64 hash of the name, shifted right by two.
func holdStoreLock(t *testing.T, c *cli, name string) func() {
	t.Helper()
	recs := recordFiles(t, c)
	if len(recs) != 1 {
		t.Fatalf("record files: %v", recs)
	}
	path := recs[0][:len(recs[0])-len(".json")] + ".lock"
	f, err := os.OpenFile(filepath.Clean(path), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	h := fnv.New64a()
	_, _ = io.WriteString(h, name)
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart, Start: int64(h.Sum64() >> 2), Len: 1}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk); err != nil {
		t.Fatal(err)
	}
	release := func() { _ = f.Close() } // closing drops the lock
	t.Cleanup(release)
	return release
}

// oneLockFilePerRecord: here the file store keeps one lock file per
// record, removed with it.
func oneLockFilePerRecord(*testing.T) {}
