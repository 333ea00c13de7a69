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

// moreParallelIfShort lets up to 8 parallel tests run at once under
// -short, unless -test.parallel is given: the package's parallel tests
// (below) mostly wait, so more of them side by side than the machine's
// cores (the default) shortens the run. The full tier keeps the default.
func moreParallelIfShort() {
	flag.Parse()
	if !testing.Short() {
		return
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", "8")
	}
}

// The package's tests that wait longest on the real clock (a Lock of a held
// lock until its deadline, a probe of a keyring that never answers) and
// touch no package state but their own temporary directories and fake
// keyrings call t.Parallel, so that after the sequential tests their waits
// overlap instead of adding up: TestMemory, TestFile and TestKeyring (the
// storetest suites), TestProbe, TestKeyringLockAcrossStores and
// TestFileLockSameFileUnderTwoNamesExcludesGoroutines. A test that sets
// the environment (t.Setenv) or changes package state must not be
// parallel.
