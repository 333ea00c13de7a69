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
	"github.com/authloop/authloop/store"
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
	// challenged: a step-up's scopes that the refusal asked for.
	challenged []string
	// since: when Session.Login was called; its flight adopts only a
	// sign-in that another process finished after that.
	since time.Time
	// saveOnly: no refresh, only the retry of a failed save.
	saveOnly bool
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
	tok, err := s.waitSaved(ctx, observed)
	var se *SaveError
	if tok != nil && errors.As(err, &se) {
		return tok, nil // the token is live; the failed save was reported
	}
	return tok, err
}

// waitSaved is wait, but a new token whose save failed comes with an error
// wrapping the *SaveError (Refresh reports it to its caller).
func (s *Session) waitSaved(ctx context.Context, observed *state) (*oauth2.Token, error) {
	for try := 0; ; try++ {
		f := s.join(observed, true)
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.saveOnly {
			// The timer's retry of a failed save refreshes nothing: a
			// token it adopted serves, else this caller's refresh runs.
			try--
			continue
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
	if s.closed || s.flight != nil || s.cur.Load() != observed || s.clock.Now().Before(s.nextTry) || waiting(s.clock.Now(), s.notBefore) {
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
	// During a wait a failure asked for, the flight sends no token
	// request (refreshLocked), but still reads the store: a token another
	// process saved meanwhile (a new sign-in) serves at once.
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
	var tok *oauth2.Token
	var err error
	if f.saveOnly {
		tok, err = s.retrySave(s.cur.Load())
	} else {
		tok, err = s.obtain(f, s.cur.Load())
	}
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
	tok, err := s.loginShared(held, f.need, f.since)
	if err != nil && why != nil && tok == nil { // with a token, err is its *SaveError
		return nil, fmt.Errorf("authloop: %s, and the new login failed: %w", why.Reason, err)
	}
	return tok, err
}

// refreshLocked adopts, or refreshes and saves, under the refresh lock. It
// returns the token (with a *SaveError when its save failed), or why a login
// is needed (with the token it held), or an error.
func (s *Session) refreshLocked(ctx context.Context, f *flight, old *state) (tok, held *oauth2.Token, why *LoginRequiredError, err error) {
	unlock, err := s.store.Lock(ctx, s.key, "refresh")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("authloop: waiting for the refresh lock of %s (another process may be refreshing): %w", s.key, err)
	}
	defer unlock()
	had := s.hadRecord.Load()
	rec, err := s.load(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if rec == nil && had {
		// The record this session read or wrote is gone: the person
		// logged out (authloop logout, another process's Logout). Writing
		// its tokens back would undo that.
		s.loggedOutElsewhere(old)
		return nil, nil, &LoginRequiredError{Reason: "logged out: the saved session was deleted (by authloop logout, or another process)"}, nil
	}
	var stored *oauth2.Token
	if rec != nil {
		stored = fromStored(rec.Token)
	}
	if s.adoptable(stored, old.tok, f.proactive) {
		s.cfg.logger().Debug("authloop: adopted a token saved by another process", "key", s.key.String())
		s.setUnsaved(nil) // the store holds a newer grant than the one whose save failed
		return stored, nil, nil, nil
	}
	if err := s.waitErr(); err != nil {
		// A failure asked this session to wait (Retry-After, backoff, a
		// configuration error): no token request before it ends.
		return nil, nil, nil, err
	}
	if rec != nil && waiting(s.clock.Now(), rec.NotBefore) {
		// Another process (or this one, earlier) was told to wait.
		return nil, nil, nil, &RetryLaterError{Until: rec.NotBefore, Err: s.errUntil(rec.NotBefore)}
	}
	base := s.freshest(stored, old.tok)
	if base != stored {
		// The store holds a refresh token this session rotated away (a
		// save failed): save the live one first, so that no other process
		// presents the dead one meanwhile.
		if pending := s.pendingSave(); pending != nil && pending == base {
			if s.saveToken(ctx, rec, pending) == nil {
				s.setUnsaved(nil)
				s.cfg.logger().Info("authloop: saved the session's tokens after an earlier failure", "key", s.key.String())
			}
		}
	}
	switch {
	case base == nil:
		return nil, nil, &LoginRequiredError{Reason: "no token yet"}, nil
	case base.RefreshToken == "":
		return nil, base, &LoginRequiredError{Reason: "no refresh token"}, nil
	}
	if exp, ok := base.Extra(RefreshExpiryKey).(time.Time); ok && !s.clock.Now().Before(exp) {
		// Known dead without asking: the server said when it expires.
		return nil, s.dropDead(ctx, rec, old, base), &LoginRequiredError{Reason: "the refresh token expired at " + exp.UTC().Format(time.RFC3339)}, nil
	}
	if why, err := s.issuedElsewhere(ctx, base); why != nil || err != nil {
		return nil, base, why, err
	}
	tok, err = s.refreshWithRetry(ctx, base)
	if err != nil && s.registrationChanged(ctx, err, base) {
		// invalid_client, and another process updated the registration
		// meanwhile: once more, as the record's client.
		tok, err = s.refreshWithRetry(ctx, base)
	}
	if err == nil {
		if tok.RefreshToken != base.RefreshToken {
			s.retire(base.RefreshToken) // never presented again
		}
		tok = carrySignedIn(tok, base)
		// Saved even when Close came meanwhile: the old refresh token is
		// dead at a rotating server, this one is the grant.
		saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		serr := s.saveToken(saveCtx, rec, tok)
		cancel()
		if serr != nil {
			s.setUnsaved(tok)
			return tok, nil, nil, serr
		}
		s.setUnsaved(nil)
		return tok, nil, nil, nil
	}
	var rl *RetryLaterError
	if errors.As(err, &rl) && rec != nil {
		// Every process sharing the record honours the wait. The record
		// is read again (the lock is held): rec may predate the save of
		// the live token above, and must not be written back.
		wctx := context.WithoutCancel(ctx)
		again, serr := s.load(wctx)
		if serr == nil && again != nil {
			again.NotBefore = rl.Until
			_, serr = s.store.Save(wctx, again)
		}
		if serr != nil {
			s.cfg.logger().Warn("authloop: could not keep the server's wait in the store", "key", s.key.String(), "error", serr.Error())
		}
	}
	// A registered client refused (invalid_client) is forgotten here, but
	// the refresh token stays in the record (only a dead grant ends a
	// grant): the server may have forgotten the client, or another process
	// updated it and has yet to write its new secret into the record.
	refused := s.dropRegistration(err)
	reason := "the refresh token was refused (revoked or expired at the server; or another process rotated it and could not save the new one)"
	if !refused && !grantDead(err) {
		return nil, nil, nil, err
	}
	// Refused: another process may have rotated the token a moment ago
	// (one that does not take the lock, or whose wait timed out).
	if again, lerr := s.load(ctx); lerr == nil && again != nil {
		if t := fromStored(again.Token); t != nil && t.RefreshToken != base.RefreshToken && s.adoptable(t, base, false) {
			return t, nil, nil, nil
		}
	}
	if refused {
		return nil, base, &LoginRequiredError{Reason: "the server refused the client registered for this session (invalid_client: it no longer knows it, or another process just changed its secret)", Err: err}, nil
	}
	return nil, s.dropDead(ctx, rec, old, base), &LoginRequiredError{Reason: reason, Err: err}, nil
}

// freshest picks the token whose refresh token to present: the stored one
// (another process may have rotated since), unless it holds a refresh
// token this session saw rotated away, or it is the record a failed save
// left (knownStale), or it holds none while this session's own live token
// could not be saved.
func (s *Session) freshest(stored, held *oauth2.Token) *oauth2.Token {
	switch {
	case stored == nil:
		return held
	case held != nil && (s.isRetired(stored.RefreshToken) || s.knownStale(stored)):
		return held
	case held != nil && stored.RefreshToken == "" && s.pendingSave() == held:
		return held
	}
	return stored
}

// dropDead saves base without its refresh token, which the server refused
// or which expired, and puts it in place of old: the access token serves
// until its own expiry. It returns the token without the refresh token.
func (s *Session) dropDead(ctx context.Context, rec *store.Record, old *state, base *oauth2.Token) *oauth2.Token {
	dead := *base
	dead.RefreshToken = ""
	if s.saveToken(ctx, rec, &dead) == nil {
		s.setUnsaved(nil)
	} else {
		// The store keeps the refused refresh token until this save is
		// retried; a pending save of the live one would write it back.
		s.setUnsaved(&dead)
	}
	s.dropRefreshToken(old, &dead)
	return &dead
}

// retrySave is the flight that retries a failed save before the next
// refresh: under the refresh lock, it writes the live token unless the
// store holds a newer grant, which it adopts. It returns the token the
// session is to hold.
func (s *Session) retrySave(cur *state) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), s.timeout)
	defer cancel()
	pending := s.pendingSave()
	if pending == nil {
		return cur.tok, nil
	}
	unlock, err := s.store.Lock(ctx, s.key, "refresh")
	if err != nil {
		return cur.tok, s.saveFailed(pending, &SaveError{Store: s.store.Describe(), Key: s.key, Err: err})
	}
	defer unlock()
	had := s.hadRecord.Load()
	rec, err := s.load(ctx)
	if err != nil {
		return cur.tok, s.saveFailed(pending, &SaveError{Store: s.store.Describe(), Key: s.key, Err: err})
	}
	if rec == nil && had {
		s.loggedOutElsewhere(cur) // never written back over a logout
		return s.cur.Load().tok, nil
	}
	if rec != nil {
		if t := fromStored(rec.Token); s.adoptable(t, cur.tok, false) {
			s.setUnsaved(nil)
			return t, nil
		}
	}
	if err := s.saveToken(ctx, rec, pending); err != nil {
		return cur.tok, s.saveFailed(pending, err)
	}
	s.setUnsaved(nil)
	s.cfg.logger().Info("authloop: saved the session's tokens after an earlier failure", "key", s.key.String())
	return cur.tok, nil
}

// loginShared signs in under the record's "login" lock, so that one
// process opens a browser while the others wait (until the login timeout,
// or Close) and adopt its result. held is the token this session had; need
// are scopes a token must carry to be adopted; since, when set, is when
// Session.Login was called: only a sign-in finished after it is adopted
// (a token another process merely refreshed is not a sign-in).
func (s *Session) loginShared(held *oauth2.Token, need []string, since time.Time) (*oauth2.Token, error) {
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
		if t := fromStored(rec.Token); s.adoptable(t, held, false) && covers(t.Extra("scope"), need) && !signedInAt(t).Before(since) {
			s.cfg.logger().Debug("authloop: adopted the login of another process", "key", s.key.String())
			return t, nil
		}
	}
	ctx, cancelLogin := context.WithCancel(s.ctx)
	defer cancelLogin()
	s.forgetDiscovery()
	need = union(need, s.takePendingScopes()) // asked for by this sign-in only
	var tok *oauth2.Token
	for attempt := 0; ; attempt++ {
		cfg, err := s.endpoints(ctx)
		if err != nil {
			return nil, fmt.Errorf("authloop: a new login cannot start: %w", err)
		}
		lc := *cfg
		lc.registrar = cfg.registrar.forLogin() // holds a client registered for this attempt
		oc := *cfg.OAuth2
		oc.Scopes = s.loginScopes(cfg, need)
		lc.OAuth2 = &oc
		tok, err = lc.login(ctx)
		if err == nil {
			lc.registrar.signedIn() // the token goes with the client it was issued to
			s.mu.Lock()
			s.requestedScopes = union(s.requestedScopes, oc.Scopes)
			s.mu.Unlock()
			break
		}
		// A client we registered that the server no longer knows:
		// register anew, once.
		if attempt == 0 && lc.registrar.dropRefused(err) {
			continue
		}
		return nil, err
	}
	tok = markSignedIn(tok, s.clock.Now())
	saveCtx, cancelSave := context.WithTimeout(context.WithoutCancel(s.ctx), s.timeout)
	defer cancelSave()
	// Saved under the refresh lock too: a refresh that another process
	// started before this sign-in ended must not write its older grant
	// over this one after it.
	if unlockRefresh, lerr := s.store.Lock(saveCtx, s.key, "refresh"); lerr == nil {
		defer unlockRefresh()
		mine := s.client // the client this token was issued to
		if again, lerr := s.load(saveCtx); lerr == nil {
			rec = again
		}
		s.client = mine
	}
	if err := s.saveToken(saveCtx, rec, tok); err != nil {
		s.setUnsaved(tok)
		return tok, err
	}
	s.setUnsaved(nil)
	return tok, nil
}

// loggedOutElsewhere drops the session's tokens (OnTokenChange with new
// nil) and any save still pending, when old is still its state: another
// process logged out.
func (s *Session) loggedOutElsewhere(old *state) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unsaved, s.saveTries = nil, 0
	if s.cur.Load() != old || old.tok == nil {
		return
	}
	s.notify(old.tok, nil)
	s.publish(s.newState(nil))
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
	s.publish(s.newState(dead))
}

// finish publishes a flight's outcome: the new token is announced
// (OnTokenChange) and stored before any caller gets it; a failure sets
// the wait it asks for (notBefore) and the pause of background refreshes.
func (s *Session) finish(f *flight, tok *oauth2.Token, err error) {
	s.mu.Lock()
	var hooks []func()
	now := s.clock.Now()
	if tok != nil || f.saveOnly && err == nil {
		prev := s.cur.Load().tok
		if tok != prev {
			s.notify(prev, tok)
			s.publish(s.newState(tok))
		}
		if f.need != nil {
			s.wonStepUp(f, tok)
		}
		if !f.saveOnly {
			s.failing = false
			s.nextTry, s.notBefore, s.lastErr = time.Time{}, time.Time{}, nil
			s.configErrs = 0
		}
	} else {
		if !s.failing && s.cfg.OnRefreshFailure != nil {
			hook := s.cfg.OnRefreshFailure
			hooks = append(hooks, func() { hook(err) })
		}
		s.failing = true
		learnt := err != s.lastErr
		var rl *RetryLaterError
		var ce *configError
		switch {
		case !learnt:
			// Served again during the wait it asked for (waitErr): no
			// request was made, nothing new was learnt.
		case errors.As(err, &rl):
			s.notBefore, s.lastErr = rl.Until, err
		case errors.As(err, &ce):
			// The configuration of a running program does not change by
			// itself: each refusal in a row doubles the pause, up to an
			// hour, so no timer or caller loop hammers the server.
			s.notBefore, s.lastErr = now.Add(backoffCeiling(configPause, maxConfigPause, s.configErrs)), err
			s.configErrs++
		}
		if learnt {
			s.nextTry = now.Add(s.retryLater(s.cur.Load()))
		}
		if s.notBefore.After(s.nextTry) {
			s.nextTry = s.notBefore
		}
	}
	var se *SaveError
	switch {
	case errors.As(err, &se):
		if !s.saveFailing && s.cfg.OnSaveFailure != nil {
			hook := s.cfg.OnSaveFailure
			hooks = append(hooks, func() { hook(err) })
		}
		s.saveFailing = true
	case s.unsaved == nil:
		s.saveFailing = false
	}
	f.tok, f.err = tok, err
	if !s.closed {
		s.arm(s.cur.Load())
	}
	s.flight = nil
	s.mu.Unlock()
	for _, h := range hooks {
		h() // before the waiters learn of it, as OnTokenChange
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
// with exponential backoff and jitter, honouring Retry-After, and giving up
// at ctx's deadline. A transient failure it gives up on comes back as a
// *RetryLaterError: no token request before its Until.
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
	reqCtx, cancel := answeredContext(ctx, s.timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		tok, err := cfg.tokenRequest(reqCtx, form, keep)
		if err == nil {
			log.Debug("authloop: refreshed", "attempt", attempt+1, "rotated", tok.RefreshToken != "" && tok.RefreshToken != old.RefreshToken, "expiry", tok.Expiry)
			return tok, nil
		}
		if ce := configErrorOf(err, cfg, scope, s.cfg.OAuth2.ClientID == ""); ce != nil {
			return nil, ce
		}
		if lost && grantDead(err) {
			err = fmt.Errorf("%w (an earlier attempt's answer was lost: the server may have rotated the refresh token in it)", err)
		}
		var oe *OAuthError
		var te *TokenResponseError
		lost = lost || (!errors.As(err, &oe) && !errors.As(err, &te))
		log.Debug("authloop: refresh attempt failed", "attempt", attempt+1, "error", err.Error(), "transient", isTransient(err))
		if !isTransient(err) || ctx.Err() != nil {
			return nil, err
		}
		now := s.clock.Now()
		delay := backoff(s.backoffBase, s.backoffCap, attempt)
		if ra := s.retryAfter(err, now); ra > delay {
			delay = ra
		}
		if attempt >= s.retries {
			// Spent: the next request waits at least as long as another
			// retry would have.
			return nil, &RetryLaterError{Until: now.Add(max(delay, backoffCeiling(s.backoffBase, s.backoffCap, attempt+1))), Err: err}
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return nil, &RetryLaterError{Until: now.Add(delay), Err: fmt.Errorf("%w (the next try, in %s, would pass the refresh deadline)", err, delay.Round(time.Millisecond))}
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

// maxRetryAfter caps a server's Retry-After: a longer wait (a typo, a
// hostile server) is clamped to it, and logged.
const maxRetryAfter = time.Hour

// waiting reports whether a wait that ends at until (a server's
// Retry-After, a backoff, a configuration error's pause) is still on at
// now. A wait that ends further ahead than any is ever set (maxRetryAfter)
// was set before the clock was set back, or by a machine whose clock runs
// ahead: it is not honoured, or no token request would be sent for as
// long as the clock moved.
func waiting(now, until time.Time) bool {
	d := until.Sub(now)
	return d > 0 && d <= maxRetryAfter
}

// waitErr returns the failure that asked this session to wait, while the
// wait is on; nil otherwise.
func (s *Session) waitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastErr != nil && waiting(s.clock.Now(), s.notBefore) {
		return s.lastErr
	}
	return nil
}

// retryAfter is the wait err's response asked for, capped at maxRetryAfter.
func (s *Session) retryAfter(err error, now time.Time) time.Duration {
	d := retryAfter(err, now)
	if d > maxRetryAfter {
		s.cfg.logger().Warn("authloop: the authorization server asked for a wait longer than the cap; using the cap", "retry_after", d.String(), "cap", maxRetryAfter.String())
		d = maxRetryAfter
	}
	return d
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

// How a refused refresh is classified (RFC 6749 §5.2, RFC 8707 §2). Only a
// dead grant ends the grant: invalid_grant drops the refresh token. The
// configuration codes say that this client, as configured, may not refresh
// (a rotated client secret, a wrong resource): another process with the
// right configuration can, so the refresh token stays, and nothing is
// retried.
var (
	deadGrantCodes = map[string]bool{"invalid_grant": true}
	configCodes    = map[string]bool{
		"invalid_client":         true,
		"unauthorized_client":    true,
		"unsupported_grant_type": true,
		"invalid_scope":          true,
		"invalid_target":         true,
	}
	// transientCodes are OAuth errors that say "try again later".
	transientCodes = map[string]bool{
		"temporarily_unavailable": true,
		"server_error":            true,
		"slow_down":               true,
	}
)

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

// configError is a refresh the server refused for a reason in this
// client's configuration, not in the grant: the refresh token is kept
// (another process, or this program once fixed, can use it), the error
// names the setting to check, and nothing is retried for a while
// (configPause).
type configError struct {
	fix string
	err error // the *OAuthError
}

func (e *configError) Error() string {
	return fmt.Sprintf("authloop: the authorization server refused to refresh: %s; the refresh token is kept: %v", e.fix, e.err)
}

func (e *configError) Unwrap() error { return e.err }

// configPause is how long a session sends no token request after a
// configuration error: the configuration of a running program does not
// change by itself, but the server's may be fixed. It doubles with every
// configuration error in a row, up to maxConfigPause.
const (
	configPause    = time.Minute
	maxConfigPause = time.Hour
)

// configErrorOf returns err as a *configError when its code is one of
// configCodes, with the setting to check; nil otherwise. scope is what a
// narrowing refresh asked for (Config.RefreshScopes), or ""; registered
// says the client is one the session registered, not configured.
func configErrorOf(err error, cfg *Config, scope string, registered bool) *configError {
	var oe *OAuthError
	if !errors.As(err, &oe) || !configCodes[oe.Code] {
		return nil
	}
	var fix string
	switch oe.Code {
	case "invalid_client":
		fix = "it does not accept this client's authentication (invalid_client): check Config.OAuth2.ClientID and ClientSecret (was the secret rotated?) and Endpoint.AuthStyle"
		if registered {
			fix = "it does not accept the client this session registered (invalid_client): the registration may have been deleted or its secret changed; the next sign-in registers anew"
		}
	case "unauthorized_client", "unsupported_grant_type":
		fix = fmt.Sprintf("this client may not use the refresh_token grant (%s): check the client's registration at the authorization server (its grant types)", oe.Code)
	case "invalid_target":
		if cfg.Resource != "" {
			fix = fmt.Sprintf("it does not accept the resource %q (invalid_target): check Config.Resource", cfg.Resource)
		} else {
			fix = "it does not accept the request's target (invalid_target), and no resource is set: check whether it needs Config.Resource (the API's identifier), and the scopes"
		}
	case "invalid_scope":
		if scope != "" {
			fix = fmt.Sprintf("it refused to narrow the refreshed token to scope %q (Config.RefreshScopes): it must be within the scope granted at sign-in", scope)
		} else {
			fix = "it refused the grant's scope (invalid_scope): check the scopes this client may ask for at the authorization server"
		}
	}
	return &configError{fix: fix, err: err}
}

// grantDead reports whether err says the refresh token is dead: the
// server refused it with invalid_grant.
func grantDead(err error) bool {
	var ce *configError
	if errors.As(err, &ce) {
		return false
	}
	var oe *OAuthError
	return errors.As(err, &oe) && deadGrantCodes[oe.Code]
}

// isTransient reports whether retrying err may help: 5xx and 429, the
// OAuth codes that say so, answers that are not OAuth at all (a proxy's
// page), and network errors.
func isTransient(err error) bool {
	var oe *OAuthError
	if errors.As(err, &oe) {
		if deadGrantCodes[oe.Code] || configCodes[oe.Code] {
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
