package store_test

import (
	"os"
	"syscall"
	"testing"
)

// fOFDGetLK is F_OFD_GETLK (Linux 3.15): an open file description lock
// conflicts with this process's own fcntl record locks, which F_GETLK
// never reports, so it tells from inside the process whether the process
// still holds a lock in a file.
const fOFDGetLK = 36

// lockProbe opens the file at path to ask, from inside the process,
// how many locks are held in it, by this process or another, as another
// process would see them. It is closed only at the end of the test:
// closing any descriptor of a file drops every fcntl lock this process
// holds on it, the very locks it looks at.
func lockProbe(t *testing.T, path string) func() int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return func() int {
		n := 0
		for start := int64(0); ; n++ {
			lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: start, Len: 0}
			if err := syscall.FcntlFlock(f.Fd(), fOFDGetLK, &lk); err != nil {
				t.Fatalf("F_OFD_GETLK: %v", err)
			}
			if lk.Type == syscall.F_UNLCK {
				return n
			}
			if lk.Len == 0 {
				return n + 1 // a lock to the end of the file
			}
			start = lk.Start + lk.Len
		}
	}
}

// One process, two stores on one directory under two names: releasing a
// lock taken through one name must not close the descriptor that holds
// the lock taken through the other (closing any descriptor of a file
// drops all of the process's fcntl locks on it), and must free the lock
// it released. Seen from inside the
// process, so that the fast tier checks it too (the test of it with
// another process skips under -short).
func TestFileLockSameFileUnderTwoNamesKeepsTheLockInProcess(t *testing.T) {
	a, b := oneStoreTwoNames(t)
	unlock, err := a.Lock(bg, helperKey, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	files := lockFiles(t, a.Dir())
	if len(files) != 1 {
		t.Fatalf("lock files: %v; want the record's one", files)
	}
	held := lockProbe(t, files[0])
	if n := held(); n != 1 {
		t.Fatalf("%d locks seen in the file; want the refresh lock: the check shows nothing", n)
	}
	for range 2 {
		login, err := b.Lock(bg, helperKey, "login")
		if err != nil {
			t.Fatal(err)
		}
		if err := login(); err != nil {
			t.Fatal(err)
		}
		switch n := held(); n {
		case 0:
			t.Fatal("unlocking the login lock through the other name dropped the refresh lock held through the first")
		case 1:
		default:
			t.Fatalf("%d locks held after the login lock's unlock through the other name; want only the refresh lock", n)
		}
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 0 {
		t.Errorf("%d locks still held after every unlock", n)
	}
}
