//go:build unix

package assertion

import (
	"fmt"
	"io/fs"
)

// ownerOnly refuses a key file whose mode lets its group or others read or
// write it: the key is the client's identity.
func ownerOnly(path string, info fs.FileInfo) error {
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("the key file %s is open to its group or others (mode %04o); make it the owner's only: chmod 600 %s", path, perm, path)
	}
	return nil
}
