//go:build !unix

package main

import "testing"

// oneLockFilePerRecord skips: here the file store keeps a lock file per
// lock.
func oneLockFilePerRecord(t *testing.T) { t.Skip("a lock file per lock on this system") }
