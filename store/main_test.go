package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/authloop/authloop/store"
)

// The test binary doubles as a helper process: with helperEnv set, TestMain
// runs the helper it names instead of the tests, so tests can show that
// locks and saves exclude other processes, not just goroutines.
const (
	helperEnv    = "AUTHLOOP_STORE_TEST_HELPER"
	helperDirEnv = "AUTHLOOP_STORE_TEST_DIR"
	helperNEnv   = "AUTHLOOP_STORE_TEST_N"
)

// helperKey is the key the helper processes work on.
var helperKey = store.Key{Issuer: "https://issuer.example.com", ClientID: "cli", Resource: "https://api.example.com", Account: "a@example.com"}

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(runHelper(h))
	}
	memoryTempDirIfShort()
	moreParallelIfShort()
	goleak.VerifyTestMain(m, keyringLeakOptions()...)
}

func runHelper(name string) int {
	s, err := store.NewFile(os.Getenv(helperDirEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	switch name {
	case "hold-lock":
		// Take the lock, say so, and hold it until killed (or stdin
		// closes): the OS must release it when the process dies.
		if _, err := s.Lock(ctx, helperKey, "refresh"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		return 0
	case "save":
		n, _ := strconv.Atoi(os.Getenv(helperNEnv))
		for i := range n {
			rec := &store.Record{Key: helperKey, Token: &store.Token{AccessToken: fmt.Sprintf("at-%d-%d", os.Getpid(), i)}}
			g, err := s.Save(ctx, rec)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			fmt.Println(g)
		}
		return 0
	case "try-lock":
		// Try the refresh lock for a moment: "locked" or "busy".
		ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		unlock, err := s.Lock(ctx, helperKey, "refresh")
		if err != nil {
			fmt.Println("busy")
			return 0
		}
		unlock()
		fmt.Println("locked")
		return 0
	case "churn":
		// N rounds of: take the refresh lock, add 1 to the counter file
		// (read, pause, write: two holders at once lose an increment),
		// save and delete the record (which lets the last unlock remove
		// the lock file), unlock.
		n, _ := strconv.Atoi(os.Getenv(helperNEnv))
		counter := filepath.Join(os.Getenv(helperDirEnv), "counter")
		for i := range n {
			unlock, err := s.Lock(ctx, helperKey, "refresh")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			b, _ := os.ReadFile(counter)
			c, _ := strconv.Atoi(string(b))
			time.Sleep(50 * time.Microsecond)
			if err := os.WriteFile(counter, []byte(strconv.Itoa(c+1)), 0o600); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			if i%2 == 0 {
				if _, err := s.Save(ctx, &store.Record{Key: helperKey}); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 2
				}
			}
			if err := s.Delete(ctx, helperKey); err != nil && !errors.Is(err, store.ErrNotFound) {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			if err := unlock(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
	return 2
}

// helper starts the test binary as the named helper on dir. Under -short
// (the fast tier, docs/TESTING.md) it skips the test instead, keeping what
// the test checked in this process so far: starting processes takes
// a quarter of a second apiece on a busy machine; make test runs them.
func helper(t *testing.T, name, dir string, env ...string) *exec.Cmd {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the test binary as another process: runs in the full tier (make test)")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + name, helperDirEnv + "=" + dir}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestLockAcrossProcesses(t *testing.T) {
	s := newFile(t)
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
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper did not take the lock: %q, %v", line, err)
	}

	// Another process holds it: this one's Lock gives up at its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if unlock, err := s.Lock(ctx, helperKey, "refresh"); err == nil {
		unlock()
		t.Fatal("Lock succeeded while another process held the lock")
	} else if !errorsIsTimeout(err) {
		t.Fatalf("Lock while another process holds it: %v; want ErrLockTimeout", err)
	} else if !strings.Contains(err.Error(), s.Dir()) {
		t.Errorf("the timeout error %q does not name the lock file", err)
	}
	// Other names and Saves are not blocked by it.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	login, err := s.Lock(ctx2, helperKey, "login")
	if err != nil {
		t.Fatalf("Lock(login) while another process holds refresh: %v", err)
	}
	login()
	if _, err := s.Save(ctx2, &store.Record{Key: helperKey}); err != nil {
		t.Fatalf("Save while another process holds refresh: %v", err)
	}

	// The holder dies without unlocking: the OS frees the lock, and a
	// waiter already queued gets it.
	got := make(chan error, 1)
	go func() {
		unlock, err := s.Lock(ctx2, helperKey, "refresh")
		if err == nil {
			err = unlock()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if err := <-got; err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
}

func TestSaveAcrossProcesses(t *testing.T) {
	const procs, saves = 4, 25
	s := newFile(t)
	outs := make([]strings.Builder, procs)
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmds[i] = helper(t, "save", s.Dir(), helperNEnv+"="+strconv.Itoa(saves))
		cmds[i].Stdout = &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	seen := map[uint64]bool{}
	for _, o := range outs {
		for f := range strings.FieldsSeq(o.String()) {
			g, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				t.Fatalf("helper printed %q", f)
			}
			if seen[g] {
				t.Errorf("two saves got generation %d", g)
			}
			seen[g] = true
		}
	}
	if len(seen) != procs*saves {
		t.Errorf("%d distinct generations; want %d", len(seen), procs*saves)
	}
	rec, err := s.Load(context.Background(), helperKey)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Generation != procs*saves {
		t.Errorf("final generation %d; want %d", rec.Generation, procs*saves)
	}
}
