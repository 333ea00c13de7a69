package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// File is a Store that keeps one JSON file per record in a directory of
// its own, safe to share between processes.
//
// Layout: <dir>/<Key.ID()>.json holds {"schema":1,"record":{...}}; the
// locks of a record are bytes of one file, <dir>/<Key.ID()>.lock, which
// the last unlock removes once the record is deleted (on Windows and a few
// Unix systems, a file per lock, <dir>/<Key.ID()>.<name>.lock, that
// stays). The directory is 0700 and every file 0600. A directory that
// group or others may enter, and a record file that
// they may read, that is a symbolic link or that is not a regular file,
// are refused with an error that names the path and the fix, as is a
// directory owned by another user.
//
// Every save writes a temporary file in the directory, syncs it, renames it
// over the record file and syncs the directory, so a reader or a crash
// sees the old record or the new one. Saves of one key are serialized
// across processes by an internal lock of the record ("save"), distinct
// from the locks that Lock hands out.
//
// A record file that cannot be read as its key's record (bad JSON, an
// unknown schema version, another key) is corrupt: Load and Delete return
// an error wrapping ErrCorrupt that names the file, and the store never
// deletes or overwrites it. A later Save of that key (a new login) first
// renames it to <id>.json.corrupt-<UTC time>, where it stays for
// inspection, and then saves with generation 1. List returns the keys of
// the readable records and an error joining one error per corrupt file.
type File struct {
	dir string
}

// DefaultDir returns the directory of the default file store:
// os.UserConfigDir()/authloop, which honours $XDG_CONFIG_HOME on Linux.
func DefaultDir() (string, error) {
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("store: no user config directory (set $XDG_CONFIG_HOME or $HOME): %w", err)
	}
	return filepath.Join(base, "authloop"), nil
}

// NewFile returns a file store in dir, creating it (0700) if needed. An
// existing directory that group or others may use is refused with an
// error that says how to fix it, as is one that another user owns.
func NewFile(dir string) (*File, error) {
	if dir == "" {
		return nil, errors.New("store: NewFile with an empty directory name; use DefaultDir for the default")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store: directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("store: create directory %s: %w", abs, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("store: directory %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("store: %s is not a directory: move it away, or choose another directory", abs)
	}
	if checkPerm && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("store: directory %s has mode %04o, so other users may reach the tokens in it: run chmod 700 %s",
			abs, fi.Mode().Perm(), abs)
	}
	if uid, ok := ownerUID(fi); ok && checkPerm && uid != os.Geteuid() {
		return nil, fmt.Errorf("store: directory %s is owned by uid %d, not by this user (uid %d): its owner could read or replace the tokens in it, whatever its mode: "+
			"run chown %d %s if it is yours, or choose a directory of your own", abs, uid, os.Geteuid(), os.Geteuid(), abs)
	}
	return &File{dir: abs}, nil
}

// checkPerm is false where Unix permission bits mean nothing.
var checkPerm = runtime.GOOS != "windows" && runtime.GOOS != "plan9"

// Dir returns the store's directory, as an absolute path.
func (f *File) Dir() string { return f.dir }

// Describe returns "file store at <dir>".
func (f *File) Describe() string { return "file store at " + f.dir }

func (f *File) recordPath(key Key) string { return filepath.Join(f.dir, key.ID()+".json") }

// Load returns the record of key, or an error wrapping ErrNotFound,
// ErrCorrupt or (for a record whose secrets are in the OS keyring)
// ErrSecretsMissing.
func (f *File) Load(ctx context.Context, key Key) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rf, err := f.read(key)
	if err != nil {
		return nil, err
	}
	if rf.Keyring != nil {
		return nil, fmt.Errorf("%w: %s keeps the secrets of %s in the OS keyring (service %q), which the file store does not read: "+
			"use the keyring store (store.Default), or log in again to save the record here", ErrSecretsMissing, f.recordPath(key), key, rf.Keyring.Service)
	}
	return rf.Record, nil
}

// read reads and checks the record file of key.
func (f *File) read(key Key) (*recordFile, error) {
	path := f.recordPath(key)
	data, err := readPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s (no %s)", ErrNotFound, key, path)
	}
	if err != nil {
		return nil, err
	}
	rf, err := decodeRecordFile(data)
	if err == nil && rf.Record.Key != key {
		err = fmt.Errorf("it holds the record of %s", rf.Record.Key)
	}
	if err != nil {
		return nil, corruptError(path, key, err)
	}
	return rf, nil
}

func corruptError(path string, key Key, why error) error {
	return fmt.Errorf("%w: %s, the record file of %s, cannot be used: %v; it was kept for inspection: "+
		"remove it or log in again (a new save moves it aside to %s.corrupt-<time>)", ErrCorrupt, path, key, why, filepath.Base(path))
}

// readPrivate reads a file that must be a regular file of ours, not a
// symbolic link, that neither group nor others may read.
func readPrivate(path string) ([]byte, error) {
	if err := checkPrivate(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("store: read %s: %w", path, err)
	}
	return data, nil
}

// checkPrivate returns an error wrapping fs.ErrNotExist when path does not
// exist, and an error naming the fix when it is not a private regular
// file.
func checkPrivate(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return fmt.Errorf("store: %w", err)
	}
	switch m := fi.Mode(); {
	case m&fs.ModeSymlink != 0:
		return fmt.Errorf("store: %s is a symbolic link, which the store refuses (it could point anywhere): "+
			"replace it with the file itself (cp --remove-destination \"$(readlink -f %s)\" %s), or remove it and log in again", path, path, path)
	case !m.IsRegular():
		return fmt.Errorf("store: %s is %s, not a regular file: remove it and log in again", path, describeMode(m))
	case checkPerm && m.Perm()&0o077 != 0:
		return fmt.Errorf("store: %s has mode %04o, so other users may read the tokens in it: run chmod 600 %s "+
			"(and consider the tokens exposed: log in again)", path, m.Perm(), path)
	}
	return nil
}

// Save stores rec as Store.Save describes. See File for what it does with
// a corrupt record file.
func (f *File) Save(ctx context.Context, rec *Record) (uint64, error) {
	if err := checkRecord(rec); err != nil {
		return 0, err
	}
	c := rec.Clone()
	err := f.update(ctx, rec.Key, func(prev *recordFile) (*recordFile, error) {
		c.Generation = nextGeneration(prev)
		c.Updated = time.Now().UTC().Round(0)
		return &recordFile{Schema: schemaVersion, Record: c}, nil
	})
	if err != nil {
		return 0, err
	}
	rec.Generation, rec.Updated = c.Generation, c.Updated
	return c.Generation, nil
}

func nextGeneration(prev *recordFile) uint64 {
	if prev == nil {
		return 1
	}
	return prev.Record.Generation + 1
}

// update runs the read-modify-write of key's record file under the key's
// save lock: it reads the current file (nil when there is none, and also
// when a corrupt one was moved aside), calls change, and writes what
// change returns atomically. change may have side effects (the Keyring
// store writes the keyring there); after returns, change's record is
// stored.
func (f *File) update(ctx context.Context, key Key, change func(prev *recordFile) (*recordFile, error)) error {
	unlock, err := f.lock(ctx, key, saveLockName)
	if err != nil {
		return err
	}
	defer unlock()
	prev, err := f.read(key)
	switch {
	case errors.Is(err, ErrNotFound):
		prev = nil
	case errors.Is(err, ErrCorrupt):
		if err := f.moveAside(key); err != nil {
			return err
		}
		prev = nil
	case err != nil:
		return err
	}
	next, err := change(prev)
	if err != nil {
		return err
	}
	data, err := encodeRecordFile(next)
	if err != nil {
		return fmt.Errorf("store: save %s: %w", key, err)
	}
	return f.writeAtomic(f.recordPath(key), data)
}

// moveAside renames key's corrupt record file to <name>.corrupt-<UTC time>.
func (f *File) moveAside(key Key) error {
	path := f.recordPath(key)
	aside := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(path, aside); err != nil {
		return fmt.Errorf("store: move the corrupt record file %s aside: %w", path, err)
	}
	return syncDir(f.dir)
}

// syncDir makes the directory's entries (a rename, a removal) durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for sync there; renames are durable once done
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync directory %s: %w", dir, err)
	}
	return nil
}

// Delete removes the record file of key, or returns an error wrapping
// ErrNotFound. A corrupt record file is not deleted but moved aside, as
// Save does.
func (f *File) Delete(ctx context.Context, key Key) error {
	return f.remove(ctx, key, nil)
}

// remove deletes key's record file under its save lock, then calls after
// (if any) with the record it deleted.
func (f *File) remove(ctx context.Context, key Key, after func(*recordFile) error) error {
	unlock, err := f.lock(ctx, key, saveLockName)
	if err != nil {
		return err
	}
	defer unlock()
	rf, err := f.read(key)
	if errors.Is(err, ErrCorrupt) {
		return f.moveAside(key)
	}
	if err != nil {
		return err
	}
	path := f.recordPath(key)
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("store: delete %s: %w", path, err)
	}
	if err := syncDir(f.dir); err != nil {
		return err
	}
	if after != nil {
		return after(rf)
	}
	return nil
}

// List returns the keys of all readable records, sorted. Files that are
// not record files (locks, temporary files, files moved aside) are
// skipped. When some record files are corrupt or refused, List returns the
// keys of the others together with an error joining one error per file.
func (f *File) List(ctx context.Context) ([]Key, error) {
	keys, _, err := f.list(ctx)
	return keys, err
}

func (f *File) list(ctx context.Context) ([]Key, []*recordFile, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("store: list %s: %w", f.dir, err)
	}
	var keys []Key
	var files []*recordFile
	var errs []error
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !isID(id) {
			continue
		}
		path := filepath.Join(f.dir, e.Name())
		data, err := readPrivate(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rf, err := decodeRecordFile(data)
		if err == nil && rf.Record.Key.ID() != id {
			err = fmt.Errorf("it holds the record of %s, whose file name is %s.json", rf.Record.Key, rf.Record.Key.ID())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s cannot be used: %v; it was kept for inspection: remove it, or log in again to replace it",
				ErrCorrupt, path, err))
			continue
		}
		keys = append(keys, rf.Record.Key)
		files = append(files, rf)
	}
	slices.SortFunc(keys, compareKeys)
	return keys, files, errors.Join(errs...)
}

// isID reports whether s has the form of a Key.ID: 32 lower-case hex digits.
func isID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Lock takes the named lock of key, as Store.Lock describes: a byte of
// <dir>/<id>.lock (an fcntl(2) record lock; elsewhere the flock of
// <dir>/<id>.<name>.lock), polled until ctx is done, together with a lock
// among this process's goroutines.
func (f *File) Lock(ctx context.Context, key Key, name string) (func() error, error) {
	if err := CheckLockName(name); err != nil {
		return nil, err
	}
	return f.lock(ctx, key, name)
}

func (f *File) lock(ctx context.Context, key Key, name string) (func() error, error) {
	path := f.lockPath(key, name)
	unlock, err := f.lockRecord(ctx, key, name)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return nil, lockTimeoutError(key, name, "lock file "+path, ctxErr)
		}
		return nil, err
	}
	return unlock, nil
}
