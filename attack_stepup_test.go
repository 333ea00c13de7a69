package authloop

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// Adversarial tests of issue 12, situation 4 (shared step-ups).

// The person cancels a step-up's sign-in (or it times out, or the network
// failed during it): no authorization finished, so nothing says that the
// server would still refuse. The next request refused for the same scope
// starts a new step-up, and once the person approves it, the request
// succeeds. The session must not give up for good with a message claiming
// that "a new authorization" asked for the scope and the token still
// lacks it.
func TestAttackStepUpAfterCancelledStepUp(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{JWTAccessTokens: true})
	defer srv.Close()
	rs, _ := stepUpServer(t, srv)
	b := &approvingBrowser{}
	defer b.wg.Wait()
	s := mcpSession(t, srv, rs, b.open)
	ctx := context.Background()
	mcp := rs.URL + "/mcp"
	if resp := callWithCached(t, s, http.MethodGet, mcp); resp.StatusCode != 401 || s.Authorize(ctx, resp.Request, resp) != nil {
		t.Fatalf("first sign-in: HTTP %d", resp.StatusCode)
	}
	resp := callWithCached(t, s, http.MethodPost, mcp)
	if resp.StatusCode != 403 {
		t.Fatalf("POST before the step-up: HTTP %d", resp.StatusCode)
	}
	srv.DenyNext("access_denied", "the person cancelled")
	if err := s.Authorize(ctx, resp.Request, resp); err == nil {
		t.Fatal("the cancelled step-up succeeded")
	}

	// The person tries again, and approves this time.
	resp = callWithCached(t, s, http.MethodPost, mcp)
	if resp.StatusCode != 403 {
		t.Fatalf("POST after the cancelled step-up: HTTP %d", resp.StatusCode)
	}
	if err := s.Authorize(ctx, resp.Request, resp); err != nil {
		msg := err.Error()
		if strings.Contains(msg, "after a new authorization") {
			msg += " [no authorization finished: the person cancelled it]"
		}
		t.Fatalf("Authorize after a cancelled step-up: %s; want a new step-up sign-in", msg)
	}
	if resp := callWithCached(t, s, http.MethodPost, mcp); resp.StatusCode != 200 {
		t.Fatalf("POST after the second step-up: HTTP %d", resp.StatusCode)
	}
}

// With Config.RefreshScopes (refreshes narrowed to some scopes), a step-up
// whose sign-in the person cancels: nothing was won, so later refreshes
// must still ask only for what the grant holds. Asking for the challenged
// scope the grant never got makes every refresh fail with invalid_scope,
// and the session cannot refresh until the program restarts.
func TestAttackCancelledStepUpKeepsRefreshing(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.OAuth2.Scopes = []string{"openid", "offline_access", "read"}
	tok, err := Login(context.Background(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.tok = tok
	f.cfg.RefreshScopes = []string{"read"}
	f.cfg.Interactive = true
	s := f.session()
	ctx := context.Background()
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatalf("refresh before the step-up: %v", err)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.ResourceEndpoint(), nil)
	s.Cached().SetAuthHeader(req)
	refused := insufficientScope("write")
	f.srv.DenyNext("access_denied", "the person cancelled")
	if err := s.Authorize(ctx, req, refused); err == nil {
		t.Fatal("the cancelled step-up succeeded")
	}
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatalf("refresh after the cancelled step-up: %v", err)
	}
}

// A session configured not to sign in (Config.Interactive false: a daemon,
// a credential helper run by kubectl or git) gets a request refused with
// 403 insufficient_scope: a step-up needs the person, so Authorize says a
// login is needed (ErrLoginRequired) and opens no browser, as a 401 does.
func TestAttackStepUpHonoursNonInteractive(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Interactive = false
	s := f.session()
	req, _ := http.NewRequest(http.MethodPost, f.srv.ResourceEndpoint(), nil)
	s.Cached().SetAuthHeader(req)
	refused := insufficientScope("write")
	signIns := f.srv.Count("authorize")
	err := s.Authorize(context.Background(), req, refused)
	if n := f.srv.Count("authorize") - signIns; n != 0 {
		t.Errorf("a non-interactive session opened %d sign-in(s) for a step-up", n)
	}
	if !errors.Is(err, ErrLoginRequired) {
		t.Errorf("Authorize: %v, want login required", err)
	}
}

// A step-up for a scope this client may not have at all: the server
// refuses the authorization with invalid_scope. Later sign-ins of the
// session (Session.Login, or the login after the refresh token dies) must
// still work: they ask for what the session needs, not again for the
// scope the server refused, which would fail every sign-in until the
// program restarts.
func TestAttackRefusedStepUpDoesNotPoisonLaterLogins(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Interactive = true
	s := f.session()
	ctx := context.Background()
	req, _ := http.NewRequest(http.MethodPost, f.srv.ResourceEndpoint(), nil)
	s.Cached().SetAuthHeader(req)
	refused := insufficientScope("admin")
	err := s.Authorize(ctx, req, refused)
	if err == nil || !strings.Contains(err.Error(), "invalid_scope") {
		t.Fatalf("step-up for a scope the server does not allow: %v, want invalid_scope", err)
	}
	if _, err := s.Login(ctx); err != nil {
		t.Fatalf("Session.Login after the refused step-up: %v", err)
	}
	f.srv.RevokeAll() // the refresh token dies: the session signs in again
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatalf("the sign-in after the refresh token died: %v", err)
	}
}

// Authorize called without the refused request (req nil: the caller does
// not know which token it carried) after another request's step-up has
// already won the scope: the session's token carries it, so a retry may
// succeed and Authorize returns nil. Giving up with "the server still
// refuses ... after a new authorization" is false: the new token was never
// tried.
func TestAttackStepUpUnknownTokenAfterStepUpWon(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Interactive = true
	s := f.session()
	ctx := context.Background()
	refused := func() *http.Response { return insufficientScope("write") }
	req, _ := http.NewRequest(http.MethodPost, f.srv.ResourceEndpoint(), nil)
	s.Cached().SetAuthHeader(req)
	if err := s.Authorize(ctx, req, refused()); err != nil {
		t.Fatalf("the step-up: %v", err)
	}
	if !covers(s.Cached().Extra("scope"), []string{"write"}) {
		t.Fatalf("the step-up's token lacks write: %v", s.Cached().Extra("scope"))
	}
	// Another request, refused with the old token before the step-up
	// ended, reports without its request.
	if err := s.Authorize(ctx, nil, refused()); err != nil {
		t.Fatalf("Authorize without the request, the token carrying the scope: %v", err)
	}
}

// With Config.RefreshScopes, a step-up that ends with a token lacking the
// challenged scope (the server granted less than was asked): the grant
// never got it, so later refreshes must not ask for it, or every refresh
// fails with invalid_scope until the program restarts.
func TestAttackStepUpGrantedLessKeepsRefreshing(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.OAuth2.Scopes = []string{"openid", "offline_access", "read"}
	tok, err := Login(context.Background(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.tok = tok
	f.cfg.RefreshScopes = []string{"read"}
	f.cfg.Interactive = true
	// The person (or the server's policy) grants less than asked: the
	// authorization goes through without write.
	f.cfg.Browser = func(ctx context.Context, u string) error {
		pu, err := url.Parse(u)
		if err != nil {
			return err
		}
		q := pu.Query()
		q.Set("scope", strings.Join(slices.DeleteFunc(strings.Fields(q.Get("scope")), func(s string) bool { return s == "write" }), " "))
		pu.RawQuery = q.Encode()
		return f.b.open(ctx, pu.String())
	}
	s := f.session()
	ctx := context.Background()
	req, _ := http.NewRequest(http.MethodPost, f.srv.ResourceEndpoint(), nil)
	s.Cached().SetAuthHeader(req)
	refused := insufficientScope("write")
	if err := s.Authorize(ctx, req, refused); err == nil || !strings.Contains(err.Error(), "insufficient scope") {
		t.Fatalf("a step-up granted less: %v, want a give-up naming the insufficient scope", err)
	}
	if covers(s.Cached().Extra("scope"), []string{"write"}) {
		t.Fatalf("the step-up's token carries write: %v", s.Cached().Extra("scope"))
	}
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatalf("refresh after a step-up granted less: %v", err)
	}
}

// Authorize without the refused request, when the server refuses the very
// token that carries the scope (the account lacks the permission, say):
// the retries it allows with that token are bounded, and it then gives up
// without another sign-in, saying that the refused request would tell
// more. A caller that retries whenever Authorize returns nil cannot loop.
func TestAttackStepUpUnknownTokenBounded(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Interactive = true
	s := f.session()
	ctx := context.Background()
	refused := func() *http.Response { return insufficientScope("write") }
	req, _ := http.NewRequest(http.MethodPost, f.srv.ResourceEndpoint(), nil)
	s.Cached().SetAuthHeader(req)
	if err := s.Authorize(ctx, req, refused()); err != nil {
		t.Fatalf("the step-up: %v", err)
	}
	signIns := f.srv.Count("authorize")
	var err error
	tries := 0
	for ; tries < 100 && err == nil; tries++ {
		err = s.Authorize(ctx, nil, refused())
	}
	if err == nil || !strings.Contains(err.Error(), "insufficient scope") || !strings.Contains(err.Error(), "refused request") {
		t.Fatalf("after %d refusals of the token carrying the scope: %v, want a give-up naming the scope and the missing request", tries, err)
	}
	if tries > maxBlindRetries+1 {
		t.Errorf("gave up after %d refusals, want at most %d", tries, maxBlindRetries+1)
	}
	if n := f.srv.Count("authorize") - signIns; n != 0 {
		t.Errorf("%d more sign-ins, want none", n)
	}
}

// Without req, the response's own Request (as an http.Client's responses
// carry it) tells which token was refused: a refusal of the old token
// lets the caller retry with the step-up's; a refusal of the step-up's
// token, which carries the scope, gives up at once.
func TestAttackStepUpTokenFromResponseRequest(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Interactive = true
	s := f.session()
	ctx := context.Background()
	refused := func() *http.Response {
		req, _ := http.NewRequest(http.MethodPost, f.srv.ResourceEndpoint(), nil)
		s.Cached().SetAuthHeader(req)
		return withRequest(insufficientScope("write"), req)
	}
	old := refused()
	if err := s.Authorize(ctx, nil, refused()); err != nil {
		t.Fatalf("the step-up: %v", err)
	}
	if err := s.Authorize(ctx, nil, old); err != nil {
		t.Fatalf("a refusal of the old token after the step-up: %v, want a retry", err)
	}
	if err := s.Authorize(ctx, nil, refused()); err == nil || !strings.Contains(err.Error(), "insufficient scope") {
		t.Fatalf("a refusal of the token carrying the scope: %v, want a give-up", err)
	}
}

// A non-interactive session refused for insufficient scope says which
// scopes a sign-in must grant; the program's Session.Login then asks for
// them, and the request succeeds with its token. A scope the server will
// not give is asked for by that one sign-in only: after it fails, the next
// Session.Login asks for what the session had and succeeds.
func TestStepUpNonInteractiveLoginAsksForScopes(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	ctx := context.Background()
	refusedFor := func(scope string) (*http.Request, *http.Response) {
		req, _ := http.NewRequest(http.MethodPost, f.srv.ResourceEndpoint(), nil)
		s.Cached().SetAuthHeader(req)
		return req, insufficientScope(scope)
	}
	req, resp := refusedFor("write")
	err := s.Authorize(ctx, req, resp)
	if !errors.Is(err, ErrLoginRequired) || !strings.Contains(err.Error(), `"write"`) || !strings.Contains(err.Error(), "Session.Login") {
		t.Fatalf("Authorize: %v, want login required naming the scope and Session.Login", err)
	}
	tok, err := s.Login(ctx)
	if err != nil {
		t.Fatalf("Session.Login: %v", err)
	}
	if !covers(tok.Extra("scope"), []string{"openid", "offline_access", "write"}) {
		t.Fatalf("Session.Login's token carries %v, want the configured scopes and write", tok.Extra("scope"))
	}
	if err := s.Authorize(ctx, req, resp); err != nil {
		t.Fatalf("Authorize after the sign-in: %v, want a retry with its token", err)
	}

	req, resp = refusedFor("admin") // a scope this client may not have
	if err := s.Authorize(ctx, req, resp); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("Authorize: %v, want login required", err)
	}
	if _, err := s.Login(ctx); err == nil || !strings.Contains(err.Error(), "invalid_scope") {
		t.Fatalf("Session.Login asking for admin: %v, want invalid_scope", err)
	}
	tok, err = s.Login(ctx)
	if err != nil {
		t.Fatalf("the next Session.Login: %v", err)
	}
	if !covers(tok.Extra("scope"), []string{"openid", "offline_access", "write"}) {
		t.Fatalf("the next Session.Login's token carries %v, want what the session had", tok.Extra("scope"))
	}
}

// Authorize without the refused request for a 401 (the token it carried
// not known), when the resource refuses the session's very token (revoked
// at the server before its expiry): the caller may retry with the
// session's token a few times (an older token may have been refused), but
// then the session refreshes, instead of answering "retry" forever to a
// caller that retries whenever Authorize returns nil.
func TestAttackUnauthorizedUnknownTokenRefreshes(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	refused := func() *http.Response {
		return &http.Response{StatusCode: 401, Header: http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}, Body: http.NoBody}
	}
	tries := 0
	for ; tries < 100 && f.refreshes() == 0; tries++ {
		if err := s.Authorize(context.Background(), nil, refused()); err != nil {
			t.Fatalf("Authorize: %v", err)
		}
	}
	if f.refreshes() == 0 || tries > maxBlindRetries+1 {
		t.Fatalf("%d refreshes after %d refusals of the session's token, want one within %d", f.refreshes(), tries, maxBlindRetries+1)
	}
}
