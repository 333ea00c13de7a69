package authloop

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// saveFixture is a signed-in session on a store whose saves can be made to
// fail, with the hooks counted.
type saveFixture struct {
	*fixture
	mem          *store.Memory
	flaky        *flakyStore
	s            *Session
	saveFailures atomic.Int32
	lastSaveErr  atomic.Value
}

func newSaveFixture(t *testing.T) *saveFixture {
	t.Helper()
	sf := &saveFixture{fixture: newFixture(t, oauthtest.Config{}, true), mem: store.NewMemory()}
	sf.flaky = &flakyStore{Store: sf.mem}
	sf.cfg.Store = sf.flaky
	sf.cfg.OnSaveFailure = func(err error) {
		sf.saveFailures.Add(1)
		sf.lastSaveErr.Store(err)
	}
	sf.s = sf.session()
	return sf
}

func (sf *saveFixture) stored() *store.Record {
	sf.t.Helper()
	rec, err := sf.mem.Load(context.Background(), sf.s.Key())
	if err != nil {
		sf.t.Fatal(err)
	}
	return rec
}

// otherProcess is another session on the same records, whose saves work:
// another process sharing the store. Closed at the test's end.
func (sf *saveFixture) otherProcess() *Session {
	sf.t.Helper()
	cfg := *sf.cfg
	cfg.Store = sf.mem
	other, err := NewSession(&cfg, nil)
	if err != nil {
		sf.t.Fatal(err)
	}
	sf.t.Cleanup(func() { other.Close() })
	return other
}

// refreshUnsaved forces a refresh whose save fails; it returns the new
// token and the refresh token the store still holds.
func (sf *saveFixture) refreshUnsaved() (string, string) {
	sf.t.Helper()
	stale := sf.stored().Token.RefreshToken
	sf.flaky.failSaves.Store(2)
	tok, err := sf.s.Refresh(context.Background())
	var se *SaveError
	if !errors.As(err, &se) || tok == nil {
		sf.t.Fatalf("Refresh with a failing store: %v, %v; want the token and a *SaveError", tok, err)
	}
	if tok.RefreshToken == stale || sf.stored().Token.RefreshToken != stale {
		sf.t.Fatal("want a rotated refresh token in the session and the old one in the store")
	}
	return tok.RefreshToken, stale
}

// The background timer retries a failed save soon, without a refresh, so
// that other processes stop reading the stale record.
func TestSaveFailureRetriedByTimer(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	sf := newSaveFixture(t)
	live, _ := sf.refreshUnsaved()
	refreshes := sf.refreshes()
	if n := sf.saveFailures.Load(); n != 1 {
		t.Fatalf("OnSaveFailure called %d times, want 1", n)
	}
	// The first retry also fails: the timer backs off and tries again.
	sf.flaky.failSaves.Store(2)
	sf.clock.Advance(time.Second)
	eventually(t, "the first retry", func() bool { return sf.flaky.failSaves.Load() <= 0 })
	if sf.stored().Token.RefreshToken == live {
		t.Fatal("the failing retry wrote the store")
	}
	if n := sf.saveFailures.Load(); n != 1 {
		t.Fatalf("OnSaveFailure called %d times in one failure episode, want 1", n)
	}
	for i := 0; i < 10 && sf.stored().Token.RefreshToken != live; i++ {
		sf.clock.Advance(time.Second)
		time.Sleep(20 * time.Millisecond)
	}
	eventually(t, "the save to be retried", func() bool { return sf.stored().Token.RefreshToken == live })
	if got := sf.refreshes(); got != refreshes {
		t.Fatalf("%d refresh requests to retry a save, want none", got-refreshes)
	}
	// The episode is over: a later failure is reported again.
	sf.refreshUnsaved()
	if n := sf.saveFailures.Load(); n != 2 {
		t.Fatalf("OnSaveFailure called %d times after a second episode, want 2", n)
	}
}

// Another process reads the stale record and presents its refresh token,
// which the server (rotating, with reuse detection) refuses: it needs a
// login, and the error says why that may have happened.
func TestSaveFailureStaleRecordInOtherProcess(t *testing.T) {
	sf := newSaveFixture(t)
	sf.refreshUnsaved()
	other := sf.otherProcess()
	sf.clock.Jump(2 * time.Hour) // both tokens expired; no timer fired
	_, err := other.Token(context.Background())
	if !errors.Is(err, ErrLoginRequired) || !strings.Contains(err.Error(), "another process rotated it and could not save the new one") {
		t.Fatalf("the other process got %v; want ErrLoginRequired saying why", err)
	}
}

// Close makes a last try to save tokens whose save failed, and says when
// that fails too.
func TestCloseSavesUnsavedTokens(t *testing.T) {
	t.Run("store healed", func(t *testing.T) {
		sf := newSaveFixture(t)
		live, _ := sf.refreshUnsaved()
		if err := sf.s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if sf.stored().Token.RefreshToken != live {
			t.Fatal("Close did not save the live refresh token")
		}
	})
	t.Run("store still failing", func(t *testing.T) {
		sf := newSaveFixture(t)
		sf.refreshUnsaved()
		sf.flaky.failSaves.Store(1 << 20)
		var se *SaveError
		if err := sf.s.Close(); !errors.As(err, &se) {
			t.Fatalf("Close: %v, want an error wrapping *SaveError", err)
		}
		sf.flaky.failSaves.Store(0)
	})
}

// NewSession given a token it cannot save starts all the same, reports it,
// and the timer saves it once the store works.
func TestNewSessionSaveFailure(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	mem := store.NewMemory()
	flaky := &flakyStore{Store: mem}
	flaky.failSaves.Store(2)
	f.cfg.Store = flaky
	var reported atomic.Value
	f.cfg.OnSaveFailure = func(err error) { reported.Store(err) }
	s := f.session()
	var se *SaveError
	if err, _ := reported.Load().(error); !errors.As(err, &se) || !errors.Is(err, errDiskFull) {
		t.Fatalf("OnSaveFailure got %v, want a *SaveError wrapping the store's error", err)
	}
	if tok, err := s.Token(context.Background()); err != nil || tok != f.tok {
		t.Fatalf("Token: %v, %v; want the login token", tok, err)
	}
	f.clock.Advance(time.Second)
	eventually(t, "the token to be saved", func() bool {
		rec, err := mem.Load(context.Background(), s.Key())
		return err == nil && rec.Token.RefreshToken == f.tok.RefreshToken
	})
}

// A refresh token past its own expiry (refresh_expires_in) is dropped
// without a request: the server would refuse it.
func TestRefreshTokenPastItsExpiry(t *testing.T) {
	f := newFixture(t, oauthtest.Config{RefreshTokenTTL: 2 * time.Hour, RefreshTokenExpiresInField: "refresh_expires_in"}, true)
	s := f.session()
	f.clock.Jump(3 * time.Hour)
	_, err := s.Token(context.Background())
	if !errors.Is(err, ErrLoginRequired) || !strings.Contains(err.Error(), "refresh token expired") {
		t.Fatalf("got %v, want ErrLoginRequired saying the refresh token expired", err)
	}
	if n := f.refreshes(); n != 0 {
		t.Fatalf("%d refresh requests with an expired refresh token", n)
	}
	if s.CanRefresh() {
		t.Fatal("the expired refresh token was kept")
	}
}

// Close returns promptly even when a timer fired while a refresh was
// finishing: the fired timer must not wipe the handle of the one armed
// after it, which Close could then not stop (two timers armed; Close
// waited for the stray one, up to a minute).
func TestTimerFiringDuringSlowTokenChange(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	f := newFixture(t, oauthtest.Config{}, true)
	inHook := make(chan struct{})
	release := make(chan struct{})
	var armed atomic.Bool
	f.cfg.OnTokenChange = func(_, _ *oauth2.Token) {
		if armed.CompareAndSwap(true, false) {
			close(inHook)
			<-release
		}
	}
	s, err := NewSession(f.cfg, f.tok)
	if err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := s.Refresh(context.Background())
		done <- err
	}()
	<-inHook // finish holds the session's lock, in OnTokenChange
	// The timer armed at start (at most a minute away) fires now and
	// waits for the lock.
	f.clock.Advance(maxTimerStep)
	time.Sleep(50 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		f.clock.Advance(time.Hour) // let the stray timer end, for goleak
		<-closed
		t.Fatal("Close waited for a timer it could not stop")
	}
}

// Token after Close returns ErrSessionClosed, as Close promises, on the
// fast path too; Cached still shows the last token.
func TestTokenAfterClose(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, call := range []func() error{
		func() error { _, err := s.Token(context.Background()); return err },
		func() error { _, err := s.Refresh(context.Background()); return err },
		func() error { _, err := s.Login(context.Background()); return err },
		func() error { _, err := s.TokenSource(context.Background()).Token(); return err },
		func() error { _, err := s.Client(context.Background()).Get(f.srv.ResourceEndpoint()); return err },
	} {
		if err := call(); !errors.Is(err, ErrSessionClosed) {
			t.Fatalf("after Close: %v, want ErrSessionClosed", err)
		}
	}
	if s.Cached() != f.tok {
		t.Fatal("Cached lost the last token at Close")
	}
	if n := f.refreshes(); n != 0 {
		t.Fatalf("%d refreshes after Close", n)
	}
}

// The backoff stays within [base, ceiling] for any number of retries (the
// shift overflowed from the 35th on, making the delay zero), and its
// ceiling doubles from the base up to the cap.
func TestBackoffBounds(t *testing.T) {
	base, ceiling := 500*time.Millisecond, 10*time.Second
	wantCeil := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for k, want := range wantCeil {
		if got := backoffCeiling(base, ceiling, k); got != want {
			t.Errorf("ceiling of retry %d: %v, want %v", k+1, got, want)
		}
	}
	for _, k := range []int{0, 1, 5, 34, 35, 36, 63, 64, 65, 1000, 1 << 30} {
		hi := backoffCeiling(base, ceiling, k)
		spread := false
		for range 200 {
			d := backoff(base, ceiling, k)
			if d < base || d > hi || d > ceiling {
				t.Fatalf("retry %d: delay %v outside [%v, %v]", k+1, d, base, hi)
			}
			spread = spread || d > base+(hi-base)/2
		}
		if hi > base && !spread {
			t.Errorf("retry %d: 200 delays all in the lower half of [%v, %v]: no jitter?", k+1, base, hi)
		}
	}
}

// Retries wait at least the base delay between attempts (a zero delay
// hammers a failing server).
func TestRefreshRetriesWaitBetweenAttempts(t *testing.T) {
	t.Parallel() // touches no package state: waits beside the other slow tests (shorttier_test.go)
	f := newFixture(t, oauthtest.Config{}, false)
	f.cfg.MaxRetries = 3
	s := f.session()
	s.backoffBase, s.backoffCap = 30*time.Millisecond, 60*time.Millisecond
	f.srv.FailNext(3, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	var at []time.Time
	for _, r := range f.srv.Requests() {
		if r.GrantType == "refresh_token" {
			at = append(at, r.Time)
		}
	}
	if len(at) != 4 {
		t.Fatalf("%d attempts, want 4", len(at))
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < s.backoffBase {
			t.Errorf("attempt %d came %v after the one before, less than the base delay %v", i+1, gap, s.backoffBase)
		}
	}
}

// A Retry-After beyond an hour is clamped to the hour (and logged).
func TestRetryAfterClamped(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultTooManyRequests, RetryAfter: "86400"})
	_, err := s.Refresh(context.Background())
	var rl *RetryLaterError
	if !errors.As(err, &rl) {
		t.Fatalf("got %v, want *RetryLaterError", err)
	}
	if d := rl.Until.Sub(f.clock.Now()); d != maxRetryAfter {
		t.Fatalf("wait %v, want the cap %v", d, maxRetryAfter)
	}
	var te *TokenResponseError
	if rl.Err == nil || !errors.As(err, &te) || te.StatusCode != 429 {
		t.Fatalf("the error %v does not wrap the server's 429", err)
	}
}

// A save still pending when another process logs out is never written
// back over the logout: the timer's retry and Close find the record gone,
// and the session drops its tokens.
func TestSaveRetryAfterLogoutElsewhere(t *testing.T) {
	for _, how := range []string{"timer", "close"} {
		t.Run(how, func(t *testing.T) {
			sf := newSaveFixture(t)
			sf.refreshUnsaved()
			if err := sf.mem.Delete(context.Background(), sf.s.Key()); err != nil { // authloop logout elsewhere
				t.Fatal(err)
			}
			switch how {
			case "timer":
				sf.clock.Advance(time.Second)
				eventually(t, "the session to drop its tokens", func() bool { return sf.s.Cached() == nil })
			case "close":
				if err := sf.s.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
			}
			if _, err := sf.mem.Load(context.Background(), sf.s.Key()); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("the logged-out tokens were written back: %v", err)
			}
		})
	}
}
