//go:build unix

package redisstore

import (
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/oauthtest"
)

// parentSession is a session of the test process itself on its own Redis
// client (another "machine" than the children), through the proxy.
func (e *fleetEnv) parentSession(t *testing.T) *authloop.Session {
	st, err := New(e.rs.Client(), Options{Prefix: e.prefix, LockTTL: fleetLockTTL})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sessionConfig(e.srv, st)
	cfg.OAuth2.Endpoint.TokenURL = e.proxy.URL()
	s, err := authloop.NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Scenario 2: the holder of the refresh lock is stopped (SIGSTOP) while
// it holds it, with the record read and its refresh request not yet
// sent, for longer than its lease. Another process takes the lock when
// the lease ends and refreshes. The stalled holder, continued (SIGCONT),
// sends no request (its lease is gone: store.LeaseHeld), and a save it
// tries with the lease it held is refused (store.ErrLeaseLost); its next
// refresh adopts the other process's token. One refresh in all, the
// grant alive.
func TestStalledHolderSendsNothingAndItsSaveIsRefused(t *testing.T) {
	e := newFleetEnv(t, time.Hour)
	a := startChild(t, e.spec("stall", 1, 1))
	a.event(t, "holding")
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	// Another process refreshes: its Lock waits for the stalled holder's
	// lease to end.
	b := e.parentSession(t)
	btok, err := b.Refresh(ctxT(t))
	if err != nil {
		t.Fatalf("the other process's refresh: %v", err)
	}
	waited := time.Since(stopped)
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(a.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	if ev := a.event(t, "save"); !ev.LeaseLost {
		t.Errorf("the stalled holder's save: %q; want it refused with store.ErrLeaseLost", ev.Err)
	}
	if ev := a.event(t, "refresh"); !ev.LeaseLost || !strings.Contains(ev.Err, "was not sent") {
		t.Errorf("the stalled holder's Refresh: %q; want it not sent, with store.ErrLeaseLost", ev.Err)
	}
	if ev := a.event(t, "adopted"); ev.Err != "" || ev.Access != fp(btok.AccessToken) {
		t.Errorf("the stalled holder's next Refresh: %q, token %s; want the other process's token %s", ev.Err, ev.Access, fp(btok.AccessToken))
	}
	rs := e.checkChain(0)
	if len(rs) != 1 {
		t.Errorf("%d refreshes, want 1", len(rs))
	}
	if !e.srv.ValidAccessToken(btok.AccessToken) {
		t.Error("the token is not valid at the server (the grant was revoked?)")
	}
	if _, err := b.Refresh(ctxT(t)); err != nil {
		t.Errorf("a refresh after it all: %v; want the grant alive", err)
	}
	a.stdin.Close()
	if err := a.cmd.Wait(); err != nil {
		t.Errorf("the stalled process: %v; stderr:\n%s", err, a.stderr.String())
	}
	t.Logf("the other process took the lock %v after the holder was stopped (LockTTL %v)", waited.Round(time.Millisecond), fleetLockTTL)
}

// Scenario 3: the holder of the refresh lock is killed (SIGKILL) while its
// refresh request is on its way (the server delays it, so it has not acted
// on it when the connection drops). Another process takes the lock when
// the lease ends, and refreshes once; the grant stays alive.
func TestKilledHolderIsTakenOverAfterItsLease(t *testing.T) {
	e := newFleetEnv(t, time.Hour)
	e.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultDelay, Delay: time.Minute})
	a := startChild(t, e.spec("kill", 1, 1))
	a.event(t, "ready")
	deadline := time.Now().Add(30 * time.Second)
	for e.srv.Count("token") < 2 { // the login's, then the holder's refresh
		if time.Now().After(deadline) {
			t.Fatalf("the holder's refresh did not reach the server; stderr:\n%s", a.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = a.cmd.Wait()
	killed := time.Now()
	b := e.parentSession(t)
	btok, err := b.Refresh(ctxT(t))
	if err != nil {
		t.Fatalf("the other process's refresh: %v", err)
	}
	waited := time.Since(killed)
	var refreshes []oauthtest.Request
	for _, r := range e.srv.Requests() {
		if r.Endpoint == "token" && r.GrantType == "refresh_token" {
			refreshes = append(refreshes, r)
		}
	}
	if len(refreshes) != 2 || refreshes[0].Fault != oauthtest.FaultDelay || refreshes[0].Status != 0 ||
		refreshes[1].Status != http.StatusOK || refreshes[1].Error != "" {
		t.Errorf("refresh requests at the server: %+v; want the killed holder's, never answered, then one answered 200", refreshes)
	}
	if !e.srv.ValidAccessToken(btok.AccessToken) {
		t.Error("the token is not valid at the server (the grant was revoked?)")
	}
	if _, err := b.Refresh(ctxT(t)); err != nil {
		t.Errorf("a refresh after it all: %v; want the grant alive", err)
	}
	t.Logf("the other process refreshed %v after the holder was killed (LockTTL %v)", waited.Round(time.Millisecond), fleetLockTTL)
}
