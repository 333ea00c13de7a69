// A Session with Config.Grant: the grant runs where a person's session
// would sign in, under the record's refresh lock, and its token is kept
// like a refreshed one.

package authloop

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/store"
)

// grantLocked obtains a token with Config.Grant and saves it; the record's
// refresh lock is held (ctx is the lock's). rec is the record as read
// under the lock. need are scopes to ask for beyond the configured ones
// (a step-up).
func (s *Session) grantLocked(ctx context.Context, rec *store.Record, need []string) (*oauth2.Token, error) {
	cfg, err := s.endpoints(ctx)
	if err != nil {
		return nil, err
	}
	if s.cfg.dp.wants(cfg.discovered) {
		// Bound from the first token on, like a person's first sign-in.
		if err := s.cfg.dp.ensure(); err != nil {
			return nil, err
		}
	}
	scopes := programScopes(s.loginScopes(cfg, need), s.cfg.OAuth2.Scopes)
	target := GrantTarget{
		Issuer:   cfg.Issuer,
		TokenURL: cfg.OAuth2.Endpoint.TokenURL,
		Resource: cfg.Resource,
		ClientID: cfg.OAuth2.ClientID,
		Scopes:   scopes,
	}
	grantType := s.key.Grant
	scope := strings.Join(scopes, " ")
	mine, bound, err := s.grantSubject(ctx) // read before the grant: its token is that subject's
	if err != nil {
		return nil, err
	}
	tok, err := s.sendWithRetry(ctx, cfg, tokenAttempts{
		what: "grant",
		done: "obtained a token with the grant",
		form: func(ctx context.Context) (url.Values, error) {
			form, err := s.cfg.Grant.GrantForm(ctx, target)
			if err != nil {
				return nil, err
			}
			if form.Get("grant_type") == "" {
				return nil, fmt.Errorf("authloop: Config.Grant (%T) returned a form without grant_type", s.cfg.Grant)
			}
			grantType = form.Get("grant_type")
			form = cloneValues(form)
			if scope != "" && !form.Has("scope") {
				form.Set("scope", scope)
			}
			if cfg.Resource != "" && !form.Has("resource") {
				form.Set("resource", cfg.Resource)
			}
			return form, nil
		},
		keep: keepFields{scope: scope}, // a response without scope grants what was asked (RFC 6749 §5.1)
		stop: func(err error) error { return grantRefusal(err, grantType, cfg) },
	})
	if err != nil {
		s.keepWait(ctx, err)
		return nil, err
	}
	s.mu.Lock()
	s.requestedScopes = union(s.requestedScopes, scopes)
	s.mu.Unlock()
	tok = markSignedIn(tok, s.clock.Now())
	if bound {
		tok = markSubject(tok, mine)
	}
	return s.keepObtained(ctx, rec, tok)
}

// programScopes drops from the scopes a grant would ask for, when they
// come from the resource's metadata rather than the configuration, those
// that belong to a person's sign-in: openid (an ID token: no person
// here, and servers refuse it with client credentials) and
// offline_access (a refresh token: the grant itself is the way back).
func programScopes(scopes, configured []string) []string {
	out := scopes[:0:0]
	for _, sc := range scopes {
		if (sc == "openid" || sc == "offline_access") && !slices.Contains(configured, sc) {
			continue
		}
		out = append(out, sc)
	}
	return out
}

// grantInstead runs Config.Grant under the held refresh lock where a
// person's session would need a sign-in (why): no token, no refresh token
// or a dead or refused one, a token issued elsewhere, a record deleted
// elsewhere. A wait a failure asked for is honoured first. The record is
// read again: dropping a dead refresh token saved it.
func (s *Session) grantInstead(ctx context.Context, why *LoginRequiredError) (*oauth2.Token, error) {
	if err := s.waitErr(); err != nil {
		return nil, err
	}
	s.cfg.logger().Debug("authloop: running the program's grant", "key", s.key.String(), "reason", why.Reason)
	rec, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	return s.grantLocked(ctx, rec, nil)
}

// grantNow runs Config.Grant for Session.Login or a step-up: under the
// refresh lock, it adopts a token another process obtained since the call
// began (f.since), other than held, that carries the scopes asked for,
// and otherwise sends the grant, whatever token the session holds.
func (s *Session) grantNow(f *flight, held *oauth2.Token) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	ctx, unlock, err := s.lockRecord(ctx, "refresh")
	if err != nil {
		return nil, fmt.Errorf("authloop: waiting for the refresh lock of %s (another process may be obtaining a token): %w", s.key, err)
	}
	defer unlock()
	rec, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	mine, bound, err := s.grantSubject(ctx)
	if err != nil {
		return nil, err
	}
	if rec != nil && !f.since.IsZero() {
		if t := ownStored(fromStored(rec.Token), held, mine, bound); t != nil && s.adoptable(t, held, false) && covers(t.Extra("scope"), f.need) && !signedInAt(t).Before(f.since) {
			return t, nil
		}
	}
	return s.grantLocked(ctx, rec, f.need)
}

// keepObtained saves tok, a token just obtained under the refresh lock,
// even when Close came meanwhile (it may be the only live copy of the
// grant). A failed save keeps it unsaved, and returns it with the
// *SaveError.
func (s *Session) keepObtained(ctx context.Context, rec *store.Record, tok *oauth2.Token) (*oauth2.Token, error) {
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	serr := s.saveToken(saveCtx, rec, tok)
	cancel()
	if serr != nil {
		s.setUnsaved(tok)
		return tok, serr
	}
	s.setUnsaved(nil)
	return tok, nil
}

// keepWait writes a *RetryLaterError's Until into the record (NotBefore),
// so that every process sharing it honours the server's wait. The record
// is read again under the held lock: one read earlier may predate a save.
func (s *Session) keepWait(ctx context.Context, err error) {
	var rl *RetryLaterError
	if !errors.As(err, &rl) {
		return
	}
	wctx := context.WithoutCancel(ctx)
	again, serr := s.load(wctx)
	if serr == nil && again == nil && s.cfg.Grant != nil {
		// A program's first grant: no record yet, and the other
		// processes starting with it must honour the wait too.
		again = &store.Record{Key: s.key}
	}
	if serr == nil && again != nil {
		again.NotBefore = rl.Until
		_, serr = s.store.Save(wctx, again)
	}
	if serr != nil {
		s.cfg.logger().Warn("authloop: could not keep the server's wait in the store", "key", s.key.String(), "error", serr.Error())
	}
}

// grantKey is the name of a Grant in the record's key (store.Key.Grant):
// a program's tokens and a person's never share a record, nor do two
// grants'.
func grantKey(g Grant) string {
	switch g := g.(type) {
	case nil:
		return ""
	case clientCredentials:
		return grantClientCredentials
	case jwtBearer:
		return "jwt-bearer"
	case *identityAssertion:
		return "id-jag"
	default:
		return fmt.Sprintf("%T", g)
	}
}
