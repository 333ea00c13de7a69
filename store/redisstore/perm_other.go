//go:build !unix

package redisstore

import "os"

// groupOrOtherReadable reports false where file modes do not say who may
// read a file (Windows: its ACLs decide).
func groupOrOtherReadable(os.FileInfo) bool { return false }
