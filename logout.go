// Logout: token revocation (RFC 7009) of the live refresh token under the
// record's lock, then the record deleted.

package authloop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/store"
)

// Logout ends the sign-in: under the record's refresh lock (the one
// refreshes take, in this process and in others) it reads the record,
// revokes at the server (RFC 7009) the refresh token the store holds (the
// access token when there is none) and this session's own when it differs,
// then deletes the record, and drops the tokens (OnTokenChange with new
// nil). Holding the lock, no refresh elsewhere can rotate the refresh
// token between the read and the revocation: the grant revoked is the live
// one, even when another process rotated it since this session last
// looked. Other sessions sharing the store find the record gone at their
// next refresh and drop their tokens (ErrLoginRequired) instead of writing
// them back. Revocation needs an endpoint (Config.RevocationURL, or
// revocation_endpoint in the issuer's metadata); without one, the tokens
// are only deleted. The revocation is bounded by Config.RefreshTimeout.
//
// Tokens whose save failed are dropped too: no later try of that save
// writes them back. The local tokens are deleted even when the revocation
// fails; the error then says so, and that the grant may live on at the
// server. When the lock cannot be taken before ctx ends, nothing is
// revoked or deleted and the error says so.
func (s *Session) Logout(ctx context.Context) error {
	// Wait for any flight, then hold off new ones while logging out.
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrSessionClosed
		}
		f := s.flight
		if f == nil {
			break
		}
		s.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{}), err: ErrLoginRequired}
	s.flight = f // callers arriving now wait for the logout
	// Tokens whose save failed are logged out with the rest: no later try
	// of that save (the timer's, Close's) may write them back.
	s.unsaved, s.saveTries, s.saveFailing = nil, 0, false
	s.mu.Unlock()

	heldCtx, unlock, err := s.lockRecord(ctx, "refresh")
	if err != nil {
		err = fmt.Errorf("authloop: waiting for the refresh lock of %s to log out (another process may be refreshing): %w; nothing was revoked or deleted, try again", s.key, err)
		s.mu.Lock()
		s.flight = nil
		s.arm(s.cur.Load()) // a timer that came due meanwhile left it to this flight
		s.mu.Unlock()
		f.err = err
		close(f.done)
		return err
	}
	rec, loadErr := s.loadRecord(heldCtx) // bound tokens too: revoked all the same
	var stored *oauth2.Token
	if rec != nil {
		stored = fromStored(rec.Token)
	}
	// Bounded: the refresh lock of every process is held meanwhile. A
	// lease lost meanwhile (a store kept in a server) ends the revocation:
	// another holder may have rotated the token read.
	revCtx, cancelRevoke := context.WithTimeout(heldCtx, s.timeout)
	revokeErr := s.revoke(revCtx, stored, s.cur.Load().tok)
	cancelRevoke()
	// The local record goes even when ctx ended during the revocation, as
	// promised: a Ctrl-C must not leave the tokens behind.
	// With a store whose locks are leases, the delete is fenced by the
	// lease: a logout that stalled past it must not delete a sign-in made
	// after it.
	delCtx, cancel := context.WithTimeout(context.WithoutCancel(heldCtx), s.timeout)
	var delErr error
	if err := s.store.Delete(delCtx, s.key); err != nil && !errors.Is(err, store.ErrNotFound) {
		delErr = fmt.Errorf("authloop: deleting the saved session %s from the %s: %w", s.key, s.store.Describe(), err)
	}
	cancel()
	_ = unlock()

	s.mu.Lock()
	old := s.cur.Load()
	if old.tok != nil {
		s.notify(old.tok, nil)
	}
	s.publish(s.newState(nil))
	s.disarm()
	s.flight = nil
	s.hadRecord.Store(false) // this session deleted it
	if delErr == nil {
		s.cfg.dp.forget() // the next sign-in proves with a new key
	}
	s.mu.Unlock()
	f.err = &LoginRequiredError{Reason: "logged out"}
	close(f.done)
	return errors.Join(loadErr, delErr, revokeErr)
}

// revoke sends the RFC 7009 requests that end the grant, when a
// revocation endpoint is known: for the stored token (the live one) and
// for held, this session's, when it is another. Of each token the refresh
// token is revoked, or the access token when there is none.
func (s *Session) revoke(ctx context.Context, stored, held *oauth2.Token) error {
	var toks []*oauth2.Token
	seen := map[string]bool{}
	for _, t := range []*oauth2.Token{stored, held} {
		if t == nil {
			continue
		}
		if v, _ := revocationValue(t); v != "" && !seen[v] {
			seen[v] = true
			toks = append(toks, t)
		}
	}
	if len(toks) == 0 {
		return nil
	}
	cfg, err := s.endpoints(ctx)
	if err != nil {
		return fmt.Errorf("authloop: the tokens were deleted here, but finding the revocation endpoint failed, so the grant may live on at the server: %w", err)
	}
	endpoint := s.revocationEndpoint(ctx, cfg)
	if endpoint == "" {
		return nil // the server offers no revocation
	}
	if err := checkEndpoint("the revocation endpoint", endpoint); err != nil {
		return err
	}
	var errs []error
	for _, tok := range toks {
		errs = append(errs, s.revokeOne(ctx, cfg, endpoint, tok))
	}
	return errors.Join(errs...)
}

// revocationValue is what revoking tok sends: its refresh token, or its
// access token when it has none, with the token_type_hint.
func revocationValue(tok *oauth2.Token) (value, hint string) {
	if tok.RefreshToken != "" {
		return tok.RefreshToken, "refresh_token"
	}
	return tok.AccessToken, "access_token"
}

// revokeOne sends one revocation request for tok.
func (s *Session) revokeOne(ctx context.Context, cfg *Config, endpoint string, tok *oauth2.Token) error {
	if why, _ := s.issuedElsewhere(ctx, tok); why != nil {
		return fmt.Errorf("authloop: the tokens were deleted here, but not revoked, so the grant may live on at the server: %s", why.Reason)
	}
	value, hint := revocationValue(tok)
	form := url.Values{"token": {value}, "token_type_hint": {hint}}
	resp, body, _, err := cfg.clientPost(ctx, "revocation", endpoint, form)
	if err != nil {
		return fmt.Errorf("authloop: the tokens were deleted here, but revoking them failed, so the grant may live on at the server: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		_, perr := parseTokenResponse(resp.StatusCode, resp.Header, body, s.clock.Now(), keepFields{})
		return fmt.Errorf("authloop: the tokens were deleted here, but the server refused to revoke them, so the grant may live on: %w", perr)
	}
	return nil
}
