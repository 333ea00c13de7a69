//go:build unix

package redisstore

import "os"

// groupOrOtherAccess reports whether the file's mode grants anything
// (read, write or execute) to its group or to others.
func groupOrOtherAccess(fi os.FileInfo) bool { return fi.Mode().Perm()&0o077 != 0 }
