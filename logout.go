package authloop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/store"
)

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

// Logout ends the sign-in: it revokes the refresh token at the server (RFC
// 7009; the access token too when there is no refresh token) when the
// server offers revocation (Config.RevocationURL, or revocation_endpoint in
// the issuer's metadata), then deletes the record from the store and drops
// the tokens (OnTokenChange with new nil), those whose save failed too:
// no later try of that save writes them back. The local tokens are deleted
// even when the revocation fails; the error then says so, and that the
// grant may live on at the server.
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

	revokeErr := s.revoke(ctx)
	var delErr error
	if err := s.store.Delete(ctx, s.key); err != nil && !errors.Is(err, store.ErrNotFound) {
		delErr = fmt.Errorf("authloop: deleting the saved session %s from the %s: %w", s.key, s.store.Describe(), err)
	}

	s.mu.Lock()
	old := s.cur.Load()
	if old.tok != nil {
		s.notify(old.tok, nil)
	}
	s.publish(s.newState(nil))
	s.disarm()
	s.flight = nil
	s.mu.Unlock()
	f.err = &LoginRequiredError{Reason: "logged out"}
	close(f.done)
	return errors.Join(delErr, revokeErr)
}

// revoke sends the RFC 7009 request for the session's refresh token (or
// access token), when a revocation endpoint is known.
func (s *Session) revoke(ctx context.Context) error {
	tok := s.cur.Load().tok
	if tok == nil {
		return nil
	}
	cfg, err := s.endpoints(ctx)
	if err != nil {
		return fmt.Errorf("authloop: the tokens were deleted here, but finding the revocation endpoint failed, so the grant may live on at the server: %w", err)
	}
	if why, _ := s.issuedElsewhere(ctx, tok); why != nil {
		return fmt.Errorf("authloop: the tokens were deleted here, but not revoked, so the grant may live on at the server: %s", why.Reason)
	}
	endpoint := cfg.RevocationURL
	if endpoint == "" && s.meta == nil && cfg.Issuer != "" {
		// Endpoints were configured, not discovered: look for one.
		if md, err := discovery.AuthServer(ctx, cfg.httpClient(), cfg.Issuer); err == nil {
			s.setMeta(md, nil)
		}
	}
	if endpoint == "" {
		endpoint = s.revocationFromMeta()
	}
	if endpoint == "" {
		return nil // the server offers no revocation
	}
	if err := checkEndpoint("the revocation endpoint", endpoint); err != nil {
		return err
	}
	form := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
	if tok.RefreshToken == "" {
		form = url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}
	}
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

func (s *Session) revocationFromMeta() string {
	if md := s.authServerMeta(); md != nil {
		return md.RevocationEndpoint
	}
	return ""
}
