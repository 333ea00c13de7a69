//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Every lock of a record lives in one file, <id>.lock: the lock called
// name is an fcntl(2) write lock of the one byte at lockOffset(name),
// so locks of different names are independent, and a store directory
// holds at most one lock file per record (issue 13 item 8). The file is
// removed by the last unlock once the record file is gone, so a deleted
// record leaves none behind:
//
//   - the remover removes it only while it holds a write lock of the whole
//     file (so no other process holds or takes any of its locks) and no
//     other goroutine of its process uses it, after checking, under that
//     lock, that the record file does not exist;
//   - a process that took a lock of a file since removed (it waited on the
//     old file) sees that the path no longer names the file it holds, lets
//     go and tries again with the file now at the path.
//
// fcntl locks belong to a process, not to a file descriptor, and closing
// any descriptor of the file drops all the process's locks on it: so a
// process opens each lock file once (lockFiles), shares the descriptor
// among its locks and closes it when the last is released; its goroutines
// exclude each other through the semaphore of each lock (filelock.go) and,
// for a file reached under two names, the bytes held through the shared
// descriptor (sharedFile.held).

// lockOffset is the byte of the lock called name: the FNV-1a 64 hash of
// the name, shifted right by two (a positive file offset on every
// platform). Another implementation of this layout locks the same byte.
func lockOffset(name string) int64 {
	h := fnv.New64a()
	_, _ = io.WriteString(h, name)
	return int64(h.Sum64() >> 2)
}

func (f *File) lockPath(key Key, _ string) string {
	return filepath.Join(f.dir, key.ID()+".lock")
}

// sharedFile is this process's open descriptor of one lock file.
type sharedFile struct {
	path string
	f    *os.File
	fi   fs.FileInfo // of f, when opened
	refs int         // locks held or being taken through it
	// held are the bytes that goroutines of this process hold through f
	// (lockFiles guards it): the OS grants a byte to every goroutine of
	// the process that asks, and a file reached under two names (a store
	// opened through a symbolic link) has two semaphores.
	held map[int64]bool
}

// lockFiles maps a lock file's path to this process's descriptor of it.
var lockFiles = struct {
	sync.Mutex
	m map[string]*sharedFile
}{m: map[string]*sharedFile{}}

// openShared returns this process's descriptor of the lock file at path,
// opening (creating, 0600) it when there is none, with one more reference.
func openShared(path string) (*sharedFile, error) {
	lockFiles.Lock()
	defer lockFiles.Unlock()
	if sf := lockFiles.m[path]; sf != nil {
		sf.refs++
		return sf, nil
	}
	fi, err := os.Lstat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return nil, fmt.Errorf("store: lock file %s is not a regular file (%s): remove it (rm %s); it is made again as needed",
			path, describeMode(fi.Mode()), path)
	case err == nil:
		// The same file under another name (a store opened through a
		// symbolic link to the directory): a second descriptor would drop
		// the locks held through the first when it is closed.
		for _, sf := range lockFiles.m {
			if os.SameFile(fi, sf.fi) {
				sf.refs++
				return sf, nil
			}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("store: lock file: %w", err)
	}
	fl, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock file: %w", err)
	}
	if fi, err = fl.Stat(); err != nil {
		fl.Close()
		return nil, fmt.Errorf("store: lock file: %w", err)
	}
	sf := &sharedFile{path: path, f: fl, fi: fi, refs: 1, held: map[int64]bool{}}
	lockFiles.m[path] = sf
	return sf, nil
}

// release drops a reference; the last closes the descriptor. lockFiles
// is held.
func (sf *sharedFile) releaseLocked() {
	sf.refs--
	if sf.refs > 0 {
		return
	}
	if lockFiles.m[sf.path] == sf {
		delete(lockFiles.m, sf.path)
	}
	_ = sf.f.Close()
}

// current reports whether the path still names the file sf holds open.
func (sf *sharedFile) current() bool {
	now, err := os.Lstat(sf.path)
	return err == nil && os.SameFile(sf.fi, now)
}

// setLock sets (typ F_WRLCK) or clears (F_UNLCK) an fcntl lock of length
// bytes from start (length 0: to the end of any file) without waiting.
func (sf *sharedFile) setLock(typ int16, start, length int64) error {
	lk := syscall.Flock_t{Type: typ, Whence: io.SeekStart, Start: start, Len: length}
	for {
		err := syscall.FcntlFlock(sf.f.Fd(), syscall.F_SETLK, &lk)
		if err != syscall.EINTR {
			return err
		}
	}
}

// busy reports an fcntl error that means another process holds the lock.
func busy(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES)
}

// lockRecord takes the named lock of key: the semaphore of this process,
// then the lock's byte in the record's lock file, polled until ctx is
// done.
func (f *File) lockRecord(ctx context.Context, key Key, name string) (func() error, error) {
	path := f.lockPath(key, name)
	ch := semaphore(path + "\x00" + name)
	if err := acquire(ctx, ch); err != nil {
		return nil, err
	}
	off := lockOffset(name)
	sf, err := lockByte(ctx, path, off)
	if err != nil {
		<-ch
		return nil, err
	}
	record := f.recordPath(key)
	return releaser(ch, func() error { return unlockByte(sf, off, record) }), nil
}

// lockByte takes the write lock of the byte at off of the lock file at
// path, polling until ctx is done, and returns the descriptor it holds it
// through. ctx's end returns ctx's error itself.
func lockByte(ctx context.Context, path string, off int64) (*sharedFile, error) {
	var p poller
	defer p.stop()
	for {
		sf, err := openShared(path)
		if err != nil {
			return nil, err
		}
		for {
			// The byte is taken and marked held at once, under lockFiles,
			// as unlockByte clears and releases it: otherwise this
			// goroutine's F_SETLK could succeed through another's hold
			// that is released right after, and it would mark held a byte
			// the process no longer has.
			lockFiles.Lock()
			err := error(syscall.EAGAIN) // a goroutine of this process holds it, taken under another name: wait for it as for another process
			if !sf.held[off] {
				if err = sf.setLock(syscall.F_WRLCK, off, 1); err == nil {
					sf.held[off] = true
				}
			}
			lockFiles.Unlock()
			if err == nil {
				break
			}
			if !busy(err) {
				lockFiles.Lock()
				sf.releaseLocked()
				lockFiles.Unlock()
				return nil, fmt.Errorf("store: lock %s: %w", path, err)
			}
			if err := p.wait(ctx); err != nil {
				lockFiles.Lock()
				sf.releaseLocked()
				lockFiles.Unlock()
				return nil, err
			}
		}
		if sf.current() {
			return sf, nil
		}
		// Removed by another process while this one waited: the lock of a
		// removed file excludes no one. Forget this descriptor and try the
		// file now at the path.
		lockFiles.Lock()
		delete(sf.held, off)
		_ = sf.setLock(syscall.F_UNLCK, off, 1)
		if lockFiles.m[sf.path] == sf {
			delete(lockFiles.m, sf.path)
		}
		sf.releaseLocked()
		lockFiles.Unlock()
	}
}

// unlockByte releases the byte at off, and removes the lock file when this
// was its last lock here, no other process holds one, and the record file
// (at record) is gone.
func unlockByte(sf *sharedFile, off int64, record string) error {
	lockFiles.Lock()
	defer lockFiles.Unlock()
	delete(sf.held, off)
	if sf.refs == 1 && lockFiles.m[sf.path] == sf && !exists(record) {
		// A write lock of the whole file, taken at once or not at all:
		// only when no other process holds any of its bytes.
		if sf.setLock(syscall.F_WRLCK, 0, 0) == nil && !exists(record) && sf.current() {
			_ = os.Remove(sf.path)
		}
	}
	var err error
	if sf.refs > 1 {
		if err = sf.setLock(syscall.F_UNLCK, off, 1); err != nil {
			err = fmt.Errorf("store: unlock %s: %w", sf.path, err)
		}
	}
	sf.releaseLocked() // the last reference closes the file, which drops its locks
	return err
}

// exists reports whether a file is at path (any error but "not there"
// counts as there: the lock file then stays).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
