package authloop

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// Attacks on the fix of issue 12 (situations 1, 2, 3, 5, 7, 8, 9): each
// test asserts what a demanding user expects of a save that failed, a wait
// the server asked for, a configuration error, Logout and Close. Each
// test's comment tells what the attack found in the code it was written
// against (present tense: as it was then); the fixes followed, each in a
// commit of its own.

// refusedRefreshes are the refresh requests the server refused: each one
// is a refresh token presented that the server no longer took.
func refusedRefreshes(srv *oauthtest.Server) []oauthtest.Request {
	var out []oauthtest.Request
	for _, r := range srv.Requests() {
		if r.Endpoint == "token" && r.GrantType == "refresh_token" && r.Status != http.StatusOK {
			out = append(out, r)
		}
	}
	return out
}

// idle waits until no flight runs and a timer that fired has done its
// work (set itself again, started a flight, or found nothing to do).
func idle(t *testing.T, s *Session, clock *oauthtest.FakeClock) {
	t.Helper()
	eventually(t, "the session to be idle", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.flight == nil && (clock.Timers() > 0 || s.stopTimer == nil)
	})
}

// A refresh whose save failed, then the store heals, then a refresh meets
// the server's 429 with Retry-After. The refresh saves the live refresh
// token first (good), and then keeps the wait in the record by writing
// back the record it read before that save: the stale refresh token it
// had just replaced. The store ends up holding a refresh token the server
// rotated away, and the session believes the store is up to date (nothing
// left to retry). Another process that refreshes after the wait presents
// the stale token: a rotating server takes it as reuse and revokes the
// grant of every process.
func TestAttackWaitAfterHealedSaveKeepsLiveRefreshToken(t *testing.T) {
	sf := newSaveFixture(t)
	live, stale := sf.refreshUnsaved()
	// The store works again; the next refresh meets a 429.
	sf.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultTooManyRequests, RetryAfter: "120"})
	_, err := sf.s.Refresh(context.Background())
	var rl *RetryLaterError
	if !errors.As(err, &rl) {
		t.Fatalf("Refresh during a 429: %v, want *RetryLaterError", err)
	}
	switch got := sf.stored().Token.RefreshToken; got {
	case live:
	case stale:
		t.Fatal("the store holds the rotated-away refresh token again: keeping the wait in the record wrote back the record read before the live token was saved")
	default:
		t.Fatal("the store holds neither the live nor the stale refresh token")
	}
	// What that costs: another process, after the wait and the expiry,
	// refreshes with what the store holds.
	other := sf.otherProcess()
	sf.clock.Jump(2 * time.Hour)
	if _, err := other.Token(context.Background()); err != nil {
		t.Fatalf("another process after the wait: %v", err)
	}
	if r := refusedRefreshes(sf.srv); len(r) != 1 { // the 429
		t.Fatalf("the server refused %d refreshes, want only the 429: %+v", len(r), r)
	}
}

// Logout while a save of the live tokens is pending (the store failed
// earlier and works again now): the record is deleted, but the pending
// save is not forgotten. Close (and, before it, the timer's retry of the
// save) writes the logged-out tokens back into the store: the person
// logged out, and the next process is signed in again with them (and at a
// server without revocation, or when the revocation failed, they work).
func TestAttackLogoutForgetsUnsavedTokens(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	t.Run("Close", func(t *testing.T) {
		sf := newSaveFixture(t)
		sf.refreshUnsaved()
		if err := sf.s.Logout(context.Background()); err != nil {
			t.Fatalf("Logout: %v", err)
		}
		if err := sf.s.Close(); err != nil {
			t.Fatalf("Close after Logout: %v", err)
		}
		if rec, err := sf.mem.Load(context.Background(), sf.s.Key()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after Logout and Close the store holds %v (err %v); want no record", rec, err)
		}
	})
	// Close while Logout finishes (a program shutting down on "log
	// out"): Close's last try of the pending save runs beside Logout, just
	// after Logout deleted the record, and writes it back.
	t.Run("Close during Logout", func(t *testing.T) {
		sf := newSaveFixture(t)
		ds := &deleteGateStore{Store: sf.flaky, deleted: make(chan struct{}), release: make(chan struct{})}
		sf.cfg.Store = ds
		sf.s = sf.session()
		sf.refreshUnsaved()
		logout := make(chan error, 1)
		go func() { logout <- sf.s.Logout(context.Background()) }()
		<-ds.deleted
		closed := make(chan error, 1)
		go func() { closed <- sf.s.Close() }()
		time.Sleep(50 * time.Millisecond) // Close runs as far as it can
		close(ds.release)
		if err := <-logout; err != nil {
			t.Fatalf("Logout: %v", err)
		}
		<-closed
		if rec, err := sf.mem.Load(context.Background(), sf.s.Key()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after Logout (and Close) the store holds %v (err %v); want no record", rec, err)
		}
	})
	t.Run("timer", func(t *testing.T) {
		sf := newSaveFixture(t)
		sf.refreshUnsaved()
		if err := sf.s.Logout(context.Background()); err != nil {
			t.Fatalf("Logout: %v", err)
		}
		// The program goes on: a call finds no token, and time passes.
		if _, err := sf.s.Token(context.Background()); !errors.Is(err, ErrLoginRequired) {
			t.Fatalf("Token after Logout: %v, want ErrLoginRequired", err)
		}
		for range 3 {
			sf.clock.Advance(time.Minute)
			idle(t, sf.s, sf.clock)
		}
		if rec, err := sf.mem.Load(context.Background(), sf.s.Key()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after Logout the store holds %v (err %v); want no record", rec, err)
		}
		if tok := sf.s.Cached(); tok != nil {
			t.Fatal("after Logout the session holds a token again")
		}
	})
}

// deleteGateStore holds the first Delete, once done, until release.
type deleteGateStore struct {
	store.Store
	deleted chan struct{}
	release chan struct{}
}

func (d *deleteGateStore) Delete(ctx context.Context, key store.Key) error {
	err := d.Store.Delete(ctx, key)
	close(d.deleted)
	<-d.release
	return err
}

// While the live token's save is pending, the store holds an older record
// that the session knows to be stale. Whatever reads it (the timer's retry
// of the save, the next refresh) must not take that older token in place
// of the live one: the live one is lost (never saved, nor held), and the
// session goes back to an older grant.
func TestAttackUnsavedTokenNotReplacedByOlderRecord(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	// Session.Login (a step-up, another account, a fresh sign-in asked
	// for) whose save fails: one second later the timer's retry of the save
	// reads the store, finds the previous sign-in's token still valid,
	// and takes it: the new sign-in is silently undone.
	t.Run("Login", func(t *testing.T) {
		sf := newSaveFixture(t)
		before := sf.stored().Token.AccessToken
		sf.flaky.failSaves.Store(2)
		tok, err := sf.s.Login(context.Background())
		var se *SaveError
		if tok == nil || !errors.As(err, &se) {
			t.Fatalf("Login with a failing store: %v, %v; want the new token and a *SaveError", tok, err)
		}
		sf.clock.Advance(time.Second) // the save's retry is due
		eventually(t, "the save's retry", func() bool {
			return sf.stored().Token.AccessToken != before || sf.s.Cached() != tok
		})
		idle(t, sf.s, sf.clock)
		if got := sf.s.Cached(); got.AccessToken != tok.AccessToken {
			t.Fatalf("the session went back to the token of the earlier sign-in (%v)", got.AccessToken == before)
		}
		if sf.stored().Token.AccessToken != tok.AccessToken {
			t.Fatal("the new sign-in was never saved")
		}
	})
	// The same at Close, with the store still failing: Close promises to
	// try the save once more and to say when it fails. It reads the older
	// record, takes it for newer, and returns nil: the new sign-in is
	// gone, and nobody was told.
	t.Run("Login then Close", func(t *testing.T) {
		sf := newSaveFixture(t)
		before := sf.stored().Token.AccessToken
		sf.flaky.failSaves.Store(1 << 20)
		if tok, err := sf.s.Login(context.Background()); tok == nil || err == nil {
			t.Fatalf("Login with a failing store: %v, %v; want the new token and a *SaveError", tok, err)
		}
		err := sf.s.Close()
		sf.flaky.failSaves.Store(0)
		var se *SaveError
		if !errors.As(err, &se) && sf.stored().Token.AccessToken == before {
			t.Fatalf("Close returned %v, and the store holds the earlier sign-in: the new one was lost without a word", err)
		}
	})
	// A step-up whose save failed: the timer's retry of the save goes
	// back to the narrower token in the store, and the request the
	// step-up was for is refused again.
	t.Run("step-up", func(t *testing.T) {
		s, clock, flaky, do, _ := stepUpUnsaved(t)
		if resp := do(http.MethodPost); resp.StatusCode != http.StatusOK {
			t.Fatalf("POST after the step-up: HTTP %d", resp.StatusCode)
		}
		stepped := s.Cached()
		clock.Advance(time.Second) // the save's retry
		eventually(t, "the save's retry", func() bool { return flaky.saves.Load() > 1 || s.Cached() != stepped })
		idle(t, s, clock)
		if resp := do(http.MethodPost); resp.StatusCode != http.StatusOK {
			t.Fatalf("POST after the save's retry: HTTP %d; the session went back to the narrower token in the store", resp.StatusCode)
		}
	})
	// A server that does not rotate refresh tokens (Google): a forced
	// refresh (a 401 from the resource) whose save fails. The timer's retry
	// of the save finds the older access token in the store, still within
	// its lifetime by the clock, and goes back to it: the token the
	// resource refused.
	t.Run("refresh without rotation", func(t *testing.T) {
		f := newFixture(t, oauthtest.Config{DisableRotation: true}, true)
		mem := store.NewMemory()
		flaky := &flakyStore{Store: mem}
		f.cfg.Store = flaky
		s := f.session()
		flaky.failSaves.Store(2)
		tok, err := s.Refresh(context.Background())
		var se *SaveError
		if tok == nil || !errors.As(err, &se) {
			t.Fatalf("Refresh with a failing store: %v, %v; want the new token and a *SaveError", tok, err)
		}
		f.clock.Advance(time.Second)
		eventually(t, "the save's retry", func() bool {
			rec, err := mem.Load(context.Background(), s.Key())
			return err == nil && rec.Token.AccessToken != f.tok.AccessToken || s.Cached() != tok
		})
		idle(t, s, f.clock)
		if got, err := s.Token(context.Background()); err != nil || got.AccessToken != tok.AccessToken {
			t.Fatalf("Token after the save's retry: %v; the session went back to the older access token: %v", err, got != nil && got.AccessToken == f.tok.AccessToken)
		}
	})
	// More rotations than the session remembers (retiredKept) while the
	// store keeps failing, within one access token's lifetime (forced
	// refreshes: 401s from a resource, Refresh in a loop). The first
	// refresh token falls off the list; once the store heals, the next
	// refresh takes the stored record (the first access token, still
	// valid) instead of refreshing, and the one after presents the first
	// refresh token: a rotating server takes it as reuse and revokes the
	// grant.
	t.Run("more rotations than remembered", func(t *testing.T) {
		sf := newSaveFixture(t)
		sf.flaky.failSaves.Store(1 << 20)
		for i := range retiredKept + 1 {
			tok, err := sf.s.Refresh(context.Background())
			var se *SaveError
			if tok == nil || !errors.As(err, &se) {
				t.Fatalf("refresh %d with a failing store: %v, %v", i+1, tok, err)
			}
		}
		sf.flaky.failSaves.Store(0)
		for i := range 2 {
			if _, err := sf.s.Refresh(context.Background()); err != nil {
				t.Fatalf("refresh %d after the store healed: %v", i+1, err)
			}
		}
		if r := refusedRefreshes(sf.srv); len(r) != 0 {
			t.Fatalf("the server refused %d refreshes (%s): a rotated-away refresh token was presented", len(r), r[0].Error)
		}
	})
}

// gateStore holds Lock calls while block is set, to catch a flight in the
// middle.
type gateStore struct {
	store.Store
	block   atomic.Bool
	held    chan struct{} // a Lock call is waiting
	release chan struct{}
}

func (g *gateStore) Lock(ctx context.Context, key store.Key, name string) (func() error, error) {
	if g.block.CompareAndSwap(true, false) {
		g.held <- struct{}{}
		<-g.release
	}
	return g.Store.Lock(ctx, key, name)
}

// A caller who comes while the timer's retry of a failed save runs joins
// that flight, which refreshes nothing: it hands the caller the token the
// session held, whatever its age. Token gets an expired token with no
// error (its one promise is a valid token); Refresh, which "forces a
// refresh now", gets the old token back.
func TestAttackCallerJoiningSaveRetry(t *testing.T) {
	t.Parallel() // touches no package state: waits beside the other slow tests (shorttier_test.go)
	for _, name := range []string{"Token after expiry", "Refresh"} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, oauthtest.Config{}, true)
			flaky := &flakyStore{Store: store.NewMemory()}
			gs := &gateStore{Store: flaky, held: make(chan struct{}), release: make(chan struct{})}
			f.cfg.Store = gs
			s := f.session()
			flaky.failSaves.Store(2)
			held, err := s.Refresh(context.Background())
			var se *SaveError
			if !errors.As(err, &se) {
				t.Fatalf("Refresh with a failing store: %v", err)
			}
			// The timer's retry of the save starts and waits for the lock;
			// the store still fails.
			flaky.failSaves.Store(1 << 20)
			gs.block.Store(true)
			f.clock.Advance(2 * time.Second)
			<-gs.held
			if name == "Token after expiry" {
				f.clock.Jump(2 * time.Hour) // the machine slept
			}
			type result struct {
				tok *oauth2.Token
				err error
			}
			done := make(chan result, 1)
			go func() {
				var r result
				if name == "Refresh" {
					r.tok, r.err = s.Refresh(context.Background())
				} else {
					r.tok, r.err = s.Token(context.Background())
				}
				done <- r
			}()
			time.Sleep(50 * time.Millisecond) // the caller joins the flight
			close(gs.release)
			r := <-done
			flaky.failSaves.Store(0)
			if r.tok == nil {
				t.Fatalf("got no token (%v); the session holds a live refresh token", r.err)
			}
			if r.tok.AccessToken == held.AccessToken {
				t.Fatalf("got the token held before (expired: %v, err %v); want a refreshed one", !r.tok.Expiry.After(f.clock.Now()), r.err)
			}
			if !f.srv.ValidAccessToken(r.tok.AccessToken) {
				t.Fatal("the token is not valid at the server")
			}
		})
	}
}

// A 429 with Retry-After makes the session wait (no token request before
// the wait ends); meanwhile the person signs in again in another process
// (authloop login), which saves a fresh token to the shared store. Taking
// that token costs no token request, yet the waiting session keeps
// answering the old *RetryLaterError without reading the store, until the
// server's wait is over (up to an hour).
func TestAttackWaitIgnoresSignInElsewhere(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := store.NewMemory()
	a := f.sessionWith(st, f.tok)
	f.clock.Jump(2 * time.Hour) // a's token expired
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultTooManyRequests, RetryAfter: "1800"})
	_, err := a.Token(context.Background())
	var rl *RetryLaterError
	if !errors.As(err, &rl) {
		t.Fatalf("Token during a 429: %v, want *RetryLaterError", err)
	}
	b := f.sessionWith(st, nil)
	fresh, err := b.Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Token(context.Background())
	if err != nil || got.AccessToken != fresh.AccessToken {
		t.Fatalf("Token after a new sign-in elsewhere: %v; want the new sign-in's token, which costs no token request", err)
	}
}

// The wall clock is set back (an RTC reset, an NTP correction from a
// clock that ran far ahead) after a server asked for a two-minute wait.
// The wait's end, kept as an absolute time in memory and in the record,
// now lies two days ahead: no token request for two days, in this process
// and in every process sharing the store, although no wait longer than an
// hour is ever honoured (maxRetryAfter).
func TestAttackWaitSurvivesClockSetBack(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := store.NewMemory()
	s := f.sessionWith(st, f.tok)
	f.clock.Jump(2 * time.Hour)
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultTooManyRequests, RetryAfter: "120"})
	if _, err := s.Token(context.Background()); err == nil {
		t.Fatal("Token during a 429 succeeded")
	}
	f.clock.Jump(-48 * time.Hour)
	checkWait := func(who string, err error) {
		t.Helper()
		var rl *RetryLaterError
		if errors.As(err, &rl) && rl.Until.Sub(f.clock.Now()) > maxRetryAfter {
			t.Fatalf("%s: no token request for %v (until %v): longer than the cap %v", who, rl.Until.Sub(f.clock.Now()).Round(time.Minute), rl.Until, maxRetryAfter)
		}
	}
	// This process: a forced refresh.
	_, err := s.Refresh(context.Background())
	checkWait("this process", err)
	// Another process sharing the store.
	other := f.sessionWith(st, nil)
	_, err = other.Refresh(context.Background())
	checkWait("another process", err)
}

// A configuration error (invalid_client: a rotated client secret) met by
// the background timer: the issue wants "nothing retried in a loop". The
// timer sends the same refused request once a minute for as long as the
// program runs, and goes on after the token expired: a daemon with a stale
// secret sends 60 refused requests an hour to the authorization server
// (which may lock the client out for it). Expected: the pause grows, or
// only callers (on demand) try again.
func TestAttackConfigErrorTimerDoesNotLoop(t *testing.T) {
	t.Parallel() // touches no package state: waits beside the other slow tests (shorttier_test.go)
	f := newFixture(t, oauthtest.Config{}, true)
	var failures atomic.Int32
	f.cfg.OnRefreshFailure = func(error) { failures.Add(1) }
	s := f.session()
	f.srv.FailNext(1000, oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "invalid_client"})
	for range 180 { // three hours, a minute at a time
		f.clock.Advance(time.Minute)
		idle(t, s, f.clock)
	}
	if n := f.refreshes(); n > 10 {
		t.Fatalf("the background timer sent %d refused refresh requests in three hours after invalid_client, want a handful at most", n)
	}
	if n := failures.Load(); n != 1 {
		t.Fatalf("OnRefreshFailure called %d times, want 1", n)
	}
}

// stepUpUnsaved signs in to an MCP-like resource, then meets its 403
// insufficient_scope and steps up while the store fails every save. It
// returns the session, its clock and store, a function that sends a
// request with the session's token, and Authorize's error for the step-up.
func stepUpUnsaved(t *testing.T) (*Session, *oauthtest.FakeClock, *flakyStore, func(string) *http.Response, error) {
	t.Helper()
	clock := oauthtest.NewFakeClock(epoch)
	srv := oauthtest.NewServer(oauthtest.Config{JWTAccessTokens: true, Clock: clock})
	t.Cleanup(srv.Close)
	rs, _ := stepUpServer(t, srv)
	b := &approvingBrowser{}
	t.Cleanup(b.wg.Wait)
	cfg := resourceConfig(srv, rs.URL+"/mcp", b.open)
	cfg.Clock = clock
	flaky := &flakyStore{Store: store.NewMemory()}
	cfg.Store = flaky
	cfg.OnSaveFailure = func(error) {}
	s, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	do := func(method string) *http.Response { return callWithCached(t, s, method, rs.URL+"/mcp") }
	if err := s.Authorize(ctx, nil, do(http.MethodGet)); err != nil {
		t.Fatal(err)
	}
	resp := do(http.MethodPost)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST before the step-up: HTTP %d", resp.StatusCode)
	}
	flaky.failSaves.Store(2)
	err = s.Authorize(ctx, resp.Request, resp)
	return s, clock, flaky, do, err
}

// A step-up (403 insufficient_scope) whose new sign-in cannot be saved:
// the session holds the wider token and a retry of the request succeeds,
// yet Authorize reports failure, which tells the MCP SDK (whose OAuth hook
// it is) not to retry: the call fails. A 401's refresh whose save fails
// returns nil (the failure goes to OnSaveFailure); a step-up should too.
func TestAttackStepUpSaveFailureFailsAuthorize(t *testing.T) {
	_, _, _, do, err := stepUpUnsaved(t)
	if err != nil {
		t.Errorf("Authorize after a step-up whose save failed: %v; want nil (the session holds the new token; OnSaveFailure hears of the save)", err)
	}
	if resp := do(http.MethodPost); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST after the step-up: HTTP %d", resp.StatusCode)
	}
}

// invalid_target from a server when the session names no resource: the
// error says `it does not accept the resource ""`, naming a value nobody
// set. The message should say that no resource is configured.
func TestAttackInvalidTargetWithoutResource(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "invalid_target"})
	_, err := s.Refresh(context.Background())
	if err == nil {
		t.Fatal("Refresh succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, `resource ""`) || !strings.Contains(msg, "Config.Resource") {
		t.Fatalf("the error names an empty resource, or not the setting: %v", err)
	}
}

// The grant dies (revoked at the server) while a save is pending and the
// store still fails: the refused refresh token is dropped in memory, but
// the pending save still holds it, so once the store works the timer
// writes the refused refresh token into the store, where every other
// process presents it again: a request per process for a grant already
// known to be dead.
func TestAttackDeadGrantNotSavedBack(t *testing.T) {
	sf := newSaveFixture(t)
	sf.refreshUnsaved()
	sf.srv.RevokeAll()
	sf.flaky.failSaves.Store(1 << 20)
	if _, err := sf.s.Refresh(context.Background()); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("Refresh of a revoked grant: %v, want ErrLoginRequired", err)
	}
	sf.flaky.failSaves.Store(0)
	for range 3 {
		sf.clock.Advance(time.Minute)
		idle(t, sf.s, sf.clock)
	}
	refused := len(refusedRefreshes(sf.srv))
	other := sf.otherProcess()
	sf.clock.Jump(2 * time.Hour)
	if _, err := other.Token(context.Background()); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("another process: %v, want ErrLoginRequired", err)
	}
	if n := len(refusedRefreshes(sf.srv)) - refused; n != 0 {
		t.Fatalf("another process presented a refresh token the server had refused (%d refused requests): the dead one was saved back", n)
	}
}

// An interactive session whose grant died signs the person in again while
// the store cannot save: the sign-in succeeds, but its token is thrown
// away ("the new login failed"), and the next call opens the browser
// again, and so on at every call: a browser window per call for a full
// disk.
func TestAttackInteractiveLoginSaveFailure(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	flaky := &flakyStore{Store: store.NewMemory()}
	f.cfg.Store = flaky
	f.cfg.Interactive = true
	var opened atomic.Int32
	f.cfg.Browser = func(ctx context.Context, u string) error {
		opened.Add(1)
		return f.b.open(ctx, u)
	}
	f.cfg.OnSaveFailure = func(error) {}
	s := f.session()
	f.srv.RevokeAll()
	f.clock.Jump(2 * time.Hour)
	flaky.failSaves.Store(1 << 20)
	defer flaky.failSaves.Store(0)
	tok, err := s.Token(context.Background())
	if err != nil || tok == nil || !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatalf("Token after the new sign-in: %v; want the new sign-in's token (its save failure goes to OnSaveFailure)", err)
	}
	for range 3 {
		if _, err := s.Token(context.Background()); err != nil {
			t.Fatalf("a later Token: %v", err)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Fatalf("the browser was opened %d times, want 1", n)
	}
}

// Session.Login (another account, wider scopes) whose save fails; another
// process, which never saw the new sign-in, refreshes the earlier grant
// from the store and saves it. This session then takes that token (it is
// newer than the stale record), drops its own new sign-in, and goes on
// with the grant the person meant to replace.
func TestAttackLoginUnsavedNotReplacedByEarlierGrant(t *testing.T) {
	sf := newSaveFixture(t)
	other := sf.otherProcess()
	sf.clock.Jump(time.Minute)
	sf.flaky.failSaves.Store(2)
	signedIn, err := sf.s.Login(context.Background())
	var se *SaveError
	if signedIn == nil || !errors.As(err, &se) {
		t.Fatalf("Login with a failing store: %v, %v", signedIn, err)
	}
	sf.clock.Jump(2 * time.Hour) // both tokens expired
	if _, err := other.Token(context.Background()); err != nil {
		t.Fatalf("the other process refreshing the earlier grant: %v", err)
	}
	tok, err := sf.s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := signedInAt(tok), signedInAt(signedIn); !got.Equal(want) {
		t.Fatalf("the session's token comes from the sign-in of %v, not from its new sign-in of %v: the new sign-in was dropped for the earlier grant", got, want)
	}
}
