package store_test

import (
	"flag"
	"os"
	"testing"
)

// memoryTempDirIfShort puts the tests' temporary directories (t.TempDir,
// os.MkdirTemp) on /dev/shm under -short, the fast tier
// (docs/TESTING.md), unless TMPDIR is set: the file store syncs each save
// to disk (fsync of the file and of its directory), which on a busy
// machine's disk costs milliseconds apiece, and costs nothing in memory.
// The same code runs; the full tier (make test) writes to the disk.
func memoryTempDirIfShort() {
	flag.Parse()
	if !testing.Short() || os.Getenv("TMPDIR") != "" {
		return
	}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		os.Setenv("TMPDIR", "/dev/shm")
	}
}
