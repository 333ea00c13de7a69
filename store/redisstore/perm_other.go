//go:build !unix

package redisstore

import "os"

// groupOrOtherAccess reports false where file modes do not say who may
// read or write a file (Windows: its ACLs decide).
func groupOrOtherAccess(os.FileInfo) bool { return false }
