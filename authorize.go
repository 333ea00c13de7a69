package authloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/authloop/authloop/discovery"
)

// maxStepUps bounds the new authorizations one session asks for after 403
// insufficient_scope, so that a server that keeps refusing cannot make it
// loop (the MCP spec's retry limit).
const maxStepUps = 2

// Authorize handles a response that refused a request made with the
// session's token, as an MCP SDK's OAuth hook calls it (the go-sdk's
// auth.OAuthHandler): it closes resp.Body, learns what the Bearer challenge
// says (the resource_metadata URL, RFC 9728; the scope), and then:
//
//   - 401 Unauthorized: if the token the request carried is no longer the
//     session's, nothing more (retry with the new one); otherwise one shared
//     refresh, or a login where needed and allowed (Config.Interactive);
//   - 403 with error="insufficient_scope": a new authorization asking for
//     the scopes held so far plus the ones challenged (step-up), at most a
//     few times per session.
//
// It returns nil when a retry of the request may succeed, and otherwise
// an error saying why not (ErrLoginRequired when a login is needed and not
// allowed).
func (s *Session) Authorize(ctx context.Context, req *http.Request, resp *http.Response) error {
	if resp == nil {
		return fmt.Errorf("authloop: Authorize needs the response that refused the request")
	}
	if resp.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	ch, _ := discovery.BearerChallenge(resp.Header)
	s.noteChallenge(ch)
	switch {
	case resp.StatusCode == http.StatusForbidden && ch.ErrorCode() == "insufficient_scope":
		return s.stepUp(ctx, ch.Scope())
	case resp.StatusCode == http.StatusUnauthorized:
		sent := ""
		if req != nil {
			sent = bearerOf(req.Header.Get("Authorization"))
		}
		cur := s.cur.Load()
		if cur.tok != nil && cur.tok.AccessToken != sent && cur.usable(s.nowNano()) {
			return nil // a newer token than the refused one is at hand
		}
		_, err := s.wait(ctx, cur)
		return err
	default:
		return fmt.Errorf("authloop: cannot authorize a request refused with HTTP %d", resp.StatusCode)
	}
}

func bearerOf(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// noteChallenge keeps the resource_metadata URL and the scope of a
// challenge for the next discovery and authorization.
func (s *Session) noteChallenge(ch discovery.Challenge) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := ch.ResourceMetadata(); h != "" {
		s.hint = h
	}
	if sc := ch.Scope(); len(sc) > 0 && ch.ErrorCode() != "insufficient_scope" {
		s.challengeScopes = sc
	}
}

// stepUp authorizes anew with the scopes asked for so far and the ones
// the server challenged.
func (s *Session) stepUp(ctx context.Context, challenged []string) error {
	s.mu.Lock()
	want := union(union(slices.Clone(s.requestedScopes), s.grantedScopes()), challenged)
	key := strings.Join(want, " ")
	if s.stepUps >= maxStepUps || slices.Contains(s.steppedUp, key) {
		s.mu.Unlock()
		return fmt.Errorf("authloop: the server still refuses for insufficient scope after a new authorization with scope %q; giving up", key)
	}
	s.stepUps++
	s.steppedUp = append(s.steppedUp, key)
	s.wonScopes = union(s.wonScopes, challenged)
	s.challengeScopes = want
	s.mu.Unlock()
	tok, err := s.login(ctx, want)
	var se *SaveError
	if tok != nil && errors.As(err, &se) {
		return nil // the new token is live; OnSaveFailure heard of the save
	}
	return err
}

// grantedScopes are the scopes of the current token; s.mu is held.
func (s *Session) grantedScopes() []string {
	if st := s.cur.Load(); st.tok != nil {
		if sc, ok := st.tok.Extra("scope").(string); ok {
			return strings.Fields(sc)
		}
	}
	return nil
}
