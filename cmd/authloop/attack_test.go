//go:build unix

package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// Adversarial tests of issue 12, situations 6 (Logout) and 11 (signals).

// holdRefreshLock takes the refresh lock of the single record in c's file
// store, as another process in a long refresh would, until the test ends
// or it calls the returned function.
func holdRefreshLock(t *testing.T, c *cli) func() {
	t.Helper()
	return holdStoreLock(t, c, "refresh")
}

// recordExists reports whether c's file store holds a record.
func recordExists(t *testing.T, c *cli) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(c.dir, "config", "authloop", "*.json"))
	return len(files) > 0
}

// `authloop logout` while another process holds the record's refresh lock
// (a long refresh), stopped with Ctrl+C: Logout revokes and deletes
// nothing (it never got the lock), so the command must not say that it
// deleted the tokens. A person told "Deleted the tokens ... here" walks
// away from a machine that still holds a working refresh token.
func TestAttackLogoutStoppedWaitingForLockSaysNothingDeleted(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "p")
	holdRefreshLock(t, c)

	metadata := srv.Count("metadata")
	r := c.start(t, "logout", "--profile", "p")
	// Logout looks up the revocation endpoint first, then waits for the lock.
	deadline := time.Now().Add(time.Minute)
	for srv.Count("metadata") == metadata {
		if time.Now().After(deadline) {
			t.Fatalf("logout never asked for the server's metadata:\n%s", r.output())
		}
		r.running("before asking for the server's metadata")
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let it reach the lock (not needed for the verdict)
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r.wait()
	out := r.output()
	if !recordExists(t, c) {
		t.Fatal("the test needs the record to survive: the lock was held")
	}
	if strings.Contains(out, "Deleted the tokens") || strings.Contains(out, "the tokens are deleted") {
		t.Fatalf("logout claims the tokens were deleted, but the record is still there (it never had the refresh lock):\n%s", out)
	}
	if !strings.Contains(out, "logout of profile p failed, nothing was revoked or deleted: stopped while waiting for the profile's lock") {
		t.Errorf("logout does not say that nothing was deleted:\n%s", out)
	}
	if res := c.run("", "token", "--profile", "p"); res.code != 0 {
		t.Fatalf("token after the stopped logout: %v", res)
	}
}

// Ctrl+C (or SIGTERM, SIGHUP) to `authloop login` after the person
// approved and the code exchange was sent: the server has issued the
// tokens and holds its answer. The command promises ("a token request
// already sent, if any, is answered and its tokens saved first", and the exit
// code help: "authloop first finishes a request it has already sent and
// saves its answer") to wait for that answer and save it. Abandoning it
// loses a grant the server has issued (at servers that cap grants per
// client, or end the earlier one at a new consent, the person is then
// signed out everywhere) and leaves the person signed out after being told
// the answer would be saved.
func TestAttackSignalDuringLoginCodeExchange(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	release, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultHoldAnswer, Release: release, Held: held})

	r := c.start(t, "login", "--profile", "p", "--no-browser", "--store", "file",
		"--issuer", srv.Issuer(), "--client-id", srv.ClientID(), "--scope", "openid offline_access", "--timeout", "1m")
	var wg sync.WaitGroup
	defer wg.Wait()
	for line := range r.lines {
		if strings.HasPrefix(line, srv.AuthorizationEndpoint()) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, _ = oauthtest.Browse(context.Background(), nil, strings.TrimSpace(line))
			}()
			break
		}
	}
	select {
	case <-held: // the server issued the tokens; its answer is held
	case <-r.exited:
		t.Fatalf("exited before the code exchange: %v\n%s", r.err, r.output())
	case <-time.After(time.Minute):
		t.Fatalf("no code exchange within a minute:\n%s", r.output())
	}
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r.waitLine("stopping")
	free()
	ws := r.wait()
	t.Logf("ended with %s:\n%s", describeStatus(ws), r.output())
	if res := c.run("", "token", "--profile", "p"); res.code != 0 {
		t.Fatalf("the tokens of the code exchange already sent were not saved (the profile is not signed in): token: %v", res)
	}
}
