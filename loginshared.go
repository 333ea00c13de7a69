// One sign-in across processes: a login takes the record's login lock, and
// a process that waited adopts the sign-in another finished meanwhile.

package authloop

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/oauth2"
)

// loginShared signs in under the record's "login" lock, so that one
// process opens a browser while the others wait (until the login timeout,
// or Close) and adopt its result. held is the token this session had; need
// are scopes a token must carry to be adopted; since, when set, is when
// Session.Login was called: only a sign-in finished after it is adopted
// (a token another process merely refreshed is not a sign-in).
func (s *Session) loginShared(held *oauth2.Token, need []string, since time.Time) (*oauth2.Token, error) {
	lockCtx, cancel := context.WithTimeout(s.ctx, s.cfg.loginTimeout()+30*time.Second)
	defer cancel()
	lockCtx, unlock, err := s.lockRecord(lockCtx, "login")
	if err != nil {
		return nil, fmt.Errorf("authloop: waiting for another process's login of %s: %w", s.key, err)
	}
	defer unlock()
	had := s.hadRecord.Load()
	rec, err := s.load(lockCtx)
	if err != nil {
		return nil, err
	}
	if rec == nil && had {
		// Another process logged out: the key went with the record,
		// and this sign-in makes another.
		s.cfg.dp.forget()
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
	var signedWith dpopKeyState // the key the sign-in proved, if any
	for attempt := 0; ; attempt++ {
		cfg, err := s.endpoints(ctx)
		if err != nil {
			return nil, fmt.Errorf("authloop: a new login cannot start: %w", err)
		}
		if s.cfg.dp.wants(cfg.discovered) {
			// The first DPoP sign-in makes the key; it is saved in the
			// record with the tokens bound to it.
			if err := s.cfg.dp.ensure(); err != nil {
				return nil, err
			}
		}
		lc := *cfg
		lc.registrar = cfg.registrar.forLogin() // holds a client registered for this attempt
		oc := *cfg.OAuth2
		oc.Scopes = s.loginScopes(cfg, need)
		lc.OAuth2 = &oc
		signedWith = s.cfg.dp.pinned()
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
	if heldCtx, unlockRefresh, lerr := s.lockRecord(saveCtx, "refresh"); lerr == nil {
		defer unlockRefresh()
		saveCtx = heldCtx
		mine := s.client // the client this token was issued to
		if again, lerr := s.load(saveCtx); lerr == nil {
			rec = again
		}
		s.client = mine
		s.cfg.dp.restore(signedWith) // and the key it is bound to
	}
	if err := s.saveToken(saveCtx, rec, tok); err != nil {
		s.setUnsaved(tok)
		return tok, err
	}
	s.setUnsaved(nil)
	return tok, nil
}
