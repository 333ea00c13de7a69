// The refresh under the record's lock (RFC 6749 §6): which refresh token to
// present, the request with its retries, and the waits a failure asks for.

package authloop

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/authloop/authloop/store"
	"golang.org/x/oauth2"
)

// refreshLocked adopts, or refreshes and saves, under the refresh lock. It
// returns the token (with a *SaveError when its save failed), or why a login
// is needed (with the token it held), or an error.
//
// Everything under the lock runs with the lock's context (lockRecord):
// with a store whose locks are leases, the saves are fenced by the lease,
// and no token request is sent once it may have passed to another holder.
func (s *Session) refreshLocked(ctx context.Context, f *flight, old *state) (tok, held *oauth2.Token, why *LoginRequiredError, err error) {
	ctx, unlock, err := s.lockRecord(ctx, "refresh")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("authloop: waiting for the refresh lock of %s (another process may be refreshing): %w", s.key, err)
	}
	defer unlock()
	tok, held, why, err = s.refreshUnderLock(ctx, f, old)
	if why != nil && s.cfg.Grant != nil {
		// A program has no person to sign it in again: wherever a
		// person's session would need a sign-in, its grant is its way
		// back, under the same lock.
		tok, err = s.grantInstead(ctx, why)
		return tok, nil, nil, err
	}
	return tok, held, why, err
}

// refreshUnderLock is refreshLocked's work, the refresh lock held (ctx is
// the lock's).
func (s *Session) refreshUnderLock(ctx context.Context, f *flight, old *state) (tok, held *oauth2.Token, why *LoginRequiredError, err error) {
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
	// A program's grant that speaks for a subject uses no token of another
	// subject's (a second workload on the same key).
	mine, bound, err := s.grantSubject(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	stored = ownStored(stored, old.tok, mine, bound)
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
	case s.noRefreshGrant.Load():
		return nil, base, &LoginRequiredError{Reason: "the server does not let this client use its refresh tokens"}, nil
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
		// Saved even when Close came meanwhile: the old refresh token is
		// dead at a rotating server, this one is the grant.
		tok, err = s.keepObtained(ctx, rec, carrySignedIn(tok, base))
		return tok, nil, nil, err
	}
	if rec != nil {
		// Every process sharing the record honours a server's wait.
		s.keepWait(ctx, err)
	}
	var oe *OAuthError
	if s.cfg.Grant != nil && errors.As(err, &oe) && !isTransient(err) && !grantDead(err) {
		// A program's refresh token refused for a reason other than its
		// death (unauthorized_client, unsupported_grant_type: the server
		// issued it with the grant but does not let this client use it;
		// invalid_scope...): it is only a convenience, and presenting it
		// again would be refused again. The grant is the way back; a
		// refusal of the client itself comes back from it.
		if oe.Code == "unauthorized_client" || oe.Code == "unsupported_grant_type" {
			s.noRefreshGrant.Store(true)
		}
		return nil, s.dropDead(ctx, rec, old, base), &LoginRequiredError{Reason: "the program's refresh token was refused", Err: err}, nil
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

// loggedOutElsewhere drops the session's tokens (OnTokenChange with new
// nil) and any save still pending, when old is still its state: another
// process logged out.
func (s *Session) loggedOutElsewhere(old *state) {
	s.cfg.dp.forget() // deleted with the record: the next sign-in makes another
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

// refreshWithRetry sends the refresh request, retrying transient failures
// with exponential backoff and jitter, honouring Retry-After, and giving up
// at ctx's deadline. A transient failure it gives up on comes back as a
// *RetryLaterError: no token request before its Until.
func (s *Session) refreshWithRetry(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
	cfg, err := s.endpoints(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.boundElsewhere(old); err != nil {
		return nil, err
	}
	form := cfg.refreshForm(old)
	keep := keepFrom(old)
	scope := s.refreshScope()
	if scope != "" {
		form.Set("scope", scope)
		keep.scope = scope // a response without scope grants what was asked (RFC 6749 §5.1)
	}
	return s.sendWithRetry(ctx, cfg, tokenAttempts{
		what: "refresh",
		done: "refreshed",
		form: func(context.Context) (url.Values, error) { return form, nil },
		keep: keep,
		stop: func(err error) error {
			if ce := configErrorOf(err, cfg, scope, s.cfg.OAuth2.ClientID == ""); ce != nil {
				return ce
			}
			return nil
		},
		lostNote: "an earlier attempt's answer was lost: the server may have rotated the refresh token in it",
		rotates:  old.RefreshToken,
	})
}

// tokenAttempts is one token request that sendWithRetry sends, and sends
// again after a transient failure.
type tokenAttempts struct {
	what string // "refresh", or the grant ("client_credentials grant"): for logs and errors
	done string // the log's message on success ("refreshed")
	// form returns the request's form; called for every attempt (a
	// grant's assertion is read again).
	form func(ctx context.Context) (url.Values, error)
	keep keepFields // what an answer may leave out
	// stop returns the error to end with, without a retry, for a refusal
	// that retrying does not cure; nil otherwise.
	stop func(err error) error
	// lostNote is added to a dead grant's error when an earlier attempt
	// got no whole answer.
	lostNote string
	rotates  string // the refresh token presented, for the log; "" for a grant
}

// sendWithRetry sends a token request, retrying transient failures with
// exponential backoff and jitter, honouring Retry-After, and giving up at
// ctx's deadline. A transient failure it gives up on comes back as a
// *RetryLaterError: no token request before its Until.
func (s *Session) sendWithRetry(ctx context.Context, cfg *Config, a tokenAttempts) (*oauth2.Token, error) {
	log := s.cfg.logger()
	lost := false // an attempt got no whole answer: the server may have acted on it
	// Close cancels ctx, but not a request already sent: if the server
	// rotates the refresh token in its answer, that answer must arrive and
	// be saved, or the grant is lost. The request keeps ctx's deadline;
	// Close only stops further retries.
	reqCtx, cancel := answeredContext(ctx, s.timeout)
	defer cancel()
	reqCtx = withSignWait(reqCtx, ctx) // a client key that hangs in Sign: Close ends the wait
	for attempt := 0; ; attempt++ {
		if err := store.LeaseHeld(reqCtx, leaseMargin); err != nil {
			// The lock's lease may have passed to another holder (this
			// process was stalled, or the store unreachable): it may be
			// presenting this refresh token now. Nothing is sent.
			return nil, fmt.Errorf("authloop: the %s of %s was not sent: %w", a.what, s.key, err)
		}
		// A grant's form may itself come from a request (an identity
		// provider's token exchange): its transient failures are retried
		// as the token request's are.
		form, err := a.form(reqCtx)
		var tok *oauth2.Token
		if err == nil {
			tok, err = cfg.tokenRequest(reqCtx, form, a.keep)
		}
		if err == nil {
			log.Debug("authloop: "+a.done, "attempt", attempt+1, "rotated", a.rotates != "" && tok.RefreshToken != "" && tok.RefreshToken != a.rotates, "expiry", tok.Expiry)
			return tok, nil
		}
		if stop := a.stop(err); stop != nil {
			return nil, stop
		}
		if lost && a.lostNote != "" && grantDead(err) {
			err = fmt.Errorf("%w (%s)", err, a.lostNote)
		}
		var oe *OAuthError
		var te *TokenResponseError
		lost = lost || (!errors.As(err, &oe) && !errors.As(err, &te))
		log.Debug("authloop: "+a.what+" attempt failed", "attempt", attempt+1, "error", err.Error(), "transient", isTransient(err))
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
			return nil, &RetryLaterError{Until: now.Add(delay), Err: fmt.Errorf("%w (the next try, in %s, would pass the %s deadline)", err, delay.Round(time.Millisecond), a.what)}
		}
		if !retryWait(ctx, delay) {
			return nil, err
		}
	}
}

// retryWait waits d, the pause between two attempts of a refresh, on the
// real clock, and reports whether it did; false when ctx ended first.
// Tests replace it to see the pauses without waiting them out.
var retryWait = func(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
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

// errUntil returns the failure that made this session wait until t, or nil
// when the wait was set by another process.
func (s *Session) errUntil(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rl *RetryLaterError
	if errors.As(s.lastErr, &rl) && rl.Until.Equal(t) {
		return rl.Err
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

// boundElsewhere returns a configuration error, and nothing is sent, when
// old's refresh token is bound to another DPoP key than the one this
// session proves with, or to one while it proves none (processes sharing a
// record with different Config.DPoPKey or Config.DPoP): the server would
// refuse it, and one that answers invalid_grant, as oidc-provider does,
// would have the grant dropped from the record, for the process with the
// right key too. The refresh token is kept.
func (s *Session) boundElsewhere(old *oauth2.Token) error {
	want, _ := old.Extra(dpopJKTKey).(string)
	have := s.cfg.dp.thumbprint()
	if want == "" || want == have {
		return nil
	}
	why := "this session proves with no DPoP key (Config.DPoP is off, or no key was given or stored)"
	if have != "" {
		why = "this session proves with key " + have
	}
	return &configError{
		fix: fmt.Sprintf("the refresh token is bound to the DPoP key with thumbprint %s, and %s: give every process sharing the session the same Config.DPoPKey and Config.DPoP", want, why),
		err: errors.New("authloop: refresh token bound to another DPoP key; not sent"),
	}
}
