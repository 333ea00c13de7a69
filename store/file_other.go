//go:build !unix

package store

import (
	"fmt"
	"io/fs"
	"os"
)

// ownerUID reports no owner: where there are no Unix user IDs (Windows),
// the directory's ACL, inherited from the user's profile directory, is
// what keeps other users out.
func ownerUID(fs.FileInfo) (int, bool) { return 0, false }

// writeAtomic replaces path with data: a temporary file in the same
// directory, written, synced and closed, then renamed over path (on
// Windows, os.Rename replaces the target in one step, MoveFileEx with
// MOVEFILE_REPLACE_EXISTING). renameio, used on Unix, does not build here.
func (f *File) writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(f.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	ok = true
	return syncDir(f.dir)
}
