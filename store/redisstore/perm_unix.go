//go:build unix

package redisstore

import "os"

// groupOrOtherReadable reports whether users other than the owner may
// read the file.
func groupOrOtherReadable(fi os.FileInfo) bool { return fi.Mode().Perm()&0o044 != 0 }
