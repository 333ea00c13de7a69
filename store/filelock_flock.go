//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// Here (Windows, and Unix systems without fcntl record locks in package
// syscall) each lock of a record is the flock of a file of its own,
// <id>.<name>.lock, kept when the record is deleted.

func (f *File) lockPath(key Key, name string) string {
	return filepath.Join(f.dir, key.ID()+"."+name+".lock")
}

// lockRecord takes the named lock of key.
func (f *File) lockRecord(ctx context.Context, key Key, name string) (func() error, error) {
	return lockFile(ctx, f.lockPath(key, name))
}

// lockFile takes the lock of the file at path, creating the file (0600) if
// needed, and waits until ctx is done. The error of a wait that ctx ended
// is ctx's error itself, for the caller to wrap; other errors name the
// file.
func lockFile(ctx context.Context, path string) (unlock func() error, err error) {
	ch := semaphore(path)
	if err := acquire(ctx, ch); err != nil {
		return nil, err
	}
	fl, err := flockFile(ctx, path)
	if err != nil {
		<-ch
		return nil, err
	}
	return releaser(ch, func() error {
		if err := fl.Unlock(); err != nil {
			return fmt.Errorf("store: unlock %s: %w", path, err)
		}
		return nil
	}), nil
}

func flockFile(ctx context.Context, path string) (*flock.Flock, error) {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("store: lock file %s is not a regular file (%s): remove it (rm %s); it is made again as needed",
			path, describeMode(fi.Mode()), path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("store: lock file: %w", err)
	}
	fl := flock.New(path, flock.SetPermissions(0o600))
	var p poller
	defer p.stop()
	for {
		ok, err := fl.TryLock()
		if err != nil {
			return nil, fmt.Errorf("store: lock %s: %w", path, err)
		}
		if ok {
			return fl, nil
		}
		if err := p.wait(ctx); err != nil {
			return nil, err
		}
	}
}
