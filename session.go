// The Session: NewSession, Token's fast path, Refresh, Login, Close and the
// accessors; its fields grouped by who may touch them.

package authloop

import (
	"context"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/store"
)

// The times that decide what a Session does with a token.
const (
	// expiryMargin is how long before its expiry a token stops being handed
	// out (at most a quarter of its lifetime): time for the request that
	// carries it to arrive.
	expiryMargin = 10 * time.Second
	// maxTimerStep caps every wait of the background timer. Timers run on
	// the monotonic clock, which stops while a laptop sleeps; waking at
	// least this often, the timer notices a wall clock that jumped.
	maxTimerStep = time.Minute
	// never is a time in nanoseconds that no clock reaches.
	never = math.MaxInt64
)

// A Session owns one sign-in and answers Token with a valid access token
// for as long as the grant lives: it refreshes in the background before
// expiry, coalesces concurrent refreshes into one request, retries
// transient failures with backoff, takes rotated refresh tokens, and tells
// a dead grant (ErrLoginRequired, or a new interactive login) from a
// network blip. It is safe for concurrent use. Close stops it.
type Session struct {
	// Set by NewSession and never changed after.
	cfg         Config // a copy, so the caller's later edits change nothing
	clock       Clock
	sysClock    bool
	buffer      time.Duration
	retries     int
	timeout     time.Duration
	backoffBase time.Duration
	backoffCap  time.Duration
	store       store.Store // Config.Store, or a memory store
	key         store.Key
	ctx         context.Context // ends at Close: the flights' and the timer's
	cancel      context.CancelFunc

	// Read without a lock.
	cur atomic.Pointer[state] // the published token (Token's fast path)
	// hadRecord: this session has read or written its record; a record
	// gone since then was deleted by a logout elsewhere.
	hadRecord atomic.Bool
	// noRefreshGrant: the server does not let this program's client use
	// the refresh tokens it issues with the grant (unauthorized_client,
	// unsupported_grant_type): its grant runs instead, without a refresh
	// refused first at every expiry.
	noRefreshGrant atomic.Bool

	// Touched only by flights, which run one at a time.
	//
	// resolved is cfg with its endpoints discovered, and meta the
	// discovered metadata as kept in the record. client is the registered
	// client kept in the record, when the configuration names none;
	// refusedClient one the server refused (invalid_client), never taken
	// from the record again.
	resolved      *Config
	meta          []byte
	client        *store.Client
	refusedClient *store.Client

	// What Close waits for.
	timerWG sync.WaitGroup // the timer's callback, while it runs
	wg      sync.WaitGroup // refresh flights

	// Everything below is guarded by mu.
	mu sync.Mutex

	// The flight under way, and Close.
	flight *flight
	closed bool

	// A failure episode.
	failing bool      // in a failure episode (OnRefreshFailure was called)
	nextTry time.Time // no proactive refresh before this, after a failure
	// notBefore: no token request before this (a server's Retry-After, a
	// backoff, a configuration error); lastErr is what callers get until
	// then.
	notBefore  time.Time
	lastErr    error
	configErrs int // configuration errors in a row, which lengthen the pause

	// A save that failed (unsaved.go). unsaved is the live token whose save
	// failed (the store holds an older record); the next save is tried at
	// saveAt. saveFailing: in a save failure episode (OnSaveFailure was
	// called).
	unsaved     *oauth2.Token
	saveAt      time.Time
	saveTries   int
	saveFailing bool
	// staleAccess is the access token of the record the store held when
	// the last save failed: while a save is pending, a stored token with
	// it is that stale record (or another process's copy of it), older
	// than the live one, and never taken in its place.
	staleAccess string
	// retired are refresh tokens the server rotated away, never presented
	// again (the last retiredKept).
	retired []string

	// The background timer (schedule.go).
	stopTimer func() bool
	timerGen  uint64 // which timer is current: an older one that fires does nothing

	// What 401 and 403 challenges said: the resource metadata URL, the
	// scopes a 401 asked for, what sign-ins asked for, and the step-ups
	// that ended with a token (wonStepUp).
	hint            string
	challengeScopes []string
	requestedScopes []string
	stepUps         int
	steppedUp       []string
	wonScopes       []string // challenged scopes step-ups won, kept by narrowed refreshes
	pendingScopes   []string // refused scopes a non-interactive session's next sign-in asks for
	// blindTok has been retried with blindRetries times after refusals
	// whose token was not known (blindRetry).
	blindTok     *oauth2.Token
	blindRetries int
}

// state is one immutable snapshot of the session's token with the times
// that decide what Token does, as wall-clock nanoseconds.
type state struct {
	tok       *oauth2.Token // nil: no token
	refreshAt int64         // from here on, refresh (stale-while-revalidate)
	expireAt  int64         // from here on, the token is not handed out
	timerAt   int64         // refreshAt less a little jitter, for the timer
}

func (st *state) fresh(now int64) bool  { return st.tok != nil && now < st.refreshAt }
func (st *state) usable(now int64) bool { return st.tok != nil && now < st.expireAt }

// NewSession starts a session. tok is a token from Login, saved at once
// to Config.Store; with tok nil the session takes the token saved in the
// store, if any. Without a token, the first Token logs in (when
// Config.Interactive) or returns ErrLoginRequired. Unless
// Config.DisableAutoRefresh, a background timer refreshes the token before
// it expires; Close stops it.
//
// NewSession reads or writes the store once, bounded by Config.RefreshTimeout;
// an unreadable record (a corrupt file, say) is an error naming it.
func NewSession(cfg *Config, tok *oauth2.Token) (*Session, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Session{
		cfg:         *cfg,
		clock:       cfg.clock(),
		buffer:      cfg.refreshBuffer(),
		retries:     cfg.maxRetries(),
		timeout:     cfg.refreshTimeout(),
		backoffBase: backoffBase,
		backoffCap:  backoffCap,
		store:       cfg.sessionStore(),
		key:         cfg.sessionKey(),
	}
	s.cfg.dp = newDPoPClient(cfg)
	_, s.sysClock = s.clock.(systemClock)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	rec, err := s.load(ctx)
	if err != nil {
		s.cancel()
		return nil, err
	}
	if rec != nil {
		s.meta = rec.Metadata
		s.client = rec.Client
	}
	switch {
	case tok != nil:
		if err := s.saveToken(ctx, rec, tok); err != nil {
			// The session starts with the token all the same; the timer
			// retries the save, and the program hears of it.
			s.setUnsaved(tok)
			s.saveFailing = true
			if s.cfg.OnSaveFailure != nil {
				s.cfg.OnSaveFailure(err)
			}
		}
	case rec != nil:
		if _, bound := cfg.Grant.(subjected); !bound {
			// A grant that speaks for a subject takes the stored token
			// only once its first flight has checked whose it is.
			tok = fromStored(rec.Token)
		}
	}
	st := s.newState(tok)
	s.cur.Store(st)
	s.mu.Lock()
	s.arm(st)
	s.mu.Unlock()
	return s, nil
}

// newState computes the decision times of tok. The refresh buffer is capped
// at half the token's lifetime; a token of unknown lifetime is refreshed
// only on demand (Refresh, or a 401 through Client).
func (s *Session) newState(tok *oauth2.Token) *state {
	st := &state{tok: tok, refreshAt: never, expireAt: never, timerAt: never}
	if tok == nil || tok.Expiry.IsZero() {
		return st
	}
	exp := tok.Expiry.UnixNano()
	buffer, margin := s.buffer, expiryMargin
	if tok.ExpiresIn > 0 {
		life := time.Duration(tok.ExpiresIn) * time.Second
		buffer = min(buffer, life/2)
		margin = min(margin, life/4)
	}
	buffer = max(buffer, margin)
	st.expireAt = exp - int64(margin)
	st.refreshAt = exp - int64(buffer)
	st.timerAt = st.refreshAt - int64(jitter(min(buffer/10, 5*time.Second)))
	return st
}

func (s *Session) nowNano() int64 {
	if s.sysClock {
		return wallNano()
	}
	return s.clock.Now().UnixNano()
}

// Token returns a valid access token. A token outside its refresh window
// costs an atomic load and a clock read. Inside the window the current token
// is returned while one background refresh runs. An expired token (or
// none) waits for a single shared refresh; ctx bounds only this caller's
// wait, not the refresh the other callers share. When the grant is dead it
// returns an error that satisfies errors.Is(err, ErrLoginRequired), unless
// Config.Interactive lets it sign the person in again.
//
// A DPoP-bound token (TokenType "DPoP", see Config.DPoP) is worth nothing
// alone: each request needs a proof of the session's key. Send requests
// through Client or Transport, or take the headers of one request from
// AuthHeader.
func (s *Session) Token(ctx context.Context) (*oauth2.Token, error) {
	st := s.cur.Load()
	now := s.nowNano()
	if st.fresh(now) {
		return st.tok, nil
	}
	if st.usable(now) {
		s.revalidate(st)
		return st.tok, nil
	}
	return s.wait(ctx, st)
}

// Refresh forces a refresh now, joining one already under way, and returns
// the new token. When the new token could not be saved to the store, it is
// returned with an error wrapping a *SaveError: the session uses it, but
// other processes do not see it. While a failure asks for a wait
// (*RetryLaterError, or a configuration error), Refresh returns that error
// without a request.
func (s *Session) Refresh(ctx context.Context) (*oauth2.Token, error) {
	return s.waitSaved(ctx, s.cur.Load())
}

// Login signs the person in anew (the browser, whatever Config.Interactive
// says: the caller asked), saves the result and makes it the session's
// token. It always ends in a new sign-in: a token that another process
// merely refreshed meanwhile is not taken instead. Across processes sharing
// the store, one login runs at a time; a process that waited for another's
// sign-in adopts its result. When the new token could not be saved, it is
// returned with an error wrapping a *SaveError. ctx bounds only this
// caller's wait.
func (s *Session) Login(ctx context.Context) (*oauth2.Token, error) {
	return s.login(ctx, nil)
}

// login runs a login flight; need, when set, are scopes the new token must
// carry (a step-up), so that no token without them is adopted.
func (s *Session) login(ctx context.Context, need []string) (*oauth2.Token, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrSessionClosed
		}
		f := s.flight
		if f == nil {
			nf := &flight{interactive: true, login: true, need: need}
			if need == nil {
				nf.since = s.clock.Now() // Login: a new sign-in, not a refreshed token
			}
			f = s.start(nf)
		}
		s.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.login {
			return f.tok, f.err
		}
	}
}

// CanRefresh reports whether the session holds a refresh token. Without
// one it hands out its access token until expiry, then needs a login.
func (s *Session) CanRefresh() bool {
	st := s.cur.Load()
	return st.tok != nil && st.tok.RefreshToken != ""
}

// Cached returns the session's current token without refreshing it or
// making any request: it may be expired, or nil when there is none. For
// status displays; use Token to get a token to send.
func (s *Session) Cached() *oauth2.Token {
	return s.cur.Load().tok
}

// Key returns the name of the session's record in its store.
func (s *Session) Key() store.Key { return s.key }

// Store returns the store that keeps the session's record.
func (s *Session) Store() store.Store { return s.store }

// TokenSource returns an oauth2.TokenSource backed by the session; ctx
// bounds each Token call's wait.
func (s *Session) TokenSource(ctx context.Context) oauth2.TokenSource {
	return tokenSource{ctx: ctx, s: s}
}

type tokenSource struct {
	ctx context.Context
	s   *Session
}

func (ts tokenSource) Token() (*oauth2.Token, error) { return ts.s.Token(ts.ctx) }

// Client returns an HTTP client that sends the session's access token with
// every request and, when a response is 401 (whatever error its challenge
// names), retries the request once when its body can be replayed: with a
// newer token when a refresh already replaced the refused one, else after
// one shared refresh (see Transport).
// It uses Config.HTTPClient's transport, or http.DefaultTransport.
func (s *Session) Client(ctx context.Context) *http.Client {
	base := http.DefaultTransport
	if s.cfg.HTTPClient != nil && s.cfg.HTTPClient.Transport != nil {
		base = s.cfg.HTTPClient.Transport
	}
	return &http.Client{Transport: &Transport{Session: s, Base: base}}
}

// Close stops the background timer and any refresh under way, and waits
// for them: a refresh request already sent is waited for and its answer
// saved, since it may carry the only live refresh token. When the session
// holds tokens whose save failed, Close tries once more to save them and
// returns an error wrapping the *SaveError if that fails too. Later calls
// of the session's methods return ErrSessionClosed. It is safe to call
// twice.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.publish(s.cur.Load())
	s.disarm()
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
	s.timerWG.Wait()
	if s.pendingSave() == nil {
		return nil
	}
	_, err := s.retrySave(s.cur.Load())
	return err
}

// publish makes st the session's state; after Close, a state that no
// caller is handed (Token then returns ErrSessionClosed) but that Cached
// still shows. s.mu is held.
func (s *Session) publish(st *state) {
	if s.closed {
		st = &state{tok: st.tok, refreshAt: math.MinInt64, expireAt: math.MinInt64, timerAt: never}
	}
	s.cur.Store(st)
}
