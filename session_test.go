package authloop

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

var epoch = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// fixture is a test server, a config for it, and a signed-in token.
type fixture struct {
	t     *testing.T
	srv   *oauthtest.Server
	clock *oauthtest.FakeClock // nil: real time
	cfg   *Config
	b     *approvingBrowser
	tok   *oauth2.Token
}

func newFixture(t *testing.T, sc oauthtest.Config, fake bool) *fixture {
	t.Helper()
	f := &fixture{t: t, b: &approvingBrowser{}}
	if fake {
		f.clock = oauthtest.NewFakeClock(epoch)
		sc.Clock = f.clock
	}
	f.srv = oauthtest.NewServer(sc)
	t.Cleanup(func() {
		f.b.wg.Wait()
		f.srv.Close()
	})
	f.cfg = testConfig(f.srv, f.b.open)
	if fake {
		f.cfg.Clock = f.clock
	}
	tok, err := Login(context.Background(), f.cfg)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	f.tok = tok
	return f
}

func (f *fixture) session() *Session {
	f.t.Helper()
	s, err := NewSession(f.cfg, f.tok)
	if err != nil {
		f.t.Fatal(err)
	}
	s.backoffBase = time.Millisecond // keep retry tests quick
	s.backoffCap = 20 * time.Millisecond
	f.t.Cleanup(func() { s.Close() })
	return s
}

// refreshes counts refresh_token grants at the server.
func (f *fixture) refreshes() int {
	n := 0
	for _, r := range f.srv.Requests() {
		if r.Endpoint == "token" && r.GrantType == "refresh_token" {
			n++
		}
	}
	return n
}

// eventually polls cond until it holds or a generous bound passes. It
// polls at once and often at first (what it waits for is most often a
// goroutine that is about to run), then every 2 ms.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	pause := 10 * time.Microsecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(pause)
		pause = min(2*pause, 2*time.Millisecond)
	}
}

func TestSessionFastPathReturnsCurrentToken(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	got, err := s.Token(context.Background())
	if err != nil || got != f.tok {
		t.Fatalf("got %v, %v; want the login token itself", got, err)
	}
	if f.refreshes() != 0 {
		t.Fatal("a valid token was refreshed")
	}
}

func TestSessionRefreshesExpiredToken(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	f.clock.Jump(2 * time.Hour) // past expiry, no timer fired
	got, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken == f.tok.AccessToken || !f.srv.ValidAccessToken(got.AccessToken) {
		t.Fatal("an expired token was handed out, or the new one is not valid")
	}
	if !got.Expiry.After(f.clock.Now()) {
		t.Fatalf("new expiry %v not in the future (now %v)", got.Expiry, f.clock.Now())
	}
	if n := f.refreshes(); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
}

// Rotation: each refresh brings a new refresh token, which replaces the
// old before the access token is handed out; the old one is never sent
// again (the server's reuse detection would revoke the family).
func TestSessionRotation(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	var mu sync.Mutex
	var seen []string
	f.cfg.OnTokenChange = func(old, new *oauth2.Token) {
		mu.Lock()
		defer mu.Unlock()
		if old == nil || new == nil {
			t.Errorf("OnTokenChange(%v, %v) during rotation", old != nil, new != nil)
			return
		}
		seen = append(seen, new.RefreshToken)
	}
	s := f.session()
	prev := f.tok
	for i := 0; i < 5; i++ {
		f.clock.Jump(2 * time.Hour)
		tok, err := s.Token(context.Background())
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if tok.RefreshToken == prev.RefreshToken {
			t.Fatalf("refresh %d: refresh token not rotated", i)
		}
		prev = tok
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 5 {
		t.Fatalf("OnTokenChange called %d times, want 5", len(seen))
	}
	if seen[4] != prev.RefreshToken {
		t.Error("OnTokenChange did not see the token handed out")
	}
	for _, r := range f.srv.Requests() {
		if r.Error != "" {
			t.Fatalf("server saw a failing request: %+v (an old refresh token reused?)", r)
		}
	}
}

// Without rotation (like Google) the refresh token held stays.
func TestSessionNoRotationKeepsRefreshToken(t *testing.T) {
	f := newFixture(t, oauthtest.Config{DisableRotation: true}, true)
	s := f.session()
	f.clock.Jump(2 * time.Hour)
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != f.tok.RefreshToken {
		t.Fatal("refresh token lost when the server sent none")
	}
	if tok.Extra("scope") != f.tok.Extra("scope") {
		t.Errorf("scope %v, want the old %v kept", tok.Extra("scope"), f.tok.Extra("scope"))
	}
}

func TestSessionConcurrentRefreshIsOneRequest(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	f.clock.Jump(2 * time.Hour)
	const n = 1000
	var wg sync.WaitGroup
	start := make(chan struct{})
	toks := make([]*oauth2.Token, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			toks[i], errs[i] = s.Token(context.Background())
		}(i)
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if toks[i].AccessToken != toks[0].AccessToken {
			t.Fatalf("caller %d got another token", i)
		}
	}
	if r := f.refreshes(); r != 1 {
		t.Fatalf("%d goroutines caused %d token requests, want 1", n, r)
	}
}

// A caller whose context ends returns at once; the shared refresh goes on
// and the others get its result.
func TestSessionCallerCancelDoesNotCancelRefresh(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	f.clock.Jump(2 * time.Hour)
	// The server rotates and holds its answer until the caller has given
	// up: the refresh is under way when the caller cancels.
	release, held := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free)
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultHoldAnswer, Release: release, Held: held})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Token(ctx)
		done <- err
	}()
	select {
	case <-held:
	case <-time.After(time.Minute):
		t.Fatal("no refresh request reached the server")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	free()
	tok, err := s.Token(context.Background())
	if err != nil || !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatalf("patient caller got %v, %v", tok, err)
	}
	if r := f.refreshes(); r != 1 {
		t.Fatalf("%d refreshes, want 1 shared", r)
	}
}

func TestSessionRetriesTransientFaults(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	faults := []oauthtest.Fault{
		{Kind: oauthtest.FaultServerError},
		{Kind: oauthtest.FaultUnavailable},
		{Kind: oauthtest.FaultTooManyRequests, RetryAfter: "0"},
		{Kind: oauthtest.FaultReset},
		{Kind: oauthtest.FaultMalformed},
		{Kind: oauthtest.FaultHTML},
		{Kind: oauthtest.FaultTemporarilyUnavailable},
		{Kind: oauthtest.FaultDelay, Delay: 2 * time.Second},
	}
	for _, fault := range faults {
		t.Run(fault.Kind.String(), func(t *testing.T) {
			if testing.Short() && fault.Kind == oauthtest.FaultDelay {
				t.Skip("waits for http.Client.Timeout (200 ms, real time) twice: runs in the full tier (make test)")
			}
			f := newFixture(t, oauthtest.Config{}, true)
			if fault.Kind == oauthtest.FaultDelay {
				// A client timeout shorter than the server's delay.
				f.cfg.HTTPClient = &http.Client{Timeout: 200 * time.Millisecond}
			}
			s := f.session()
			f.clock.Jump(2 * time.Hour)
			f.srv.FailNext(2, fault)
			tok, err := s.Token(context.Background())
			if err != nil {
				t.Fatalf("not recovered after 2 faults with 3 retries: %v", err)
			}
			if !f.srv.ValidAccessToken(tok.AccessToken) {
				t.Fatal("token not valid at the server")
			}
			if r := f.refreshes(); r != 3 {
				t.Errorf("%d refresh requests, want 3 (2 faults + success)", r)
			}
		})
	}
}

func TestSessionGivesUpAfterMaxRetries(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.MaxRetries = 2
	var failures atomic.Int32
	f.cfg.OnRefreshFailure = func(error) { failures.Add(1) }
	s := f.session()
	f.clock.Jump(2 * time.Hour)
	f.srv.FailNext(10, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
	_, err := s.Token(context.Background())
	var te *TokenResponseError
	if !errors.As(err, &te) || te.StatusCode != 503 {
		t.Fatalf("got %v, want the 503", err)
	}
	if errors.Is(err, ErrLoginRequired) {
		t.Fatal("a transient failure reported as login required")
	}
	if r := f.refreshes(); r != 3 {
		t.Fatalf("%d attempts, want 1 + MaxRetries(2)", r)
	}
	if failures.Load() != 1 {
		t.Fatalf("OnRefreshFailure called %d times, want 1", failures.Load())
	}
}

func TestSessionNoRetries(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.MaxRetries = NoRetries
	s := f.session()
	f.clock.Jump(2 * time.Hour)
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultServerError})
	if _, err := s.Token(context.Background()); err == nil {
		t.Fatal("NoRetries retried")
	}
	if r := f.refreshes(); r != 1 {
		t.Fatalf("%d attempts, want 1", r)
	}
}

func TestSessionHonoursRetryAfter(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, false)
	s := f.session()
	waits := recordRetryWaits(t)
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultTooManyRequests, RetryAfter: "1"})
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A lower bound only: the retry waited at least what the server asked
	// (the backoff alone is 1 ms), and only once.
	if w := waits(); len(w) != 1 || w[0] < time.Second {
		t.Fatalf("waits before the retries: %v, want one of at least the 1 s Retry-After", w)
	}
	if r := f.refreshes(); r != 2 {
		t.Fatalf("%d refresh requests, want 2 (the 429, the retry)", r)
	}
}

// recordRetryWaits makes the pauses between a refresh's attempts pass at
// once, and returns what they would have been, in order, so far. The
// pause itself (retryWait, on the real clock) is seen to wait by
// TestRefreshRetriesWaitBetweenAttempts.
func recordRetryWaits(t *testing.T) func() []time.Duration {
	t.Helper()
	var mu sync.Mutex
	var waits []time.Duration
	old := retryWait
	retryWait = func(ctx context.Context, d time.Duration) bool {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return ctx.Err() == nil
	}
	t.Cleanup(func() { retryWait = old })
	return func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(waits)
	}
}

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		h    string
		want time.Duration
	}{
		{"7", 7 * time.Second},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"-3", 0},
		{"soon", 0},
		{"100000", 100000 * time.Second}, // capped by the Session (maxRetryAfter), not here
	} {
		got := retryAfter(&retryHint{err: errors.New("x"), after: c.h}, now)
		if got != c.want {
			t.Errorf("Retry-After %q: %v, want %v", c.h, got, c.want)
		}
	}
}

// A refresh token the server refuses (its grant revoked) ends in
// ErrLoginRequired wrapping the server's error, and the dead refresh token
// is dropped.
func TestSessionInvalidGrantIsLoginRequired(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	var lastNew *oauth2.Token
	var changes atomic.Int32
	f.cfg.OnTokenChange = func(_, new *oauth2.Token) { lastNew = new; changes.Add(1) }
	s := f.session()
	f.srv.RevokeAll()
	f.clock.Jump(2 * time.Hour)
	_, err := s.Token(context.Background())
	if !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("got %v, want ErrLoginRequired", err)
	}
	var oe *OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" {
		t.Fatalf("got %v, want it to wrap invalid_grant", err)
	}
	if s.CanRefresh() {
		t.Error("dead refresh token kept")
	}
	if changes.Load() != 1 || lastNew == nil || lastNew.RefreshToken != "" {
		t.Error("dropping the refresh token was not announced through OnTokenChange")
	}
	// No loop of failing refreshes: the next call needs no request.
	before := f.refreshes()
	if _, err := s.Token(context.Background()); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("second call: %v", err)
	}
	if f.refreshes() != before {
		t.Fatal("a dead refresh token was sent again")
	}
}

func TestSessionInvalidGrantInteractiveLogsIn(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Interactive = true
	s := f.session()
	f.srv.RevokeAll()
	f.clock.Jump(2 * time.Hour)
	logins := f.srv.Count("authorize")
	var wg sync.WaitGroup
	toks := make([]*oauth2.Token, 20)
	for i := range toks {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var err error
			if toks[i], err = s.Token(context.Background()); err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if got := f.srv.Count("authorize") - logins; got != 1 {
		t.Fatalf("%d new logins for 20 callers, want exactly 1", got)
	}
	if toks[0] == nil || !f.srv.ValidAccessToken(toks[0].AccessToken) || toks[0].RefreshToken == "" {
		t.Fatal("the new login's token is not in use")
	}
}

func TestSessionWithoutRefreshToken(t *testing.T) {
	f := newFixture(t, oauthtest.Config{DisableRefreshTokens: true}, true)
	s := f.session()
	if s.CanRefresh() {
		t.Fatal("CanRefresh true without a refresh token")
	}
	if tok, err := s.Token(context.Background()); err != nil || tok != f.tok {
		t.Fatalf("valid token not handed out: %v", err)
	}
	f.clock.Jump(30 * time.Minute)
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatalf("token without refresh refused before expiry: %v", err)
	}
	f.clock.Jump(time.Hour)
	_, err := s.Token(context.Background())
	if !errors.Is(err, ErrLoginRequired) || !strings.Contains(err.Error(), "no refresh token") {
		t.Fatalf("got %v, want ErrLoginRequired saying there is no refresh token", err)
	}
	if f.refreshes() != 0 {
		t.Fatal("refresh attempted without a refresh token")
	}
}

func TestSessionWithoutTokenNeedsLogin(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s, err := NewSession(f.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Token(context.Background()); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("got %v, want ErrLoginRequired", err)
	}
}

// The refresh window: default buffer, zero buffer, and short-lived tokens
// (never more than half the lifetime).
func TestSessionRefreshWindow(t *testing.T) {
	cases := []struct {
		name      string
		buffer    time.Duration
		lifetime  time.Duration
		refreshAt time.Duration // after issue
		expireAt  time.Duration
	}{
		{"default buffer, 1h token", 0, time.Hour, 55 * time.Minute, time.Hour - 10*time.Second},
		{"zero buffer", NoRefreshBuffer, time.Hour, time.Hour - 10*time.Second, time.Hour - 10*time.Second},
		{"60s token", 0, time.Minute, 30 * time.Second, 50 * time.Second},
		{"10s token", 0, 10 * time.Second, 5 * time.Second, 7500 * time.Millisecond},
		{"explicit 1m buffer", time.Minute, time.Hour, 59 * time.Minute, time.Hour - 10*time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Session{buffer: (&Config{RefreshBuffer: c.buffer}).refreshBuffer()}
			tok := &oauth2.Token{AccessToken: "a", Expiry: epoch.Add(c.lifetime), ExpiresIn: int64(c.lifetime / time.Second)}
			st := s.newState(tok)
			if got := time.Duration(st.refreshAt - epoch.UnixNano()); got != c.refreshAt {
				t.Errorf("refresh at %v after issue, want %v", got, c.refreshAt)
			}
			if got := time.Duration(st.expireAt - epoch.UnixNano()); got != c.expireAt {
				t.Errorf("stops handing out at %v after issue, want %v", got, c.expireAt)
			}
			if st.timerAt > st.refreshAt {
				t.Error("timer set after the refresh point")
			}
		})
	}
}

func TestSessionBackgroundRefresh(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	f := newFixture(t, oauthtest.Config{}, true)
	var changed atomic.Int32
	f.cfg.OnTokenChange = func(_, _ *oauth2.Token) { changed.Add(1) }
	s := f.session()
	if f.clock.Timers() != 1 {
		t.Fatalf("%d timers armed, want 1", f.clock.Timers())
	}
	// Before the window nothing happens, even as the timer steps along.
	for i := 0; i < 50; i++ {
		f.clock.Advance(time.Minute)
		eventually(t, "the timer to re-arm", func() bool { return f.clock.Timers() == 1 || changed.Load() > 0 })
	}
	if f.refreshes() != 0 {
		t.Fatal("refreshed before the window")
	}
	// Into the window (55 min): one refresh, no caller involved.
	for i := 0; i < 6 && changed.Load() == 0; i++ {
		f.clock.Advance(time.Minute)
		eventually(t, "the timer to settle", func() bool { return f.clock.Timers() == 1 })
	}
	if changed.Load() != 1 || f.refreshes() != 1 {
		t.Fatalf("background refresh: %d changes, %d requests; want 1, 1", changed.Load(), f.refreshes())
	}
	tok, _ := s.Token(context.Background())
	if tok.AccessToken == f.tok.AccessToken {
		t.Fatal("Token still hands out the old token")
	}
}

// A laptop sleeps through expiry: the timer did not fire, but the wall
// clock says the token is dead, and Token never hands it out.
func TestSessionSleepPastExpiry(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	f.clock.Jump(3 * time.Hour)
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == f.tok.AccessToken || !tok.Expiry.After(f.clock.Now()) {
		t.Fatal("an expired token was handed out after the sleep")
	}
	// And with no caller at all, the timer notices within one step.
	f2 := newFixture(t, oauthtest.Config{}, true)
	f2.session()
	f2.clock.Jump(3 * time.Hour)
	f2.clock.Advance(maxTimerStep)
	eventually(t, "the background refresh after waking", func() bool { return f2.refreshes() == 1 })
}

// Inside the window, a refresh that fails keeps serving the still-valid
// token; the failure is reported once.
func TestSessionProactiveFailureKeepsServing(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	var failures atomic.Int32
	f.cfg.OnRefreshFailure = func(error) { failures.Add(1) }
	s := f.session()
	f.srv.FailNext(1+DefaultMaxRetries, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
	f.clock.Jump(57 * time.Minute) // inside the 5-minute window
	for i := 0; i < 100; i++ {
		tok, err := s.Token(context.Background())
		if err != nil || tok != f.tok {
			t.Fatalf("call %d: got %v, want the still-valid token", i, err)
		}
	}
	eventually(t, "the failure to be reported", func() bool { return failures.Load() == 1 })
	// Many calls, one attempt (plus retries): the failure set a pause.
	if r := f.refreshes(); r != 1+DefaultMaxRetries {
		t.Fatalf("%d refresh requests, want %d (one attempt and its retries)", r, 1+DefaultMaxRetries)
	}
	// The server recovers (the faults are used up); after the pause the
	// next call revalidates.
	f.clock.Jump(time.Minute)
	_, _ = s.Token(context.Background())
	eventually(t, "a successful refresh", func() bool {
		tok, _ := s.Token(context.Background())
		return tok.AccessToken != f.tok.AccessToken
	})
	if failures.Load() != 1 {
		t.Fatalf("OnRefreshFailure called %d times for one episode", failures.Load())
	}
}

func TestSessionCloseStopsEverything(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	if f.clock.Timers() != 1 {
		t.Fatal("no timer armed")
	}
	s.Close()
	if f.clock.Timers() != 0 {
		t.Fatal("timer left after Close")
	}
	if _, err := s.Refresh(context.Background()); !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("Refresh after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestSessionAutoRefreshOff(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.DisableAutoRefresh = true
	f.session()
	if f.clock.Timers() != 0 {
		t.Fatal("timer armed with DisableAutoRefresh")
	}
}

// The client adds the bearer token; a 401 invalid_token forces one refresh
// and one retry.
func TestClientRefreshesOn401(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, false)
	s := f.session()
	client := s.Client(context.Background())
	resp, err := client.Get(f.srv.ResourceEndpoint())
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first call: %v %v", resp, err)
	}
	resp.Body.Close()

	// The server forgets the access token (revoked), the refresh token lives.
	form := url.Values{"token": {f.tok.AccessToken}, "client_id": {f.srv.ClientID()}}
	r, err := http.PostForm(f.srv.RevocationEndpoint(), form)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()

	req, _ := http.NewRequest(http.MethodPost, f.srv.ResourceEndpoint(), strings.NewReader("payload"))
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after refresh: HTTP %d, want 200", resp.StatusCode)
	}
	if f.refreshes() != 1 {
		t.Fatalf("%d refreshes, want 1", f.refreshes())
	}
}

func TestTokenSourceAdapter(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	var ts oauth2.TokenSource = s.TokenSource(context.Background())
	tok, err := ts.Token()
	if err != nil || tok.AccessToken != f.tok.AccessToken {
		t.Fatalf("TokenSource: %v", err)
	}
}

// A forced refresh that joins a background refresh which found the grant
// dead still signs in when the session is interactive.
func TestSessionRefreshAfterBackgroundLoginRequired(t *testing.T) {
	t.Parallel() // touches no package state: waits beside the other slow tests (shorttier_test.go)
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Interactive = true
	s := f.session()
	f.srv.RevokeAll()
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultDelay, Delay: 200 * time.Millisecond})
	f.clock.Jump(57 * time.Minute) // inside the window: Token starts a background refresh
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the background refresh to start", func() bool { return f.srv.Count("token") >= 2 })
	tok, err := s.Refresh(context.Background())
	if err != nil {
		t.Fatalf("forced refresh on an interactive session: %v", err)
	}
	if !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatal("no new login")
	}
}

// A 401 with any Bearer error (Hydra says request_unauthorized) after the
// grant died: the client's error is ErrLoginRequired, not a bare 401.
func TestClient401AfterGrantDiedIsLoginRequired(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, false)
	s := f.session()
	f.srv.RevokeAll()
	_, err := s.Client(context.Background()).Get(f.srv.ResourceEndpoint())
	if !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("got %v, want ErrLoginRequired", err)
	}
}

// Close during a refresh whose request is on its way: the answer (with
// the rotated refresh token) still arrives and is saved, so the grant is
// not lost.
func TestCloseDuringRefreshKeepsRotatedToken(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	// The server answers at once (it has rotated), the answer is slow to
	// arrive: the window in which Close used to cancel.
	// The answer arrives once Close has begun (release).
	release, held := make(chan struct{}), make(chan struct{}, 1)
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free)
	f.cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil || r.URL.Path != "/token" {
			return resp, err
		}
		held <- struct{}{}
		select {
		case <-release:
			return resp, nil
		case <-r.Context().Done():
			resp.Body.Close()
			return nil, r.Context().Err()
		}
	})}
	st := fileStore(t, t.TempDir())
	s := f.sessionWith(st, f.tok)
	f.clock.Jump(2 * time.Hour)
	go func() { _, _ = s.Token(context.Background()) }()
	select {
	case <-held: // the server has rotated; its answer is on the way
	case <-time.After(time.Minute):
		t.Fatal("no refresh answer came")
	}
	if r := f.refreshes(); r != 1 {
		t.Fatalf("%d refreshes at the server, want 1", r)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	waitClosing(t, s)
	free()
	<-closed
	f.cfg.HTTPClient = nil
	s2 := f.sessionWith(st, nil)
	tok, err := s2.Token(context.Background())
	if err != nil {
		t.Fatalf("the rotated refresh token was lost at Close: %v", err)
	}
	if !f.srv.ValidAccessToken(tok.AccessToken) || f.refreshes() != 1 {
		t.Fatalf("valid %v, refreshes %d: want the saved answer adopted, no second refresh", f.srv.ValidAccessToken(tok.AccessToken), f.refreshes())
	}
}
