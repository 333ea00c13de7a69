//go:build !unix

package main

// execLimitedIfAsked: the file size limit tests run on Unix only.
func execLimitedIfAsked() {}
