package authloop

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// The fault matrix: every fault the authorization server (oauthtest) or
// the network (faultProxy) can throw at a refresh, against every way a
// refresh starts. Its rows are the table in docs/RELIABILITY.md, which
// TestReliabilityDoc keeps in step (-update-reliability-doc rewrites it).

var updateReliabilityDoc = flag.Bool("update-reliability-doc", false, "rewrite the fault matrix table in docs/RELIABILITY.md")

const (
	// matrixMaxRetries is Config.MaxRetries in the matrix: a brief fault
	// fails that many attempts (recovered on the last try), a persistent
	// one every attempt of a refresh.
	matrixMaxRetries = 2
	// matrixFaultTimeout is how long the client waits on an attempt that
	// meets a black hole, a stall, a trickle or a delay before it gives up
	// (for a stall or a trickle: counted from when the server has
	// answered, so it has processed the request). The test's transport
	// applies it to the faulted attempts only, as a request deadline: the
	// other attempts have a long http.Client.Timeout, so a loaded machine
	// cannot turn a normal request into a fault. (TestHTTPClientTimeout
	// shows the same faults ended by http.Client.Timeout.)
	matrixFaultTimeout = 300 * time.Millisecond
	matrixHTTPTimeout  = 30 * time.Second
	// matrixParallel rows run at once; most of their time is spent
	// waiting for a timeout.
	matrixParallel = 12
)

// faultClass is what a fault means for the refresh token.
type faultClass int

const (
	// classTransient: the server did not process the request, or asked
	// to try again: retried, the refresh token unchanged.
	classTransient faultClass = iota
	// classFinal: the server refused the grant (invalid_grant).
	classFinal
	// classLostRotated: the server processed the refresh and rotated the
	// refresh token, and the answer was lost on the way back.
	classLostRotated
	// classConfig: the server refused this client's configuration
	// (invalid_client, unauthorized_client, invalid_target): the grant
	// lives, the refresh token is kept, nothing is retried for a while.
	classConfig
	// classWait: the server asked for a wait longer than the refresh's
	// deadline (429 with Retry-After: 120).
	classWait
	// classSaveFails: the server rotated the refresh token and the store
	// could not save the answer.
	classSaveFails
)

type matrixFault struct {
	slug  string
	name  string
	class faultClass
	// processed: the server handled the request (and answered 200) before
	// the fault spoilt the answer.
	processed bool
	server    oauthtest.Config
	oauth     *oauthtest.Fault // injected by the server, or
	proxy     proxyMode        // by the proxy in front of it (TLS), or the store (classSaveFails)
	// hint: what a configuration error's message must name.
	hint string
}

func (mf matrixFault) viaProxy() bool { return mf.oauth == nil && mf.class != classSaveFails }

// needsTimeout: only the client's timeout ends the faulted attempt.
func (mf matrixFault) needsTimeout() bool {
	if mf.class == classSaveFails {
		return false
	}
	if mf.viaProxy() {
		return mf.proxy == proxyBlackHole || mf.proxy == proxyStall || mf.proxy == proxyTrickle
	}
	return mf.oauth.Kind == oauthtest.FaultDelay
}

var matrixFaults = []matrixFault{
	{slug: "500", name: "oauthtest: HTTP 500 `server_error`", oauth: &oauthtest.Fault{Kind: oauthtest.FaultServerError}},
	{slug: "503", name: "oauthtest: HTTP 503", oauth: &oauthtest.Fault{Kind: oauthtest.FaultUnavailable}},
	{slug: "429", name: "oauthtest: HTTP 429, `Retry-After: 0`", oauth: &oauthtest.Fault{Kind: oauthtest.FaultTooManyRequests, RetryAfter: "0"}},
	{slug: "temporarily_unavailable", name: "oauthtest: HTTP 400 `temporarily_unavailable`", oauth: &oauthtest.Fault{Kind: oauthtest.FaultTemporarilyUnavailable}},
	{slug: "html_502", name: "oauthtest: HTTP 502 HTML page (a proxy's)", oauth: &oauthtest.Fault{Kind: oauthtest.FaultHTML}},
	{slug: "malformed", name: "oauthtest: HTTP 200, malformed JSON", oauth: &oauthtest.Fault{Kind: oauthtest.FaultMalformed}},
	{slug: "reset", name: "oauthtest: connection reset, no answer", oauth: &oauthtest.Fault{Kind: oauthtest.FaultReset}},
	{slug: "delay", name: "oauthtest: delay (10 s) past the client timeout", oauth: &oauthtest.Fault{Kind: oauthtest.FaultDelay, Delay: 10 * time.Second}},
	{slug: "invalid_grant", name: "oauthtest: HTTP 400 `invalid_grant`", class: classFinal, oauth: &oauthtest.Fault{Kind: oauthtest.FaultInvalidGrant}},
	{slug: "black_hole", name: "proxy: black hole (accepts, never answers)", proxy: proxyBlackHole},
	{slug: "tls_handshake", name: "proxy: TLS handshake failure (alert)", proxy: proxyTLSFail},
	{slug: "stall_rotating", name: "proxy: stall mid-response, rotating server", class: classLostRotated, processed: true, proxy: proxyStall},
	{slug: "closed_after_headers_rotating", name: "proxy: closed after the headers, rotating server", class: classLostRotated, processed: true, proxy: proxyCloseAfterHeaders},
	{slug: "trickle_rotating", name: "proxy: slow trickle (1 byte/50 ms), rotating server", class: classLostRotated, processed: true, proxy: proxyTrickle},
	{slug: "stall_no_rotation", name: "proxy: stall mid-response, non-rotating server", processed: true, server: oauthtest.Config{DisableRotation: true}, proxy: proxyStall},
	{slug: "closed_after_headers_no_rotation", name: "proxy: closed after the headers, non-rotating server", processed: true, server: oauthtest.Config{DisableRotation: true}, proxy: proxyCloseAfterHeaders},
	{slug: "trickle_no_rotation", name: "proxy: slow trickle, non-rotating server", processed: true, server: oauthtest.Config{DisableRotation: true}, proxy: proxyTrickle},
	{slug: "invalid_client", name: "oauthtest: HTTP 401 `invalid_client` (a rotated client secret)", class: classConfig, hint: "Config.OAuth2.ClientID and ClientSecret", oauth: &oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "invalid_client"}},
	{slug: "unauthorized_client", name: "oauthtest: HTTP 400 `unauthorized_client`", class: classConfig, hint: "grant types", oauth: &oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "unauthorized_client"}},
	{slug: "invalid_target", name: "oauthtest: HTTP 400 `invalid_target`", class: classConfig, hint: "Config.Resource", oauth: &oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "invalid_target"}},
	{slug: "429_retry_after_120", name: "oauthtest: HTTP 429, `Retry-After: 120` (past the refresh deadline)", class: classWait, oauth: &oauthtest.Fault{Kind: oauthtest.FaultTooManyRequests, RetryAfter: "120"}},
	{slug: "save_fails", name: "store: the save of the rotated token fails (disk full, keyring locked)", class: classSaveFails},
}

// strategy is a way a refresh starts.
type strategy int

const (
	onDemand     strategy = iota // Token with an expired token
	timerFires                   // the background timer (FakeClock.Advance)
	inWindow                     // Token with a token inside its refresh window
	forced                       // Session.Refresh
	client401                    // a 401 through Session.Client
	authorize401                 // a 401 handed to Session.Authorize
)

var strategies = []strategy{onDemand, timerFires, inWindow, forced, client401, authorize401}

func (st strategy) slug() string {
	return [...]string{"on-demand", "timer", "window", "forced", "client-401", "authorize-401"}[st]
}

func (st strategy) String() string {
	return [...]string{
		"on demand (`Token`, token expired)",
		"background: timer",
		"background: `Token` in the refresh window",
		"forced (`Refresh`)",
		"reactive: 401 through `Client`",
		"reactive: 401 to `Authorize`",
	}[st]
}

// outcome is the expected behaviour of one row, in the table's words:
// with the fault on fewer attempts than the retries allow, and with the
// fault on every attempt of a refresh.
func (mf matrixFault) outcome(st strategy) (brief, persistent string) {
	n := fmt.Sprint(1 + matrixMaxRetries)
	if o, ok := mf.moreOutcome(st); ok {
		return o, "— (not retried)"
	}
	switch mf.class {
	case classFinal, classLostRotated:
		reqs := "after 1 request"
		if mf.class == classLostRotated {
			reqs = "after 2 requests (the lost one; then `invalid_grant`, reuse detected)"
		}
		var s string
		switch st {
		case onDemand:
			s = "`ErrLoginRequired` " + reqs + "; later calls send no request"
		case timerFires, inWindow:
			s = "the still-valid access token served until its expiry (refresh token dropped, " + strings.TrimPrefix(reqs, "after ") + "), then `ErrLoginRequired` with no request"
		case forced:
			s = "`ErrLoginRequired` " + reqs + "; the access token served until its expiry, then `ErrLoginRequired` with no request"
		case client401:
			s = "the request fails with `ErrLoginRequired` " + reqs + " (refresh token dropped); later requests: the same, with no token request"
		case authorize401:
			s = "`ErrLoginRequired` " + reqs + "; later calls send no request"
		}
		return s, "— (final at the first answer)"
	}
	brief = "retried, recovered: " + n + " attempts, one new token"
	switch st {
	case client401:
		brief += ", the request retried → 200"
	case authorize401:
		brief += ", `Authorize` nil, the retry → 200"
	case timerFires, inWindow:
		brief += ", the old one served meanwhile"
	}
	if mf.processed {
		brief += " (the server answered all " + n + ")"
	}
	wait := "; no token request until its `Until` (kept in the record for other processes), then "
	switch st {
	case onDemand:
		persistent = "typed transient error (`*RetryLaterError`) after " + n + " attempts, never `ErrLoginRequired`; refresh token kept" + wait + "the next call recovers"
	case forced:
		persistent = "typed transient error (`*RetryLaterError`) after " + n + " attempts; the current token still served; refresh token kept" + wait + "the next `Refresh` recovers"
	case timerFires, inWindow:
		persistent = "still-valid token served; `OnRefreshFailure` once; no request until the pause ends, then recovered"
	case client401:
		persistent = "the 401 reaches the caller after " + n + " attempts; refresh token kept" + wait + "the next request recovers"
	case authorize401:
		persistent = "typed transient error (`*RetryLaterError`) after " + n + " attempts; refresh token kept" + wait + "the next 401 recovers"
	}
	return brief, persistent
}

func TestFaultMatrix(t *testing.T) {
	t.Parallel() // touches no package state: waits beside the other slow tests (shorttier_test.go)
	// Rows run matrixParallel at a time (t.Run from several goroutines:
	// t.Parallel would be bounded by -parallel, GOMAXPROCS by default).
	sem := make(chan struct{}, matrixParallel)
	var all sync.WaitGroup
	for _, mf := range matrixFaults {
		all.Go(func() {
			t.Run(mf.slug, func(t *testing.T) {
				var wg sync.WaitGroup
				for _, st := range strategies {
					wg.Go(func() {
						sem <- struct{}{}
						defer func() { <-sem }()
						t.Run(st.slug(), func(t *testing.T) { runMatrixRow(t, mf, st) })
					})
				}
				wg.Wait()
			})
		})
	}
	all.Wait()
}

// matrixHarness is one row's world: a server, the proxy in front of its
// token endpoint, a session, and counters.
type matrixHarness struct {
	t     *testing.T
	mf    matrixFault
	f     *fixture
	s     *Session
	proxy *faultProxy
	store store.Store
	ct    *countingTransport
	// attempts counts the refresh requests the client sent (some never
	// reach the server); changes and failures the session's callbacks.
	attempts     atomic.Int64
	changes      atomic.Int32
	failures     atomic.Int32
	saveFailures atomic.Int32
	flaky        *flakyStore
	plain        *http.Client // for the resource and the revocation endpoint
	// sent is the flight that sent the latest refresh request: its done
	// channel closes after the failure hooks have run, which the flight
	// field going back to nil does not promise (finish clears it first).
	sent atomic.Pointer[flight]
}

func newMatrixHarness(t *testing.T, mf matrixFault, tweak ...func(*Config)) *matrixHarness {
	h := &matrixHarness{t: t, mf: mf}
	h.f = newFixture(t, mf.server, true)
	srv := h.f.srv
	var tr *http.Transport
	if mf.viaProxy() {
		cert, pool := testCert(t)
		h.proxy = newFaultProxy(t, hostOf(srv.URL), &cert)
		tr = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}
		h.f.cfg.OAuth2.Endpoint.TokenURL = h.proxy.URL() + strings.TrimPrefix(srv.TokenEndpoint(), srv.URL)
	} else {
		tr = &http.Transport{DisableKeepAlives: true}
	}
	t.Cleanup(tr.CloseIdleConnections)
	// One connection per request (no keep-alive), so that the proxy's
	// "next N connections" are the next N requests.
	h.ct = &countingTransport{base: tr, n: &h.attempts, sending: func() {
		h.s.mu.Lock()
		h.sent.Store(h.s.flight)
		h.s.mu.Unlock()
	}}
	if mf.viaProxy() && (mf.proxy == proxyStall || mf.proxy == proxyTrickle) {
		h.ct.spoiling = h.proxy.spoiling
	}
	h.f.cfg.HTTPClient = &http.Client{Timeout: matrixHTTPTimeout, Transport: h.ct}
	h.plain = &http.Client{Transport: tr}
	h.flaky = &flakyStore{Store: store.NewMemory()}
	h.store = h.flaky
	h.f.cfg.Store = h.store
	h.f.cfg.MaxRetries = matrixMaxRetries
	h.f.cfg.RefreshTimeout = 20 * time.Second
	h.f.cfg.OnTokenChange = func(_, _ *oauth2.Token) { h.changes.Add(1) }
	h.f.cfg.OnRefreshFailure = func(error) { h.failures.Add(1) }
	h.f.cfg.OnSaveFailure = func(error) { h.saveFailures.Add(1) }
	for _, f := range tweak {
		f(h.f.cfg)
	}
	h.s = h.f.session()
	return h
}

// countingTransport counts refresh requests (grant_type=refresh_token)
// and gives the next timeouts of them a deadline of matrixFaultTimeout:
// from the request for a black hole or a delay, from the proxy's signal
// (spoiling) for a stall or a trickle.
type countingTransport struct {
	base     http.RoundTripper
	n        *atomic.Int64
	timeouts atomic.Int64
	spoiling chan proxyMode
	sending  func() // called before each refresh request is counted
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.GetBody == nil || !strings.HasSuffix(r.URL.Path, "/token") {
		return c.base.RoundTrip(r)
	}
	b, err := r.GetBody()
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(b)
	if v, _ := url.ParseQuery(string(body)); v.Get("grant_type") != "refresh_token" {
		return c.base.RoundTrip(r)
	}
	if c.sending != nil {
		c.sending()
	}
	c.n.Add(1)
	if c.timeouts.Add(-1) < 0 {
		c.timeouts.Add(1)
		return c.base.RoundTrip(r)
	}
	// The deadline passes as a timeout's would: the request's context
	// ends with context.DeadlineExceeded as its cause, which is what
	// net/http reports.
	ctx, cancel := context.WithCancelCause(r.Context())
	ended := make(chan struct{})
	go func() {
		if c.spoiling != nil {
			select {
			case <-c.spoiling:
			case <-ended:
				return
			}
		}
		t := time.NewTimer(matrixFaultTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancel(context.DeadlineExceeded)
		case <-ended:
		}
	}()
	resp, err := c.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		close(ended)
		cancel(nil)
		return nil, err
	}
	resp.Body = &endingBody{ReadCloser: resp.Body, end: func() { close(ended); cancel(nil) }}
	return resp, nil
}

type endingBody struct {
	io.ReadCloser
	once sync.Once
	end  func()
}

func (b *endingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.end)
	return err
}

func (h *matrixHarness) inject(n int) {
	if h.mf.class == classSaveFails {
		h.flaky.failSaves.Store(2) // the save and its immediate retry
		return
	}
	if h.mf.needsTimeout() {
		h.ct.timeouts.Add(int64(n))
	}
	if h.mf.viaProxy() {
		h.proxy.FailNext(n, h.mf.proxy)
	} else {
		h.f.srv.FailNext(n, *h.mf.oauth)
	}
}

// successes counts refresh requests the server answered 200 with tokens.
func (h *matrixHarness) successes() int {
	n := 0
	for _, r := range h.f.srv.Requests() {
		if r.Endpoint == "token" && r.GrantType == "refresh_token" && r.Status == http.StatusOK && r.Fault == 0 {
			n++
		}
	}
	return n
}

// checkToken fails if tok is expired or past the point where it may be
// handed out, by the session's clock.
func (h *matrixHarness) checkToken(tok *oauth2.Token, where string) {
	h.t.Helper()
	if tok == nil {
		h.t.Fatalf("%s: nil token without an error", where)
	}
	if left := tok.Expiry.Sub(h.f.clock.Now()); !tok.Expiry.IsZero() && left <= 0 {
		h.t.Fatalf("%s: an expired token was handed out (expired %v ago)", where, -left)
	}
}

func (h *matrixHarness) storedRefreshToken() string {
	rec, err := h.store.Load(context.Background(), h.s.key)
	if err != nil || rec.Token == nil {
		h.t.Fatalf("reading the record: %v", err)
	}
	return rec.Token.RefreshToken
}

// revokeAccess makes the resource refuse the session's current access
// token (the refresh token lives on).
func (h *matrixHarness) revokeAccess() {
	h.t.Helper()
	form := url.Values{"token": {h.s.cur.Load().tok.AccessToken}, "client_id": {h.f.srv.ClientID()}}
	resp, err := h.plain.PostForm(h.f.srv.RevocationEndpoint(), form)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
}

// get calls the resource with tok, without the session.
func (h *matrixHarness) get(tok *oauth2.Token) (*http.Request, *http.Response) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.f.srv.ResourceEndpoint(), nil)
	tok.SetAuthHeader(req)
	resp, err := h.plain.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return req, resp
}

// waitFlight waits until a refresh that started after the attempt count
// was before has ended, its hooks (OnRefreshFailure) included.
func (h *matrixHarness) waitFlight(before int64) {
	h.t.Helper()
	eventually(h.t, "a refresh attempt", func() bool { return h.attempts.Load() > before })
	f := h.sent.Load()
	if f == nil {
		h.t.Fatal("a refresh request was sent outside a flight")
	}
	select {
	case <-f.done:
	case <-time.After(30 * time.Second):
		h.t.Fatal("the refresh did not end within 30 s")
	}
}

// result is what the caller of a strategy observed.
type result struct {
	old    *oauth2.Token // the session's token before
	tok    *oauth2.Token // what Token/Refresh returned (the new or the still-valid one)
	err    error
	status int // the resource's answer (reactive strategies)
}

// trigger starts a refresh the strategy's way and returns what the caller
// sees once it has ended.
func (h *matrixHarness) trigger(st strategy) result {
	h.t.Helper()
	ctx := context.Background()
	clock := h.f.clock
	cur := h.s.cur.Load()
	r := result{old: cur.tok}
	before := h.attempts.Load()
	now := clock.Now().UnixNano()
	// From now to a minute into the refresh window, or to the end of a
	// pause a failed refresh asked for, whichever is later.
	h.s.mu.Lock()
	toWindow := time.Duration(cur.refreshAt-now) + time.Minute
	if next := h.s.nextTry.Sub(clock.Now()) + time.Second; next > toWindow {
		toWindow = next
	}
	wait := h.s.notBefore.Sub(clock.Now())
	h.s.mu.Unlock()
	if wait > 0 && st != timerFires && st != inWindow {
		clock.Jump(wait) // the wait a failure asked for is over
	}
	switch st {
	case onDemand:
		if d := time.Duration(cur.expireAt - now); d >= 0 {
			clock.Jump(d + time.Minute)
		}
		r.tok, r.err = h.s.Token(ctx)
	case forced:
		r.tok, r.err = h.s.Refresh(ctx)
	case timerFires:
		clock.Advance(toWindow)
		h.waitFlight(before)
		r.tok, r.err = h.s.Token(ctx)
	case inWindow:
		clock.Jump(toWindow)
		tok, err := h.s.Token(ctx)
		if err != nil || tok != cur.tok {
			h.t.Fatalf("inside the refresh window Token returned %v, %v; want the still-valid token at once", tok, err)
		}
		h.checkToken(tok, "Token in the window")
		h.waitFlight(before)
		r.tok, r.err = h.s.Token(ctx)
	case client401:
		h.revokeAccess()
		resp, err := h.s.Client(ctx).Get(h.f.srv.ResourceEndpoint())
		if r.err = err; err == nil {
			resp.Body.Close()
			r.status = resp.StatusCode
		}
	case authorize401:
		h.revokeAccess()
		req, resp := h.get(cur.tok)
		if resp.StatusCode != http.StatusUnauthorized {
			h.t.Fatalf("the resource answered %d to a revoked token", resp.StatusCode)
		}
		if r.err = h.s.Authorize(ctx, req, resp); r.err == nil {
			tok, err := h.s.Token(ctx)
			if err != nil {
				h.t.Fatalf("Token after Authorize: %v", err)
			}
			_, resp := h.get(tok)
			resp.Body.Close()
			r.status = resp.StatusCode
		}
	}
	if r.tok != nil {
		h.checkToken(r.tok, st.slug())
	}
	return r
}

// counters is a snapshot of the harness's counts.
type counters struct {
	attempts          int64
	changes, failures int32
	successes         int
}

func (h *matrixHarness) counts() counters {
	return counters{h.attempts.Load(), h.changes.Load(), h.failures.Load(), h.successes()}
}

func (h *matrixHarness) expectRecovered(st strategy, phase string, faults int, c0 counters, r result) {
	h.t.Helper()
	c := h.counts()
	wantAttempts := int64(faults + 1)
	if got := c.attempts - c0.attempts; got != wantAttempts {
		h.t.Errorf("%s: %d refresh attempts, want %d (%d faults, then success)", phase, got, wantAttempts, faults)
	}
	// One refresh per expiry: one new token announced, one 200 (or, when
	// the server answered the lost attempts too, one per attempt).
	if got := c.changes - c0.changes; got != 1 {
		h.t.Errorf("%s: %d token changes, want 1", phase, got)
	}
	wantOK := 1
	if h.mf.processed {
		wantOK = faults + 1
	}
	if got := c.successes - c0.successes; got != wantOK {
		h.t.Errorf("%s: the server answered %d refreshes with 200, want %d", phase, got, wantOK)
	}
	switch st {
	case client401, authorize401:
		if r.err != nil || r.status != http.StatusOK {
			h.t.Fatalf("%s: got %v, HTTP %d; want the request to succeed after one refresh", phase, r.err, r.status)
		}
	default:
		if r.err != nil {
			h.t.Fatalf("%s: %v", phase, r.err)
		}
		if r.tok.AccessToken == r.old.AccessToken || !h.f.srv.ValidAccessToken(r.tok.AccessToken) {
			h.t.Fatalf("%s: not the new token, or not valid at the server", phase)
		}
	}
	if cur := h.s.cur.Load().tok; cur.RefreshToken == "" || cur.RefreshToken != h.storedRefreshToken() {
		h.t.Fatalf("%s: the session's refresh token is not the stored one", phase)
	}
}

// transientError reports whether err is one of the typed errors of a
// transient failure (*OAuthError, *TokenResponseError, a network error:
// *url.Error, net.Error, io.ErrUnexpectedEOF for a body cut short), and
// not a login-required one.
func transientError(err error) bool {
	if err == nil || errors.Is(err, ErrLoginRequired) {
		return false
	}
	var oe *OAuthError
	var te *TokenResponseError
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &oe) || errors.As(err, &te) || errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF)
}

func (h *matrixHarness) expectTransientFailure(st strategy, c0 counters, rt0 string, r result) {
	h.t.Helper()
	c := h.counts()
	if got := c.attempts - c0.attempts; got != 1+matrixMaxRetries {
		h.t.Errorf("persistent: %d refresh attempts, want 1 + MaxRetries = %d", got, 1+matrixMaxRetries)
	}
	if c.changes != c0.changes {
		h.t.Errorf("persistent: the token changed %d times", c.changes-c0.changes)
	}
	if got := c.failures - c0.failures; got != 1 {
		h.t.Errorf("persistent: OnRefreshFailure called %d times, want 1", got)
	}
	switch st {
	case onDemand, forced, authorize401:
		if !transientError(r.err) {
			h.t.Fatalf("persistent: got %T %v; want a typed transient error, not ErrLoginRequired", r.err, r.err)
		}
		var rl *RetryLaterError
		if !errors.As(r.err, &rl) || !rl.Until.After(h.f.clock.Now()) {
			h.t.Fatalf("persistent: got %v; want a *RetryLaterError with a time to retry", r.err)
		}
		if rec, err := h.store.Load(context.Background(), h.s.key); err != nil || !rec.NotBefore.Equal(rl.Until) {
			h.t.Fatalf("persistent: the record's NotBefore is not the wait (%v): other processes would not honour it", rl.Until)
		}
		// During the wait, no caller sends a token request; each gets
		// the error.
		for range 5 {
			if _, err := h.s.Refresh(context.Background()); !errors.As(err, &rl) {
				h.t.Fatalf("persistent: Refresh during the wait: %v, want the *RetryLaterError", err)
			}
		}
		if got := h.attempts.Load(); got != c.attempts {
			h.t.Fatalf("persistent: %d token requests during the wait", got-c.attempts)
		}
	case timerFires, inWindow:
		if r.err != nil || r.tok != r.old {
			h.t.Fatalf("persistent: got %v, %v; want the still-valid token", r.tok, r.err)
		}
	case client401:
		if r.status != http.StatusUnauthorized {
			h.t.Fatalf("persistent: HTTP %d, want the 401 handed to the caller", r.status)
		}
	}
	if st != onDemand {
		// The current token is still valid and still served.
		tok, err := h.s.Token(context.Background())
		if err != nil || tok != r.old {
			h.t.Fatalf("persistent: Token returned %v, %v; want the still-valid token", tok, err)
		}
		h.checkToken(tok, "Token after the failure")
	}
	if st == timerFires || st == inWindow {
		// The failure asked for a pause: calls meanwhile send nothing.
		for range 20 {
			_, _ = h.s.Token(context.Background())
		}
		time.Sleep(20 * time.Millisecond)
		if got := h.attempts.Load(); got != c.attempts {
			h.t.Fatalf("persistent: %d more attempts during the pause", got-c.attempts)
		}
	}
	if !h.s.CanRefresh() || h.storedRefreshToken() != rt0 {
		h.t.Fatal("persistent: the refresh token was lost")
	}
}

func (h *matrixHarness) expectLoginRequired(st strategy, c0 counters, r result) {
	h.t.Helper()
	ctx := context.Background()
	want := int64(1)
	if h.mf.class == classLostRotated {
		want = 2
	}
	c := h.counts()
	if got := c.attempts - c0.attempts; got != want || got > 1+matrixMaxRetries {
		h.t.Errorf("%d refresh attempts, want %d (≤ 1 + MaxRetries)", got, want)
	}
	switch st {
	case onDemand, forced, client401, authorize401:
		if !errors.Is(r.err, ErrLoginRequired) {
			h.t.Fatalf("got %v, want ErrLoginRequired", r.err)
		}
		if h.mf.class == classLostRotated && !strings.Contains(r.err.Error(), "answer was lost") {
			h.t.Errorf("the error does not say an answer was lost: %v", r.err)
		}
	case timerFires, inWindow:
		if r.err != nil || r.tok.AccessToken != r.old.AccessToken {
			h.t.Fatalf("got %v, %v; want the still-valid access token", r.tok, r.err)
		}
	}
	if h.s.CanRefresh() || h.storedRefreshToken() != "" {
		h.t.Fatal("the refused refresh token was kept")
	}
	if h.mf.class == classLostRotated {
		var codes []string
		for _, q := range h.f.srv.Requests() {
			if q.GrantType == "refresh_token" {
				codes = append(codes, fmt.Sprint(q.Status, q.Error))
			}
		}
		if len(codes) != 2 || codes[0] != "200" || codes[1] != "400invalid_grant" {
			h.t.Errorf("server saw %v; want the rotation (200), then the old token refused", codes)
		}
	}
	// No loop of failing refreshes: whatever comes later sends nothing.
	switch st {
	case client401:
		resp, err := h.s.Client(ctx).Get(h.f.srv.ResourceEndpoint())
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, ErrLoginRequired) {
			h.t.Fatalf("second request through Client: %v, want ErrLoginRequired", err)
		}
	case authorize401:
		req, resp := h.get(h.s.cur.Load().tok)
		if err := h.s.Authorize(ctx, req, resp); !errors.Is(err, ErrLoginRequired) {
			h.t.Fatalf("second Authorize: %v", err)
		}
	default:
		if tok, err := h.s.Token(ctx); err == nil {
			h.checkToken(tok, "Token after the refusal") // until its expiry
		}
	}
	cur := h.s.cur.Load()
	h.f.clock.Jump(time.Duration(cur.expireAt-h.f.clock.Now().UnixNano()) + time.Second)
	for range 3 {
		if _, err := h.s.Token(ctx); !errors.Is(err, ErrLoginRequired) {
			h.t.Fatalf("Token after expiry: %v, want ErrLoginRequired", err)
		}
	}
	if got := h.attempts.Load(); got != c.attempts {
		h.t.Fatalf("%d more refresh attempts after the refusal", got-c.attempts)
	}
}

// checkStoredRefreshTokenWorks presents the stored refresh token to the
// server: it was never lost.
func (h *matrixHarness) checkStoredRefreshTokenWorks() {
	h.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {h.storedRefreshToken()}, "client_id": {h.f.srv.ClientID()}}
	resp, err := h.plain.PostForm(h.f.srv.TokenEndpoint(), form)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("the stored refresh token is refused by the server: HTTP %d", resp.StatusCode)
	}
}

func runMatrixRow(t *testing.T, mf matrixFault, st strategy) {
	if testing.Short() && mf.needsTimeout() {
		// Five attempts, each ended by a real 300 ms deadline.
		t.Skip("only a real timeout ends the fault (matrixFaultTimeout): runs in the full tier (make test)")
	}
	h := newMatrixHarness(t, mf)
	switch mf.class {
	case classConfig, classWait, classSaveFails:
		h.runMoreRow(st)
		return
	}
	if mf.class != classTransient {
		c0 := h.counts()
		h.inject(1)
		h.expectLoginRequired(st, c0, h.trigger(st))
		return
	}
	// A brief fault: fewer failures than the retries allow.
	c0 := h.counts()
	h.inject(matrixMaxRetries)
	h.expectRecovered(st, "brief", matrixMaxRetries, c0, h.trigger(st))

	// A persistent fault: every attempt of one refresh fails.
	c0 = h.counts()
	rt0 := h.storedRefreshToken()
	h.inject(1 + matrixMaxRetries)
	h.expectTransientFailure(st, c0, rt0, h.trigger(st))

	// The fault ends: the same strategy recovers with the kept token.
	c0 = h.counts()
	h.expectRecovered(st, "healed", 0, c0, h.trigger(st))
	if h.proxy != nil && h.proxy.Pending() != 0 {
		t.Errorf("%d injected faults never met", h.proxy.Pending())
	}
	h.checkStoredRefreshTokenWorks()
}

// matrixTable renders the matrix as the Markdown table in
// docs/RELIABILITY.md.
func matrixTable() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| Fault | Refresh starts | Fault on %d attempt(s) (< 1 + MaxRetries) | Fault on every attempt (1 + MaxRetries = %d) | Test |\n", matrixMaxRetries, 1+matrixMaxRetries)
	b.WriteString("|---|---|---|---|---|\n")
	for _, mf := range matrixFaults {
		for _, st := range strategies {
			brief, persistent := mf.outcome(st)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | `TestFaultMatrix/%s/%s` |\n", mf.name, st, brief, persistent, mf.slug, st.slug())
		}
	}
	return b.String()
}

const (
	matrixBegin = "<!-- BEGIN fault matrix: generated from reliability_test.go; go test -run TestReliabilityDoc . -update-reliability-doc -->\n"
	matrixEnd   = "<!-- END fault matrix -->"
)

// The table in docs/RELIABILITY.md is the matrix the tests run.
func TestReliabilityDoc(t *testing.T) {
	const path = "docs/RELIABILITY.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, matrixBegin), strings.Index(s, matrixEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no fault matrix markers", path)
	}
	want := matrixTable()
	if got := s[i+len(matrixBegin) : j]; got != want {
		if *updateReliabilityDoc {
			if err := os.WriteFile(path, []byte(s[:i+len(matrixBegin)]+want+s[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("the fault matrix in %s differs from the tests' rows; run go test -run TestReliabilityDoc . -update-reliability-doc", path)
	}
}

// The server rotated the refresh token, and its answer was lost on the way
// back (the connection closed after the headers, or stalled): the client
// still holds the old refresh token, which the server now refuses (with
// reuse detection, revoking the grant). The session tells this from a
// network blip: one retry meets invalid_grant, the error says an answer
// was lost, the dead token is dropped, and nothing loops.
func TestLostRotationResponse(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	for _, c := range []struct {
		name  string
		mode  proxyMode
		reuse bool
	}{
		{"closed after headers, reuse detection", proxyCloseAfterHeaders, true},
		{"stall, reuse detection", proxyStall, true},
		{"closed after headers, no reuse detection", proxyCloseAfterHeaders, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			mf := matrixFault{class: classLostRotated, processed: true, proxy: c.mode, server: oauthtest.Config{DisableReuseDetection: !c.reuse}}
			if testing.Short() && mf.needsTimeout() {
				t.Skip("only a real timeout ends the stall (matrixFaultTimeout): runs in the full tier (make test)")
			}
			h := newMatrixHarness(t, mf, func(cfg *Config) { cfg.MaxRetries = 0 }) // DefaultMaxRetries
			h.inject(1)
			h.f.clock.Jump(2 * time.Hour)
			_, err := h.s.Token(context.Background())
			var oe *OAuthError
			if !errors.Is(err, ErrLoginRequired) || !errors.As(err, &oe) || oe.Code != "invalid_grant" {
				t.Fatalf("got %v; want ErrLoginRequired wrapping invalid_grant", err)
			}
			if !strings.Contains(err.Error(), "answer was lost") {
				t.Errorf("the error does not say an answer was lost: %v", err)
			}
			if n := h.attempts.Load(); n != 2 || n > 1+DefaultMaxRetries {
				t.Fatalf("%d refresh requests, want 2 (the lost one, the refused one) ≤ 1 + MaxRetries", n)
			}
			for range 5 {
				if _, err := h.s.Token(context.Background()); !errors.Is(err, ErrLoginRequired) {
					t.Fatalf("later Token: %v", err)
				}
			}
			if n := h.attempts.Load(); n != 2 {
				t.Fatalf("later Token calls sent %d more refresh requests", n-2)
			}
			if h.storedRefreshToken() != "" {
				t.Fatal("the refused refresh token is still stored")
			}
		})
	}
	// An interactive session signs in again, once.
	t.Run("interactive", func(t *testing.T) {
		mf := matrixFault{class: classLostRotated, processed: true, proxy: proxyCloseAfterHeaders}
		h := newMatrixHarness(t, mf, func(cfg *Config) { cfg.Interactive = true })
		logins := h.f.srv.Count("authorize")
		h.inject(1)
		h.f.clock.Jump(2 * time.Hour)
		tok, err := h.s.Token(context.Background())
		if err != nil || !h.f.srv.ValidAccessToken(tok.AccessToken) {
			t.Fatalf("got %v; want a token from a new login", err)
		}
		if n := h.f.srv.Count("authorize") - logins; n != 1 {
			t.Fatalf("%d new logins, want 1", n)
		}
		if n := h.attempts.Load(); n != 2 {
			t.Fatalf("%d refresh requests, want 2", n)
		}
	})
}

// The faults that only a timeout ends, ended by http.Client.Timeout itself
// (the matrix applies its own deadline to the faulted attempts only): the
// errors net/http gives then (awaiting headers, or reading the body) are
// retried. A non-rotating server, so that it does not matter whether a
// slow machine lets a normal attempt time out as well.
func TestHTTPClientTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for http.Client.Timeout (1 s, real time) on a real server: runs in the full tier (make test)")
	}
	for _, mf := range []matrixFault{
		{slug: "black hole", proxy: proxyBlackHole},
		{slug: "stall", proxy: proxyStall},
		{slug: "trickle", proxy: proxyTrickle},
		{slug: "delay", oauth: &oauthtest.Fault{Kind: oauthtest.FaultDelay, Delay: 10 * time.Second}},
	} {
		t.Run(mf.slug, func(t *testing.T) {
			mf.server.DisableRotation = true
			h := newMatrixHarness(t, mf, func(cfg *Config) {
				cfg.MaxRetries = 0 // DefaultMaxRetries
				cfg.HTTPClient.Timeout = time.Second
			})
			if mf.viaProxy() {
				h.proxy.FailNext(1, mf.proxy)
			} else {
				h.f.srv.FailNext(1, *mf.oauth)
			}
			h.f.clock.Jump(2 * time.Hour)
			tok, err := h.s.Token(context.Background())
			if err != nil {
				t.Fatalf("not recovered: %v", err)
			}
			h.checkToken(tok, "Token")
			if n := h.attempts.Load(); n < 2 || n > 1+DefaultMaxRetries {
				t.Fatalf("%d attempts, want 2 (at most 1 + MaxRetries)", n)
			}
		})
	}
}

// Every test that a table in docs/RELIABILITY.md names exists: a row
// cannot point at a test that was renamed or never written.
func TestReliabilityDocNamesRealTests(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	doc, err := os.ReadFile("docs/RELIABILITY.md")
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range testFuncRE.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for _, m := range docTestRE.FindAllStringSubmatch(cells[len(cells)-1], -1) {
			named++
			if !defined[m[1]] {
				t.Errorf("docs/RELIABILITY.md names %s, but no _test.go file defines func %s", m[0], m[1])
			}
		}
	}
	if named == 0 {
		t.Fatal("docs/RELIABILITY.md names no test at all: is the table format still | ... | `TestName` |?")
	}
}

var (
	testFuncRE = regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]*)\(t \*testing\.T\)`)
	docTestRE  = regexp.MustCompile("`(?:[a-z0-9/]+: )?(Test[A-Za-z0-9_]*)(?:/[^`]*)?`")
)
