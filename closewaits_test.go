package authloop

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// exitingStore is a store whose process exits once exited is set: saves
// after that never happen.
type exitingStore struct {
	store.Store
	exited atomic.Bool
}

func (e *exitingStore) Save(ctx context.Context, rec *store.Record) (uint64, error) {
	if e.exited.Load() {
		return 0, errors.New("the process has exited")
	}
	return e.Store.Save(ctx, rec)
}

// Close returns only once a refresh under way has ended and its answer is
// saved: a program exits when Close returns, and the answer holds the only
// live refresh token (the server rotated it). Here the server has acted
// and its answer is still on the way when Close begins; the "process"
// saves nothing after Close returned.
func TestCloseReturnsAfterTheRefreshUnderWayIsSaved(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := &exitingStore{Store: fileStore(t, t.TempDir())}
	s := f.sessionWith(st, f.tok)
	release, held := make(chan struct{}), make(chan struct{})
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultHoldAnswer, Release: release, Held: held})
	f.clock.Jump(2 * time.Hour)
	refreshed := make(chan error, 1)
	go func() {
		_, err := s.Token(context.Background())
		refreshed <- err
	}()
	select {
	case <-held: // the server has rotated the refresh token; its answer waits
	case err := <-refreshed:
		t.Fatalf("the refresh ended before it reached the server: %v", err)
	}
	closed := make(chan struct{})
	go func() {
		s.Close()
		st.exited.Store(true)
		close(closed)
	}()
	waitClosing(t, s)
	close(release)
	<-closed
	rec, err := st.Store.Load(context.Background(), s.key)
	if err != nil || rec == nil {
		t.Fatalf("load: %v %v", rec, err)
	}
	if rec.Token.RefreshToken == f.tok.RefreshToken {
		t.Fatal("the store still holds the refresh token the server rotated away: Close returned before the refresh's answer was saved")
	}
	s2 := f.sessionWith(st.Store, nil)
	tok, err := s2.Token(context.Background())
	if err != nil || !f.srv.ValidAccessToken(tok.AccessToken) || f.refreshes() != 1 {
		t.Fatalf("after Close, the saved session: %v (refreshes %d), want the saved answer used without a refresh", err, f.refreshes())
	}
}

// A sign-in stopped (its context cancelled: Ctrl+C, Close) once the code
// exchange is sent still gets the exchange's answer: the code is spent at
// the server, and the answer holds the only copy of the new grant.
func TestLoginStoppedDuringCodeExchangeKeepsTheGrant(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := testConfig(srv, b.open)
	release, held := make(chan struct{}), make(chan struct{})
	srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultHoldAnswer, Release: release, Held: held})
	ctx, cancel := context.WithCancel(context.Background()) // no deadline
	defer cancel()
	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		tok, err := Login(ctx, cfg)
		done <- result{tok, err}
	}()
	select {
	case <-held: // the code is spent; the answer waits
	case r := <-done:
		t.Fatalf("Login ended before its code exchange reached the server: %v", r.err)
	}
	cancel()
	close(release)
	r := <-done
	if r.err != nil || !srv.ValidAccessToken(r.tok.AccessToken) {
		t.Fatalf("Login stopped after its code exchange was sent: %v; want the exchange's tokens", r.err)
	}
}

// The timer's retry of a failed save that finds the record deleted
// (another process logged out) drops the session's tokens, and that is no
// refresh failure: OnRefreshFailure is not called (it was called with a
// nil error).
func TestSaveRetryAfterLogoutElsewhereIsNoRefreshFailure(t *testing.T) {
	sf := &saveFixture{fixture: newFixture(t, oauthtest.Config{}, true), mem: store.NewMemory()}
	sf.flaky = &flakyStore{Store: sf.mem}
	sf.cfg.Store = sf.flaky
	var failures atomic.Int32
	sf.cfg.OnRefreshFailure = func(err error) {
		failures.Add(1)
		t.Errorf("OnRefreshFailure(%v) after another process logged out", err)
	}
	sf.s = sf.session()
	sf.refreshUnsaved()
	if err := sf.mem.Delete(context.Background(), sf.s.Key()); err != nil { // authloop logout elsewhere
		t.Fatal(err)
	}
	sf.clock.Advance(time.Second)
	eventually(t, "the session to drop its tokens", func() bool { return sf.s.Cached() == nil })
	if err := sf.s.Close(); err != nil { // waits for the save retry to end
		t.Fatalf("Close: %v", err)
	}
	if n := failures.Load(); n != 0 {
		t.Fatalf("OnRefreshFailure called %d times", n)
	}
}
