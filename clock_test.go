package authloop

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// Clock trouble: a client clock ahead of or behind the server's, and a
// wall clock that jumps (a laptop that sleeps, an NTP correction). The
// server and the session each get their own FakeClock.
//
// What to expect:
//   - expires_in (every provider but a few) is a lifetime, counted by the
//     client from when it sent the request: a skewed clock changes nothing.
//   - a JWT's exp, used only when expires_in is absent, is an instant on
//     the server's clock: a client behind the server by more than the
//     refresh buffer hands out a token the server already refuses (what
//     the buffer and the expiry margin absorb for small skews); a 401
//     through Client then refreshes once and the request succeeds. A client
//     ahead refreshes early. A client ahead by more than the lifetime
//     cannot use exp at all and refreshes on 401 only.
//   - a jump forward (sleep) never makes the session hand out a token
//     that expired meanwhile, not even one whose answer arrived after the
//     sleep; a jump backward (NTP) causes no refresh storm and no stuck
//     timer: the timer re-checks the wall clock at least every minute.

// skewFixture is a fixture whose server runs on its own clock, skew
// behind the session's (skew < 0: the client is behind the server).
type skewFixture struct {
	*fixture
	srvClock *oauthtest.FakeClock
}

func newSkewFixture(t *testing.T, sc oauthtest.Config, skew time.Duration) *skewFixture {
	t.Helper()
	f := &fixture{t: t, b: &approvingBrowser{}}
	srvClock := oauthtest.NewFakeClock(epoch)
	sc.Clock = srvClock
	f.clock = oauthtest.NewFakeClock(epoch.Add(skew))
	f.srv = oauthtest.NewServer(sc)
	t.Cleanup(func() {
		f.b.wg.Wait()
		f.srv.Close()
	})
	f.cfg = testConfig(f.srv, f.b.open)
	f.cfg.Clock = f.clock
	tok, err := Login(context.Background(), f.cfg)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	f.tok = tok
	return &skewFixture{fixture: f, srvClock: srvClock}
}

// advance moves both clocks by d (the server's first), firing the
// session's timers, and waits until the session is idle again.
func (f *skewFixture) advance(s *Session, d time.Duration) {
	f.t.Helper()
	f.srvClock.Advance(d)
	f.clock.Advance(d)
	settle(f.t, s, f.clock)
}

// settle waits until no refresh runs and the timer is armed again.
func settle(t *testing.T, s *Session, clock *oauthtest.FakeClock) {
	t.Helper()
	eventually(t, "the session to settle", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.flight == nil && clock.Timers() == 1
	})
}

// wantRefusedTokenRecovered checks the case of a token the session still
// thinks fresh (by its clock) but the server already refuses: Token hands
// it out, and one request through Client refreshes once and succeeds.
func (f *skewFixture) wantRefusedTokenRecovered(t *testing.T, s *Session) {
	t.Helper()
	tok, err := s.Token(context.Background())
	if err != nil || tok.AccessToken != f.tok.AccessToken {
		t.Fatalf("got %v; want the token the session still thinks fresh", err)
	}
	if f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatal("the server still accepts the token: the test shows nothing")
	}
	if st := resourceStatus(t, s, f.srv); st != http.StatusOK {
		t.Fatalf("request through Client: HTTP %d, want 200 after one refresh", st)
	}
	if r := f.refreshes(); r != 1 {
		t.Fatalf("%d refreshes, want 1", r)
	}
}

// get calls the server's resource through the session's Client.
func resourceStatus(t *testing.T, s *Session, srv *oauthtest.Server) int {
	t.Helper()
	resp, err := s.Client(context.Background()).Get(srv.ResourceEndpoint())
	if err != nil {
		t.Fatalf("request through Client: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// With expires_in, skew does not matter: over three token lifetimes, in
// one-minute steps, every token handed out is valid at the server, and
// each is refreshed once, about five minutes before its expiry.
func TestClockSkewWithExpiresIn(t *testing.T) {
	t.Parallel() // touches no package state: waits beside the other slow tests (shorttier_test.go)
	for _, skew := range []time.Duration{-7 * time.Minute, 7 * time.Minute} {
		t.Run("client "+skewName(skew), func(t *testing.T) {
			f := newSkewFixture(t, oauthtest.Config{}, skew)
			s := f.session()
			for minute := 1; minute <= 150; minute++ {
				f.advance(s, time.Minute)
				tok, err := s.Token(context.Background())
				if err != nil {
					t.Fatalf("minute %d: %v", minute, err)
				}
				if !f.srv.ValidAccessToken(tok.AccessToken) {
					t.Fatalf("minute %d: handed out a token the server refuses", minute)
				}
			}
			// Issued at 0, refreshed near 55 and 110 minutes.
			if r := f.refreshes(); r != 2 {
				t.Fatalf("%d refreshes in 150 minutes of one-hour tokens, want 2", r)
			}
		})
	}
}

func skewName(d time.Duration) string {
	if d < 0 {
		return (-d).String() + " behind"
	}
	return d.String() + " ahead"
}

// Without expires_in, a JWT access token's exp is the expiry: an instant
// on the server's clock.
func TestClockSkewWithJWTExpiry(t *testing.T) {
	t.Parallel() // touches no package state: waits beside the other slow tests (shorttier_test.go)
	jwt := oauthtest.Config{OmitExpiresIn: true, JWTAccessTokens: true}

	// Behind by more than the refresh buffer (5 min): for a while after
	// the server's expiry, the client still thinks the token fresh. The
	// resource refuses it; Client refreshes once and the request succeeds.
	t.Run("client 10m behind", func(t *testing.T) {
		f := newSkewFixture(t, jwt, -10*time.Minute)
		s := f.session()
		f.advance(s, time.Hour+time.Minute) // server: expired a minute ago
		f.wantRefusedTokenRecovered(t, s)
		tok, _ := s.Token(context.Background())
		if !f.srv.ValidAccessToken(tok.AccessToken) {
			t.Fatal("the refreshed token is not valid at the server")
		}
	})

	// Ahead: the client refreshes early, and never hands out a token the
	// server refuses.
	t.Run("client 10m ahead", func(t *testing.T) {
		f := newSkewFixture(t, jwt, 10*time.Minute)
		s := f.session()
		for minute := 1; minute <= 130; minute++ {
			f.advance(s, time.Minute)
			tok, err := s.Token(context.Background())
			if err != nil || !f.srv.ValidAccessToken(tok.AccessToken) {
				t.Fatalf("minute %d: %v, or a token the server refuses", minute, err)
			}
		}
		if r := f.refreshes(); r < 2 {
			t.Fatalf("%d refreshes in 130 minutes, want at least 2", r)
		}
	})

	// Ahead by more than the lifetime: exp is already past by the client's
	// clock, so the lifetime is unknown; the token is refreshed on a 401.
	t.Run("client 2h ahead", func(t *testing.T) {
		f := newSkewFixture(t, jwt, 2*time.Hour)
		if !f.tok.Expiry.IsZero() {
			t.Fatalf("expiry %v taken from an exp the client's clock has passed", f.tok.Expiry)
		}
		s := f.session() // no timer: the lifetime is unknown
		f.srvClock.Advance(time.Hour + time.Minute)
		f.clock.Advance(time.Hour + time.Minute)
		if tok, err := s.Token(context.Background()); err != nil || tok.AccessToken != f.tok.AccessToken {
			t.Fatalf("got %v; want the token of unknown lifetime", err)
		}
		if st := resourceStatus(t, s, f.srv); st != http.StatusOK {
			t.Fatalf("request through Client: HTTP %d, want 200 after one refresh", st)
		}
		if r := f.refreshes(); r != 1 {
			t.Fatalf("%d refreshes, want 1", r)
		}
	})
}

// A laptop sleeps into the refresh window: with no caller, the timer
// notices within a minute of waking; a caller gets the still-valid token at
// once and one background refresh starts.
func TestClockJumpForwardIntoWindow(t *testing.T) {
	t.Run("timer", func(t *testing.T) {
		f := newFixture(t, oauthtest.Config{}, true)
		s := f.session()
		f.clock.Jump(57 * time.Minute)
		f.clock.Advance(maxTimerStep)
		eventually(t, "the background refresh after waking", func() bool { return f.refreshes() == 1 })
		settle(t, s, f.clock)
		tok, err := s.Token(context.Background())
		if err != nil || tok.AccessToken == f.tok.AccessToken {
			t.Fatalf("got %v; want the refreshed token", err)
		}
	})
	t.Run("caller", func(t *testing.T) {
		f := newFixture(t, oauthtest.Config{}, true)
		s := f.session()
		f.clock.Jump(57 * time.Minute)
		tok, err := s.Token(context.Background())
		if err != nil || tok != f.tok {
			t.Fatalf("got %v; want the still-valid token at once", err)
		}
		eventually(t, "the background refresh", func() bool {
			tok, _ := s.Token(context.Background())
			return tok.AccessToken != f.tok.AccessToken
		})
		if r := f.refreshes(); r != 1 {
			t.Fatalf("%d refreshes, want 1", r)
		}
	})
}

// sleepingTransport moves the clock forward once, between the server's
// answer and the client reading it: a laptop that slept while a refresh
// was on the wire.
type sleepingTransport struct {
	base  http.RoundTripper
	clock *oauthtest.FakeClock
	d     time.Duration
	slept bool
}

func (st *sleepingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := st.base.RoundTrip(r)
	if !st.slept && r.URL.Path == "/token" {
		st.slept = true
		st.clock.Jump(st.d)
	}
	return resp, err
}

// The answer to a refresh arrives after a sleep longer than the new
// token's lifetime: that token is dead on arrival and must not be handed
// out; one more refresh gets a live one.
func TestClockSleepDuringRefresh(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	f.cfg.HTTPClient = &http.Client{Transport: &sleepingTransport{base: tr, clock: f.clock, d: 3 * time.Hour}}
	s := f.session()
	f.clock.Jump(2 * time.Hour)
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Expiry.After(f.clock.Now()) {
		t.Fatalf("handed out a token that expired %v ago (it arrived after the sleep)", f.clock.Now().Sub(tok.Expiry))
	}
	if !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatal("the token is not valid at the server")
	}
	if r := f.refreshes(); r != 2 {
		t.Fatalf("%d refreshes, want 2 (the dead-on-arrival one, then one more)", r)
	}
}

// A sleep past expiry during the pause a failed background refresh asked
// for: the caller's refresh does not wait for the pause.
func TestClockSleepDuringFailurePause(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	f.srv.FailNext(1+DefaultMaxRetries, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
	f.clock.Jump(57 * time.Minute)
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the background refresh to fail", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.flight == nil && !s.nextTry.IsZero()
	})
	f.clock.Jump(3 * time.Hour)
	tok, err := s.Token(context.Background())
	if err != nil || !tok.Expiry.After(f.clock.Now()) || !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatalf("after the sleep: %v; want a fresh token", err)
	}
}

// An NTP correction: the client's clock was 30 minutes fast when the
// token came, and is set back. The token looks 30 minutes longer-lived
// than it is: past the server's expiry the client may still hand it out,
// and a 401 through Client refreshes once. No refresh storm, no stuck
// timer meanwhile.
func TestClockJumpBackward(t *testing.T) {
	t.Parallel() // touches no package state: waits beside the other slow tests (shorttier_test.go)
	f := newSkewFixture(t, oauthtest.Config{}, 30*time.Minute)
	s := f.session()
	f.clock.Jump(-30 * time.Minute) // the correction
	// An hour of minutes: the timer re-arms each minute, nothing else.
	for minute := 1; minute <= 61; minute++ {
		f.advance(s, time.Minute)
		if f.clock.Timers() != 1 {
			t.Fatalf("minute %d: %d timers", minute, f.clock.Timers())
		}
	}
	if r := f.refreshes(); r != 0 {
		t.Fatalf("%d refreshes before the (apparent) refresh window", r)
	}
	f.wantRefusedTokenRecovered(t, s)
	// The new token was timed by the corrected clock: it is refreshed
	// before the server's expiry.
	for minute := 1; minute <= 70; minute++ {
		f.advance(s, time.Minute)
		tok, err := s.Token(context.Background())
		if err != nil || !f.srv.ValidAccessToken(tok.AccessToken) {
			t.Fatalf("minute %d after the correction: %v, or a token the server refuses", minute, err)
		}
	}
	if r := f.refreshes(); r != 2 {
		t.Fatalf("%d refreshes, want 2", r)
	}
}

// A jump backward far beyond the token's lifetime (a clock reset to an
// old date) makes the token look valid for long; the timer keeps checking
// every minute and nothing refreshes until the wall clock says so. A 401
// recovers.
func TestClockJumpBackwardFar(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	f.clock.Jump(-48 * time.Hour)
	for range 10 {
		f.clock.Advance(time.Minute)
		settle(t, s, f.clock)
	}
	if r := f.refreshes(); r != 0 {
		t.Fatalf("%d refreshes", r)
	}
	// The resource refuses the token (revoked): one refresh, and the
	// request succeeds.
	form := url.Values{"token": {f.tok.AccessToken}, "client_id": {f.srv.ClientID()}}
	resp, err := http.PostForm(f.srv.RevocationEndpoint(), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st := resourceStatus(t, s, f.srv); st != http.StatusOK {
		t.Fatalf("HTTP %d after a 401, want 200", st)
	}
	if r := f.refreshes(); r != 1 {
		t.Fatalf("%d refreshes, want 1", r)
	}
}
