//go:build unix

package store_test

import "syscall"

// setUmask sets the process's umask and returns the old one (no test of
// this package runs in parallel, so nothing else creates files meanwhile).
func setUmask(m int) int { return syscall.Umask(m) }
