//go:build !unix

package store_test

import "errors"

// mkfifo fails where there are no named pipes in the file system.
func mkfifo(string) error { return errors.ErrUnsupported }
