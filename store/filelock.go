package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// A file lock is two locks taken in order: a one-slot semaphore shared by
// every goroutine of this process that locks the same path (flock works
// per open file description, and waiting on a channel honours ctx without
// polling), then the flock(2) of the file itself, which excludes other
// processes and is released by the OS when its holder dies.

// inProcess maps a lock file's path to the semaphore of this process.
var inProcess sync.Map // string -> chan struct{}

func semaphore(path string) chan struct{} {
	if ch, ok := inProcess.Load(path); ok {
		return ch.(chan struct{})
	}
	ch, _ := inProcess.LoadOrStore(path, make(chan struct{}, 1))
	return ch.(chan struct{})
}

// Poll intervals of a lock held by another process: short at first, so an
// uncontended handover is quick, then longer.
const (
	minPoll = time.Millisecond
	maxPoll = 25 * time.Millisecond
)

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
	poll := minPoll
	var timer *time.Timer
	for {
		ok, err := fl.TryLock()
		if err != nil {
			return nil, fmt.Errorf("store: lock %s: %w", path, err)
		}
		if ok {
			if timer != nil {
				timer.Stop()
			}
			return fl, nil
		}
		if timer == nil {
			timer = time.NewTimer(poll)
		} else {
			timer.Reset(poll)
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
		poll = min(2*poll, maxPoll)
	}
}

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return fmt.Sprintf("mode %04o", m.Perm())
	default:
		return "a special file, " + m.String()
	}
}
