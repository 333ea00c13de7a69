package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/store"
)

// lockFiles are the lock files in dir.
func lockFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.lock"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// oneLockFile reports whether this platform keeps a record's locks in one
// file, removed with the record.
func oneLockFile(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "darwin", "dragonfly", "freebsd", "netbsd", "openbsd":
	default:
		t.Skip("a lock file per lock, kept, on " + runtime.GOOS)
	}
}

// Issue 13 item 8: lock files do not pile up. A record's locks (refresh,
// login, the store's own save lock) share one lock file, and the last
// unlock removes it once the record is deleted, also when the delete
// happens under a lock (as Session.Logout deletes under the refresh
// lock).
func TestFileLockFilesOnePerRecordRemovedWithIt(t *testing.T) {
	oneLockFile(t)
	s := newFile(t)
	keys := []store.Key{helperKey, {Issuer: "https://b.example.com", ClientID: "c"}, {Issuer: "https://c.example.com", ClientID: "c", Account: "x"}}
	for _, k := range keys {
		if _, err := s.Save(bg, sampleRecord(k)); err != nil {
			t.Fatal(err)
		}
		login, err := s.Lock(bg, k, "login")
		if err != nil {
			t.Fatal(err)
		}
		refresh, err := s.Lock(bg, k, "refresh")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Save(bg, sampleRecord(k)); err != nil {
			t.Fatal(err)
		}
		refresh()
		login()
	}
	if files := lockFiles(t, s.Dir()); len(files) != len(keys) {
		t.Fatalf("lock files of %d records: %v", len(keys), files)
	}
	// Deleted under its refresh lock: the lock file goes at the unlock.
	unlock, err := s.Lock(bg, keys[0], "refresh")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(bg, keys[0]); err != nil {
		t.Fatal(err)
	}
	unlock()
	// Deleted with no lock held: the save lock's unlock removes it.
	if err := s.Delete(bg, keys[1]); err != nil {
		t.Fatal(err)
	}
	files := lockFiles(t, s.Dir())
	if len(files) != 1 || !strings.HasPrefix(filepath.Base(files[0]), keys[2].ID()) {
		t.Errorf("lock files after deleting two of three records: %v; want only %s's", files, keys[2].ID())
	}
	// A lock of a record that does not exist leaves no file either.
	other := store.Key{Issuer: "https://d.example.com", ClientID: "c"}
	unlock, err = s.Lock(bg, other, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if files := lockFiles(t, s.Dir()); len(files) != 1 {
		t.Errorf("a lock of no record left a file: %v", files)
	}
}

// Removing the lock file must not break the lock: processes (and
// goroutines) that take the refresh lock, save and delete the record and
// unlock, over and over, never hold it two at a time (no increment of the
// shared counter is lost), and leave no lock file behind.
func TestFileLockExcludesAcrossLockFileRemoval(t *testing.T) {
	oneLockFile(t)
	if testing.Short() {
		t.Skip("many processes: skipped with -short")
	}
	s := newFile(t)
	const procs, rounds = 4, 150
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for range procs {
		cmd := helper(t, "churn", s.Dir(), helperNEnv+"="+strconv.Itoa(rounds))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- cmd.Run()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	b, err := os.ReadFile(filepath.Join(s.Dir(), "counter"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != strconv.Itoa(procs*rounds) {
		t.Errorf("counter %s after %d rounds in each of %d processes: two held the lock at once", got, rounds, procs)
	}
	if files := lockFiles(t, s.Dir()); len(files) != 0 {
		t.Errorf("lock files left after every record was deleted: %v", files)
	}
}

// One process, two stores on the same directory under two names (one
// through a symbolic link): a lock taken and released through one must
// not release a lock held through the other (closing any descriptor of a
// file drops the process's fcntl locks on it).
func TestFileLockSameFileUnderTwoNames(t *testing.T) {
	a, b := oneStoreTwoNames(t)
	unlock, err := a.Lock(bg, helperKey, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	login, err := b.Lock(bg, helperKey, "login")
	if err != nil {
		t.Fatal(err)
	}
	login()
	out, err := helper(t, "try-lock", a.Dir()).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "busy" {
		t.Errorf("another process took the refresh lock this one holds: %s", got)
	}
}

// One process, two stores on the same directory under two names: two
// goroutines that take the same lock through the two names must not both
// hold it (fcntl locks do not exclude the goroutines of one process, and
// the semaphore of this process is keyed by the path).
func TestFileLockSameFileUnderTwoNamesExcludesGoroutines(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	a, b := oneStoreTwoNames(t)
	unlock, err := a.Lock(bg, helperKey, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	if second, err := b.Lock(ctx, helperKey, "refresh"); err == nil {
		second()
		unlock()
		t.Fatal("a second goroutine took, through the other name, the refresh lock the first holds")
	} else if !errors.Is(err, store.ErrLockTimeout) {
		t.Fatalf("Lock through the other name while held: %v; want ErrLockTimeout", err)
	}
	// Released through one name, it can be taken through the other, and
	// the other process still sees it held.
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(bg, 10*time.Second)
	defer cancel2()
	second, err := b.Lock(ctx2, helperKey, "refresh")
	if err != nil {
		t.Fatalf("Lock through the other name once released: %v", err)
	}
	defer second()
	out, err := helper(t, "try-lock", a.Dir()).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "busy" {
		t.Errorf("another process took the refresh lock this one holds: %s", got)
	}
}

// oneStoreTwoNames returns two File stores on one directory, b reaching it
// through a symbolic link, holding helperKey's record.
func oneStoreTwoNames(t *testing.T) (a, b *store.File) {
	t.Helper()
	oneLockFile(t)
	a = newFile(t)
	link := filepath.Join(t.TempDir(), "link")
	must(t, os.Symlink(a.Dir(), link))
	b, err := store.NewFile(link)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// A lock this process took and released is free for another process, also
// while the record (and so the lock file) stays, and while this process
// holds another lock of the same record.
func TestFileUnlockFreesLockForOtherProcesses(t *testing.T) {
	for _, holdLogin := range []bool{false, true} {
		t.Run(fmt.Sprintf("login held %v", holdLogin), func(t *testing.T) {
			unlockFreesLock(t, holdLogin)
		})
	}
}

func unlockFreesLock(t *testing.T, holdLogin bool) {
	s := newFile(t)
	if _, err := s.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	if holdLogin {
		login, err := s.Lock(bg, helperKey, "login")
		if err != nil {
			t.Fatal(err)
		}
		defer login()
	}
	unlock, err := s.Lock(bg, helperKey, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	out, err := helper(t, "try-lock", s.Dir()).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "locked" {
		t.Errorf("another process could not take the refresh lock this one released: %s", got)
	}
}

// A lock file removed while a goroutine waits for a lock in it (as another
// process removes it when it deletes the record) does not keep the waiter
// from the lock, also while this process holds another lock of the record
// through the removed file: the waiter moves to the file now at the path.
func TestFileLockWaiterSurvivesLockFileRemoval(t *testing.T) {
	oneLockFile(t)
	s := newFile(t)
	if _, err := s.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	login, err := s.Lock(bg, helperKey, "login")
	if err != nil {
		t.Fatal(err)
	}
	defer login()
	child := helper(t, "hold-lock", s.Dir())
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper did not take the lock: %q, %v", line, err)
	}
	// A safety net only: a waiter stuck on the removed file would wait
	// until it ends.
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	got := make(chan error, 1)
	go func() {
		unlock, err := s.Lock(ctx, helperKey, "refresh")
		if err == nil {
			err = unlock()
		}
		got <- err
	}()
	// Whether the waiter is polling yet or not, the lock file goes, then
	// the holder.
	must(t, os.Remove(store.LockPath(s, helperKey, "refresh")))
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	select {
	case err := <-got:
		if err != nil {
			t.Errorf("Lock after its lock file was removed: %v", err)
		}
	case <-ctx.Done():
		// Lock polls until its context ends: it returns then.
		select {
		case err := <-got:
			t.Errorf("Lock after its lock file was removed: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("Lock after its lock file was removed spins on the removed file past its context")
		}
	}
}
