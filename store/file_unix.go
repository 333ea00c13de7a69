//go:build unix

package store

import (
	"fmt"
	"io/fs"
	"syscall"

	"github.com/google/renameio/v2"
)

// ownerUID returns the user ID that owns the file fi describes.
func ownerUID(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// writeAtomic replaces path with data: a temporary file created 0600 in
// the same directory, written, synced, renamed over path; then the
// directory is synced so the rename survives a crash.
func (f *File) writeAtomic(path string, data []byte) error {
	pf, err := renameio.NewPendingFile(path, renameio.WithTempDir(f.dir), renameio.WithStaticPermissions(0o600))
	if err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	defer pf.Cleanup()
	if _, err := pf.Write(data); err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	return syncDir(f.dir)
}
