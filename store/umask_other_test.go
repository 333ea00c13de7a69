//go:build !unix

package store_test

// setUmask does nothing where there is no umask (Windows); the tests that
// call it check Unix permission bits, which mean nothing there either.
func setUmask(int) int { return 0 }
