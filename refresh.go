package authloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/callback"
)

// flight is one refresh (or login) that any number of callers share.
type flight struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
	// interactive: the flight may run Login. Background flights never do.
	interactive bool
	// proactive: started before expiry (the timer, or a token inside its
	// refresh window); only a fresh token from another process serves it.
	proactive bool
	// login: a new sign-in was asked for (Session.Login), not a refresh.
	login bool
	// need: scopes the new sign-in must grant (step-up).
	need []string
}

func doneFlight(tok *oauth2.Token, err error) *flight {
	f := &flight{done: make(chan struct{}), tok: tok, err: err}
	close(f.done)
	return f
}

// wait makes sure a refresh is under way (or joins the one that is) and
// waits for it or for ctx. observed is the state the caller looked at: if
// another refresh replaced it meanwhile, its result serves.
//
// A caller that joined a background flight which ended in "login
// required" tries once more with a flight of its own, which may sign in
// when the session is interactive (background flights never open a
// browser).
func (s *Session) wait(ctx context.Context, observed *state) (*oauth2.Token, error) {
	for try := 0; ; try++ {
		f := s.join(observed, true)
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if try == 0 && f.err != nil && !f.interactive && s.cfg.Interactive && errors.Is(f.err, ErrLoginRequired) {
			observed = s.cur.Load()
			continue
		}
		if st := s.newState(f.tok); f.err == nil && f.tok != nil && !st.usable(s.nowNano()) {
			// The answer came after the new token's own expiry (the
			// machine slept while it was on the wire, or this caller
			// waited long to run): never hand it out. A newer token, if
			// one replaced it meanwhile, serves; else refresh again.
			if try < 3 {
				observed = st
				continue
			}
			return nil, errors.New("authloop: each refreshed token had expired by the time it arrived; is the system clock right?")
		}
		return f.tok, f.err
	}
}

// revalidate starts a background refresh of a token that is inside its
// refresh window but still valid, unless one runs or a failed one asked to
// wait.
func (s *Session) revalidate(observed *state) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.flight != nil || s.cur.Load() != observed || s.clock.Now().Before(s.nextTry) {
		return
	}
	s.start(&flight{proactive: true})
}

// join returns the flight to wait for: the one under way, a finished one
// holding the token that replaced observed, or a new one.
func (s *Session) join(observed *state, interactive bool) *flight {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return doneFlight(nil, ErrSessionClosed)
	}
	if s.flight != nil {
		return s.flight
	}
	// A refresh that finished since the caller looked already serves it:
	// never a second refresh for the same expiry.
	if cur := s.cur.Load(); cur != observed && cur.usable(s.nowNano()) {
		return doneFlight(cur.tok, nil)
	}
	return s.start(&flight{interactive: interactive && s.cfg.Interactive})
}

// start launches f; s.mu is held.
func (s *Session) start(f *flight) *flight {
	f.done = make(chan struct{})
	s.flight = f
	s.wg.Add(1)
	go s.run(f)
	return f
}

// run performs a flight: refresh with retries, or login where allowed, and
// publishes the outcome.
func (s *Session) run(f *flight) {
	defer s.wg.Done()
	tok, err := s.obtain(f, s.cur.Load())
	s.finish(f, tok, err)
}

// obtain gets the token a flight is for. Under the record's "refresh"
// lock it re-reads the record: a token another process saved meanwhile is
// adopted without a request; otherwise the freshest refresh token (the
// stored one) is used and the result saved before the lock is released. A
// new login, where one is needed and allowed, runs after that lock is
// released, under the record's "login" lock.
func (s *Session) obtain(f *flight, old *state) (*oauth2.Token, error) {
	var why *LoginRequiredError
	var held *oauth2.Token
	if f.login {
		held = old.tok
	} else {
		ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
		tok, base, w, err := s.refreshLocked(ctx, f, old)
		cancel()
		if tok != nil || err != nil {
			return tok, err
		}
		why, held = w, base
		if !f.interactive {
			return nil, why
		}
		s.cfg.logger().Debug("authloop: signing in again", "reason", why.Reason)
	}
	tok, err := s.loginShared(held, f.need)
	if err != nil && why != nil {
		return nil, fmt.Errorf("authloop: %s, and the new login failed: %w", why.Reason, err)
	}
	return tok, err
}

// refreshLocked adopts, or refreshes and saves, under the refresh lock. It
// returns the token, or why a login is needed (with the token it held), or
// an error.
func (s *Session) refreshLocked(ctx context.Context, f *flight, old *state) (tok, held *oauth2.Token, why *LoginRequiredError, err error) {
	unlock, err := s.store.Lock(ctx, s.key, "refresh")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("authloop: waiting for the refresh lock of %s (another process may be refreshing): %w", s.key, err)
	}
	defer unlock()
	rec, err := s.load(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	var stored *oauth2.Token
	if rec != nil {
		stored = fromStored(rec.Token)
	}
	if s.adoptable(stored, old.tok, f.proactive) {
		s.cfg.logger().Debug("authloop: adopted a token saved by another process", "key", s.key.String())
		return stored, nil, nil, nil
	}
	base := old.tok
	if stored != nil {
		base = stored // the freshest refresh token is the stored one
	}
	switch {
	case base == nil:
		return nil, nil, &LoginRequiredError{Reason: "no token yet"}, nil
	case base.RefreshToken == "":
		return nil, base, &LoginRequiredError{Reason: "no refresh token"}, nil
	}
	if why, err := s.issuedElsewhere(ctx, base); why != nil || err != nil {
		return nil, base, why, err
	}
	tok, err = s.refreshWithRetry(ctx, base)
	if err == nil {
		// Saved even when Close came meanwhile: the old refresh token is
		// dead at a rotating server, this one is the grant.
		saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		s.save(saveCtx, rec, tok)
		cancel()
		return tok, nil, nil, nil
	}
	if !isFinal(err) {
		return nil, nil, nil, err
	}
	s.dropRegistration(err)
	// Refused: another process may have rotated the token a moment ago
	// (one that does not take the lock, or whose wait timed out).
	if again, lerr := s.load(ctx); lerr == nil && again != nil {
		if t := fromStored(again.Token); t != nil && t.RefreshToken != base.RefreshToken && s.adoptable(t, base, false) {
			return t, nil, nil, nil
		}
	}
	dead := *base
	dead.RefreshToken = ""
	s.save(ctx, rec, &dead)
	s.dropRefreshToken(old, &dead)
	return nil, &dead, &LoginRequiredError{Reason: "the refresh token was refused", Err: err}, nil
}

// loginShared signs in under the record's "login" lock, so that one
// process opens a browser while the others wait (until the login timeout,
// or Close) and adopt its result. held is the token this session had; need
// are scopes a token must carry to be adopted.
func (s *Session) loginShared(held *oauth2.Token, need []string) (*oauth2.Token, error) {
	wait := s.cfg.LoginTimeout
	if wait <= 0 {
		wait = callback.DefaultTimeout
	}
	lockCtx, cancel := context.WithTimeout(s.ctx, wait+30*time.Second)
	defer cancel()
	unlock, err := s.store.Lock(lockCtx, s.key, "login")
	if err != nil {
		return nil, fmt.Errorf("authloop: waiting for another process's login of %s: %w", s.key, err)
	}
	defer unlock()
	rec, err := s.load(lockCtx)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		if t := fromStored(rec.Token); s.adoptable(t, held, false) && covers(t.Extra("scope"), need) {
			s.cfg.logger().Debug("authloop: adopted the login of another process", "key", s.key.String())
			return t, nil
		}
	}
	ctx, cancelLogin := context.WithCancel(s.ctx)
	defer cancelLogin()
	s.forgetDiscovery()
	var tok *oauth2.Token
	for attempt := 0; ; attempt++ {
		cfg, err := s.endpoints(ctx)
		if err != nil {
			return nil, fmt.Errorf("authloop: a new login cannot start: %w", err)
		}
		lc := *cfg
		oc := *cfg.OAuth2
		oc.Scopes = s.loginScopes(cfg)
		lc.OAuth2 = &oc
		tok, err = lc.login(ctx)
		if err == nil {
			s.mu.Lock()
			s.requestedScopes = union(s.requestedScopes, oc.Scopes)
			s.mu.Unlock()
			break
		}
		// A client we registered that the server no longer knows:
		// register anew, once.
		if attempt == 0 && s.dropRegistration(err) {
			continue
		}
		return nil, err
	}
	saveCtx, cancelSave := context.WithTimeout(s.ctx, s.timeout)
	defer cancelSave()
	s.save(saveCtx, rec, tok)
	return tok, nil
}

// dropRefreshToken puts dead, the held token without its refused refresh
// token, in place of old: the access token serves until its own expiry.
func (s *Session) dropRefreshToken(old *state, dead *oauth2.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur.Load() != old {
		return
	}
	s.notify(old.tok, dead)
	s.cur.Store(s.newState(dead))
}

// finish publishes a flight's outcome: the new token is announced
// (OnTokenChange) and stored before any caller gets it.
func (s *Session) finish(f *flight, tok *oauth2.Token, err error) {
	s.mu.Lock()
	var failed func(error)
	if err == nil {
		prev := s.cur.Load().tok
		s.notify(prev, tok)
		st := s.newState(tok)
		s.cur.Store(st)
		s.failing = false
		s.nextTry = time.Time{}
		f.tok = tok
		if !s.closed {
			s.arm(st)
		}
	} else {
		f.err = err
		if !s.failing {
			s.failing = true
			failed = s.cfg.OnRefreshFailure
		}
		s.nextTry = s.clock.Now().Add(s.retryLater(s.cur.Load()))
		if !s.closed {
			s.arm(s.cur.Load())
		}
	}
	s.flight = nil
	s.mu.Unlock()
	if failed != nil {
		failed(err) // before the waiters learn of it, as OnTokenChange
	}
	close(f.done)
}

func (s *Session) notify(old, new *oauth2.Token) {
	if s.cfg.OnTokenChange != nil {
		s.cfg.OnTokenChange(old, new)
	}
}

// retryLater is how long a failed proactive refresh waits before the next
// try: a tenth of the remaining validity, between 1 and 30 seconds.
func (s *Session) retryLater(st *state) time.Duration {
	if st.tok == nil || st.expireAt == never {
		return 30 * time.Second
	}
	left := time.Duration(st.expireAt - s.nowNano())
	return min(max(left/10, time.Second), 30*time.Second)
}

// refreshWithRetry sends the refresh request, retrying transient failures
// with exponential backoff and full jitter, honouring Retry-After, and
// giving up at ctx's deadline.
func (s *Session) refreshWithRetry(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
	cfg, err := s.endpoints(ctx)
	if err != nil {
		return nil, err
	}
	form := cfg.refreshForm(old)
	log := s.cfg.logger()
	keep := keepFrom(old)
	scope := s.refreshScope()
	if scope != "" {
		form.Set("scope", scope)
		keep.scope = scope // a response without scope grants what was asked (RFC 6749 §5.1)
	}
	lost := false // an attempt got no whole answer: the server may have acted on it
	// Close cancels ctx, but not a request already sent: if the server
	// rotates the refresh token in its answer, that answer must arrive and
	// be saved, or the grant is lost. The request keeps ctx's deadline;
	// Close only stops further retries.
	reqCtx := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithDeadline(reqCtx, dl)
		defer cancel()
	}
	for attempt := 0; ; attempt++ {
		tok, err := cfg.tokenRequest(reqCtx, form, keep)
		if err == nil {
			log.Debug("authloop: refreshed", "attempt", attempt+1, "rotated", tok.RefreshToken != "" && tok.RefreshToken != old.RefreshToken, "expiry", tok.Expiry)
			return tok, nil
		}
		if scope != "" && hasCode(err, "invalid_scope") {
			return nil, &refreshScopeError{scope: scope, err: err}
		}
		if lost && isFinal(err) {
			err = fmt.Errorf("%w (an earlier attempt's answer was lost: the server may have rotated the refresh token in it)", err)
		}
		var oe *OAuthError
		var te *TokenResponseError
		lost = lost || (!errors.As(err, &oe) && !errors.As(err, &te))
		log.Debug("authloop: refresh attempt failed", "attempt", attempt+1, "error", err.Error(), "transient", isTransient(err))
		if !isTransient(err) || attempt >= s.retries || ctx.Err() != nil {
			return nil, err
		}
		delay := jitter(min(s.backoffCap, s.backoffBase<<attempt))
		if ra := retryAfter(err, time.Now()); ra > delay {
			delay = ra
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return nil, fmt.Errorf("%w (the next try, in %s, would pass the refresh deadline)", err, delay.Round(time.Millisecond))
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
	}
}

// refreshForm is the refresh request (RFC 6749 §6): the refresh token and,
// when the session has one, the resource (RFC 8707). Scope is left out, so
// the grant's scope stays as it is, unless Config.RefreshScopes narrows it
// (refreshScope, added by refreshWithRetry).
func (c *Config) refreshForm(old *oauth2.Token) url.Values {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {old.RefreshToken},
	}
	if c.Resource != "" {
		form.Set("resource", c.Resource)
	}
	return form
}

// finalCodes are the token endpoint errors after which the grant is dead
// (RFC 6749 §5.2, RFC 8707 §2): no retry helps, a new login may.
var finalCodes = map[string]bool{
	"invalid_grant":          true,
	"invalid_client":         true,
	"unauthorized_client":    true,
	"unsupported_grant_type": true,
	"invalid_scope":          true,
	"invalid_target":         true,
}

// transientCodes are OAuth errors that say "try again later".
var transientCodes = map[string]bool{
	"temporarily_unavailable": true,
	"server_error":            true,
	"slow_down":               true,
}

// refreshScope is the scope a refresh asks for: Config.RefreshScopes and
// the scopes step-ups won, space-separated; "" to leave scope out.
func (s *Session) refreshScope() string {
	if len(s.cfg.RefreshScopes) == 0 {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(union(s.cfg.RefreshScopes, s.wonScopes), " ")
}

// refreshScopeError is a server's invalid_scope answer to a refresh that
// asked for Config.RefreshScopes: a configuration mistake, not a dead
// grant, so the refresh token is kept (isFinal is false).
type refreshScopeError struct {
	scope string
	err   error // the *OAuthError
}

func (e *refreshScopeError) Error() string {
	return fmt.Sprintf("authloop: the server refused to narrow the refreshed token to scope %q (Config.RefreshScopes): it must be within the scope granted at sign-in; the refresh token is kept: %v", e.scope, e.err)
}

func (e *refreshScopeError) Unwrap() error { return e.err }

func hasCode(err error, code string) bool {
	var oe *OAuthError
	return errors.As(err, &oe) && oe.Code == code
}

func isFinal(err error) bool {
	var se *refreshScopeError
	if errors.As(err, &se) {
		return false
	}
	var oe *OAuthError
	return errors.As(err, &oe) && finalCodes[oe.Code]
}

// isTransient reports whether retrying err may help: 5xx and 429, the
// OAuth codes that say so, answers that are not OAuth at all (a proxy's
// page), and network errors.
func isTransient(err error) bool {
	var oe *OAuthError
	if errors.As(err, &oe) {
		if finalCodes[oe.Code] {
			return false
		}
		return transientCodes[oe.Code] || oe.StatusCode >= 500 || oe.StatusCode == 429
	}
	var te *TokenResponseError
	if errors.As(err, &te) {
		return true
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	// A network error: before the answer (*url.Error), or while its body
	// was read (the connection closed after the headers, or stalled past
	// the client's timeout).
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF)
}
