// Session.Authorize: what a refused request sets off, as an MCP SDK's OAuth
// hook asks (RFC 6750 §3 challenges; RFC 9728 resource_metadata): one
// shared refresh or login after a 401, a step-up after 403
// insufficient_scope.

package authloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/dpop"
	"github.com/authloop/authloop/internal/urlrule"
)

// maxStepUps bounds the new authorizations one session gets after 403
// insufficient_scope (counting those that ended with a token), so that a
// server that keeps refusing cannot make it loop (the MCP spec's retry
// limit). A step-up that ended without a token makes Authorize fail, which
// ends a caller's retry, so it needs no bound of its own.
const maxStepUps = 2

// Authorize handles a response that refused a request made with the
// session's token, as an MCP SDK's OAuth hook calls it (the go-sdk's
// auth.OAuthHandler): it closes resp.Body, learns what the Bearer challenge
// says (the resource_metadata URL, RFC 9728; the scope), and then:
//
//   - 401 Unauthorized: if the token the request carried is no longer the
//     session's, nothing more (retry with the new one; when that token is
//     not known, req and resp.Request being nil, a few times per token);
//     otherwise one shared refresh, or a login where needed and allowed
//     (Config.Interactive);
//   - 403 with error="insufficient_scope": if a token newer than the
//     refused one carries the challenged scopes, nothing more (retry with
//     it; when the refused token is not known, req and resp.Request being
//     nil, the session's token is retried with a few times if it carries
//     them); otherwise a new authorization asking for the scopes asked for
//     and held so far plus the ones challenged, added to any configured
//     scopes (step-up). Requests refused while a step-up runs wait for it
//     and share its outcome; they give up only when it failed or its token
//     still lacks the scopes. At most maxStepUps step-ups that won a token
//     per session; one that ended without a token (the person cancelled,
//     the server refused the authorization) changes nothing, and the next
//     refusal asks again. A session that may not sign in
//     (Config.Interactive false) opens nothing: it returns an error
//     wrapping ErrLoginRequired that names the scopes, and its next
//     Session.Login asks for them (that sign-in only: one that fails does
//     not pass them on).
//
// It returns nil when a retry of the request may succeed, and otherwise
// an error saying why not (ErrLoginRequired when a login, or a step-up's
// new sign-in, is needed and not allowed). It opens a browser only when
// Config.Interactive is set.
func (s *Session) Authorize(ctx context.Context, req *http.Request, resp *http.Response) error {
	if resp == nil {
		return fmt.Errorf("authloop: Authorize needs the response that refused the request")
	}
	if resp.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	ch, _ := authChallenge(resp.Header)
	if req == nil {
		req = resp.Request // as an http.Client's response carries it
	}
	if resp.StatusCode == http.StatusUnauthorized && strings.EqualFold(ch.Scheme, "DPoP") && ch.ErrorCode() == "use_dpop_nonce" {
		return s.nonceAsked(req, resp)
	}
	s.noteChallenge(ch)
	sent := ""
	if req != nil {
		sent = bearerOf(req.Header.Get("Authorization"))
	}
	switch {
	case resp.StatusCode == http.StatusForbidden && ch.ErrorCode() == "insufficient_scope":
		return s.stepUp(ctx, sent, ch.Scope())
	case resp.StatusCode == http.StatusUnauthorized:
		_, err := s.afterUnauthorized(ctx, sent, sent != "")
		return err
	default:
		return fmt.Errorf("authloop: cannot authorize a request refused with HTTP %d", resp.StatusCode)
	}
}

// afterUnauthorized decides what follows a 401 for a request that carried
// the access token sent (known false when the caller cannot tell which
// token the request carried), for Transport.RoundTrip and Authorize alike,
// and returns the token to retry with: a usable token newer than sent when
// one is at hand (a refresh replaced the refused one); when the token sent
// is not known, the session's usable token, a bounded number of times
// (blindRetry: the refused token may be an older one); and otherwise the
// token of one refresh shared with every caller refused with the same
// token, or a login where needed and allowed (wait), or that flight's
// error. A known but empty access token (a session seeded with a refresh
// token only) is refreshed like any other.
func (s *Session) afterUnauthorized(ctx context.Context, sent string, known bool) (*oauth2.Token, error) {
	cur := s.cur.Load()
	if known && cur.tok != nil && cur.tok.AccessToken != sent && cur.usable(s.nowNano()) {
		return cur.tok, nil // a newer token than the refused one is at hand
	}
	if !known {
		s.mu.Lock()
		retry := s.blindRetry(cur, nil)
		s.mu.Unlock()
		if retry {
			return cur.tok, nil // the refused token may be an older one: retry with this one
		}
	}
	return s.wait(ctx, cur)
}

// bearerOf returns the access token of an Authorization header: "Bearer
// <token>" or "DPoP <token>" (schemes compared case-insensitively), or "".
func bearerOf(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	if len(h) > 5 && strings.EqualFold(h[:5], "dpop ") {
		return strings.TrimSpace(h[5:])
	}
	return ""
}

// nonceAsked answers a resource server's 401 that asks for a DPoP nonce
// (use_dpop_nonce, RFC 9449 §9): it refused the request without looking
// further, so nothing is refreshed. The nonce its DPoP-Nonce header gives
// is kept for the next proofs; nil when the request may be sent again with
// a nonce its proof did not carry.
func (s *Session) nonceAsked(req *http.Request, resp *http.Response) error {
	if req == nil || req.URL == nil {
		return errors.New("authloop: the resource server asked for a DPoP nonce, and Authorize was given no request to tell which server")
	}
	s.cfg.dp.learn(req.URL.String(), true, resp.Header)
	sent := ""
	if p, err := dpop.Parse(req.Header.Get("DPoP")); err == nil {
		sent = p.Nonce
	}
	if n := s.cfg.dp.nonceFor(req.URL); n != "" && n != sent {
		return nil
	}
	return fmt.Errorf("authloop: %s asked for a DPoP nonce (use_dpop_nonce) without giving a new one in its DPoP-Nonce header", urlrule.RedactURL(req.URL.String()))
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
// the server challenged (sent is the access token the refused request
// carried, "" when unknown: then a session token that carries the scopes
// is retried with, a bounded number of times, blindRetry). A caller that
// finds a flight under way (another request's step-up, a refresh, a
// login) waits for it and judges again: a token newer than sent that
// carries the challenged scopes is retried with; a step-up for those
// scopes that failed ends it with that error. It gives up when a step-up
// that won a token already asked for the challenged scopes and the token
// still lacks them, or after maxStepUps; a session that may not sign in
// returns a *LoginRequiredError instead of starting one.
func (s *Session) stepUp(ctx context.Context, sent string, challenged []string) error {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrSessionClosed
		}
		cur := s.cur.Load()
		if sent != "" && s.carries(cur, sent, challenged) {
			s.mu.Unlock()
			return nil // a newer token carries the scopes: retry with it
		}
		if sent == "" && s.blindRetry(cur, challenged) {
			s.mu.Unlock()
			return nil // the token carries the scopes: retry with it
		}
		if f := s.flight; f != nil {
			s.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if f.login && covers(strings.Join(f.need, " "), challenged) {
				// The step-up this caller joined: its outcome is this
				// caller's.
				if f.tok == nil { // with a token, an error is only a failed save, reported already
					return f.err
				}
				if covers(f.tok.Extra("scope"), challenged) {
					return nil
				}
			}
			continue
		}
		want := union(union(slices.Clone(s.requestedScopes), s.grantedScopes()), challenged)
		if asked := s.steppedUpFor(challenged); asked != "" || s.stepUps >= maxStepUps {
			s.mu.Unlock()
			if asked == "" {
				return fmt.Errorf("authloop: the server refuses for insufficient scope %q after %d new authorizations; giving up (a server that keeps asking for more cannot make the session loop)", strings.Join(challenged, " "), maxStepUps)
			}
			if sent == "" && cur.usable(s.nowNano()) && covers(cur.tok.Extra("scope"), challenged) {
				return fmt.Errorf("authloop: the server still refuses for insufficient scope %q after a new authorization that asked for scope %q, and the session's token carries it (%q) but was refused again %d times as far as the session can tell (Authorize was not given the refused request: pass it, so that the token it carried is known); giving up: the account may lack the permission", strings.Join(challenged, " "), asked, scopeString(cur.tok), maxBlindRetries)
			}
			return fmt.Errorf("authloop: the server still refuses for insufficient scope %q after a new authorization that asked for scope %q (the token carries %q); giving up: the account may lack the permission, or the server grants less than was asked", strings.Join(challenged, " "), asked, scopeString(cur.tok))
		}
		if !s.cfg.Interactive && s.cfg.Grant == nil {
			// A step-up needs the person, and this session may not ask
			// (a daemon, a credential helper): the program is told, and
			// its next sign-in (Session.Login) asks for the scopes.
			s.pendingScopes = union(s.pendingScopes, challenged)
			s.mu.Unlock()
			return &LoginRequiredError{Reason: fmt.Sprintf("the server refuses the token for insufficient scope %q (it carries %q): a new sign-in must grant it, and this session may not open one (Config.Interactive is false); Session.Login asks for it", strings.Join(challenged, " "), scopeString(cur.tok))}
		}
		f := s.start(&flight{interactive: true, login: true, need: want, challenged: challenged})
		s.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if f.tok == nil { // with a token, an error is only a failed save, reported already
			return f.err
		}
		if covers(f.tok.Extra("scope"), challenged) {
			return nil
		}
		// Granted less than asked: the give-up above says so.
		sent = f.tok.AccessToken
	}
}

// wonStepUp books a step-up whose sign-in ended with a token (finish calls
// it; s.mu is held): it counts toward maxStepUps; a later refusal for the
// scopes it asked for gives up (steppedUpFor); narrowed refreshes
// (Config.RefreshScopes) keep the challenged scopes the token carries; and
// later sign-ins ask for what it asked for. A step-up that ended without a
// token (the person cancelled, the server refused, the sign-in timed out)
// books nothing: nothing says the server would still refuse, and the grant
// holds no new scope, so the next refusal asks again.
func (s *Session) wonStepUp(f *flight, tok *oauth2.Token) {
	s.stepUps++
	s.steppedUp = append(s.steppedUp, strings.Join(f.need, " "))
	granted := strings.Fields(scopeString(tok))
	for _, sc := range f.challenged {
		if slices.Contains(granted, sc) {
			s.wonScopes = union(s.wonScopes, []string{sc})
		}
	}
	s.requestedScopes = union(s.requestedScopes, f.need)
}

// maxBlindRetries bounds the retries Authorize allows with one token (for
// a 403, one that carries the challenged scopes) when the refused
// request's token is not known (no request): enough for the requests
// refused at once with an older token, few enough that a server refusing
// this very token cannot make a caller loop (a 401 then refreshes, a 403
// gives up).
const maxBlindRetries = 8

// blindRetry reports whether a request refused (for lack of challenged,
// nil for a 401), its token not known, may be retried with st's token: the
// token is usable, carries the scopes, and was retried with fewer than
// maxBlindRetries times after such refusals; it counts the retry. s.mu is
// held.
func (s *Session) blindRetry(st *state, challenged []string) bool {
	if st.tok == nil || !st.usable(s.nowNano()) || !covers(st.tok.Extra("scope"), challenged) {
		return false
	}
	if s.blindTok != st.tok {
		s.blindTok, s.blindRetries = st.tok, 0
	}
	if s.blindRetries >= maxBlindRetries {
		return false
	}
	s.blindRetries++
	return true
}

// carries reports whether st holds a usable token other than sent (the
// one a request was refused with) that carries the scopes need; s.mu is
// held.
func (s *Session) carries(st *state, sent string, need []string) bool {
	return st.tok != nil && st.tok.AccessToken != sent && st.usable(s.nowNano()) && covers(st.tok.Extra("scope"), need)
}

// steppedUpFor returns the scopes of an earlier step-up that asked for all
// of challenged, or ""; s.mu is held.
func (s *Session) steppedUpFor(challenged []string) string {
	for _, asked := range s.steppedUp {
		if covers(asked, challenged) {
			return asked
		}
	}
	return ""
}
