// Flights: one refresh or sign-in that any number of callers share, and how
// its outcome is published.

package authloop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"
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
	if f.login && s.cfg.Grant != nil {
		return s.grantNow(f, old.tok) // a program's session: Login runs its grant
	}
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
		var gr *GrantRefusedError
		switch {
		case !learnt:
			// Served again during the wait it asked for (waitErr): no
			// request was made, nothing new was learnt.
		case errors.As(err, &rl):
			s.notBefore, s.lastErr = rl.Until, err
		case errors.As(err, &ce), errors.As(err, &gr):
			// The configuration of a running program does not change by
			// itself, nor does its identity: each refusal in a row
			// doubles the pause, up to an hour, so no timer or caller
			// loop hammers the server.
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
// try: a tenth of the remaining validity, between 1 and 30 seconds. With no
// token, or one without an expiry (expireAt is never), that is 30 seconds.
func (s *Session) retryLater(st *state) time.Duration {
	left := time.Duration(st.expireAt - s.nowNano())
	return min(max(left/10, time.Second), 30*time.Second)
}
