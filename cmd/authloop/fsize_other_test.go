//go:build !unix

package main

// execLimitedIfAsked does nothing where there are no file size limits to
// set (fsize_unix_test.go): the tests that use one are built only on Unix.
func execLimitedIfAsked() {}
