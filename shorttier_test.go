package authloop

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
// -short, unless -test.parallel is given: the parallel tests (below)
// mostly wait (on servers, gates, deadlines, retry pauses), so more of them
// side by side than the machine's cores (the default) shortens the run.
// The full tier keeps the default.
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

// The package's slowest tests that touch no package state (no Setenv, no
// devicePollUnit, no retryWait, no goroutine stacks read, no fixed port)
// call t.Parallel, so that, after the sequential tests, they wait on their
// servers, fake clocks, gates, retry pauses and deadlines side by side
// (up to 8 at once under -short: moreParallelIfShort) rather than one
// after another: TestFaultMatrix, the clock tests
// TestClockSkewWithExpiresIn, TestClockSkewWithJWTExpiry and
// TestClockJumpBackward, TestAttackConfigErrorTimerDoesNotLoop,
// TestSessionRefreshAfterBackgroundLoginRequired, TestLoginTimeout,
// TestRefreshRetriesWaitBetweenAttempts, TestStopDuringLoginExchange,
// TestAttackCallerJoiningSaveRetry, TestAttackLogoutForgetsUnsavedTokens,
// TestAttackFailedLogoutKeepsBackgroundRefresh, TestStopDuringRefresh,
// TestSessionRetriesTransientFaults, TestSessionLogoutLockNotTaken,
// TestTimerFiringDuringSlowTokenChange,
// TestAttackUnsavedTokenNotReplacedByOlderRecord,
// TestSessionBackgroundRefresh, TestSaveFailureRetriedByTimer,
// TestAttackSelfSignedCertificate, TestLostRotationResponse and
// TestReliabilityDocNamesRealTests. Before a test joins them, follow every
// helper it calls. A test that changes package state must not be
// parallel: it would change it under these.
