package integration_test

import (
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/integration/peers"
)

// Login with PKCE, the browser played by an http.Client with a cookie jar
// that fills in the provider's forms (oidc-provider's devInteractions) or
// follows redirects through our auto-accepting app (Hydra).
func TestLoginHeadless(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server) {
		f := newFixture(t, srv)
		tok := loginHeadless(t, f.cfg)
		if tok.AccessToken == "" || tok.RefreshToken == "" {
			t.Fatalf("Login gave access token %t, refresh token %t; want both", tok.AccessToken != "", tok.RefreshToken != "")
		}
		if tok.Extra("id_token") == nil {
			t.Error("no id_token in the token response (scope openid)")
		}
		if got := f.count.grant("authorization_code"); got != 1 {
			t.Errorf("%d authorization_code requests; want 1", got)
		}
		mustUserinfo(t, f, tok.AccessToken)

		// Session.Client sends the token.
		s := newSession(t, f.cfg, tok)
		resp, err := s.Client(t.Context()).Get(f.meta.UserinfoEndpoint)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Session.Client GET userinfo: %s", resp.Status)
		}
	})
}

// A confidential client (client_secret_basic) signs in and refreshes the
// same way.
func TestLoginConfidentialClient(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server) {
		f := newFixture(t, srv)
		c, err := srv.confidentialClient(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		f.client = c
		f.cfg.OAuth2.ClientID = c.ID
		f.cfg.OAuth2.ClientSecret = c.Secret
		tok := loginHeadless(t, f.cfg)
		mustUserinfo(t, f, tok.AccessToken)
		s := newSession(t, f.cfg, tok)
		nt, err := s.Refresh(t.Context())
		if err != nil {
			t.Fatalf("Refresh with client_secret_basic: %v", err)
		}
		mustUserinfo(t, f, nt.AccessToken)
	})
}

// RFC 9207: where the server sends iss, RequireIssuer accepts the right
// one and a Config naming another issuer refuses the response (a mix-up
// defence) without exchanging the code. Hydra v2.3.0 sends no iss: there
// RequireIssuer refuses every response, as it should.
func TestIssuerParameter(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server) {
		if !srv.iss {
			if mustMetadata(t, srv.issuer()).AuthorizationResponseIssParameterSupported {
				t.Fatalf("%s now promises iss (RFC 9207): update the scenario and docs/INTEROP.md", srv.name)
			}
			f := newFixture(t, srv)
			f.cfg.RequireIssuer = true
			_, err := tryLoginHeadless(t, f.cfg)
			var ie *authloop.IssuerMismatchError
			if !errors.As(err, &ie) || ie.Got != "" {
				t.Fatalf("RequireIssuer with a server that sends no iss: %v; want an *IssuerMismatchError with Got empty", err)
			}
			if c := f.count.grant("authorization_code"); c != 0 {
				t.Fatalf("%d code exchanges after a missing iss; want 0", c)
			}
			return
		}
		t.Run("required", func(t *testing.T) {
			f := newFixture(t, srv)
			f.cfg.RequireIssuer = true
			loginHeadless(t, f.cfg)
		})
		t.Run("mix-up", func(t *testing.T) {
			f := newFixture(t, srv)
			f.cfg.Issuer = "https://attacker.example.test"
			_, err := tryLoginHeadless(t, f.cfg)
			var ie *authloop.IssuerMismatchError
			if !errors.As(err, &ie) || ie.Got != srv.issuer() {
				t.Fatalf("err = %v; want an *IssuerMismatchError with Got = %q", err, srv.issuer())
			}
			if c := f.count.grant("authorization_code"); c != 0 {
				t.Fatalf("%d code exchanges after a refused iss; want 0", c)
			}
		})
	})
}

// Refresh with rotation: every refresh gives a new refresh token, the new
// access tokens work, and the first refresh token is dead at the server.
func TestRefreshRotation(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server) {
		f := newFixture(t, srv)
		tok := loginHeadless(t, f.cfg)
		s := newSession(t, f.cfg, tok)
		seen := []string{tok.RefreshToken}
		prev := tok
		for i := range 4 {
			nt, err := s.Refresh(t.Context())
			if err != nil {
				t.Fatalf("refresh %d: %v", i+1, err)
			}
			if nt.RefreshToken == "" {
				t.Fatalf("refresh %d: no refresh token", i+1)
			}
			if slices.Contains(seen, nt.RefreshToken) {
				t.Fatalf("refresh %d: the refresh token did not rotate", i+1)
			}
			seen = append(seen, nt.RefreshToken)
			mustUserinfo(t, f, nt.AccessToken)
			if i == 0 {
				// Whether the access token before the refresh still works:
				// Hydra revokes it with its refresh token, oidc-provider
				// lets it live until expiry.
				status, _, err := userinfo(t.Context(), f, prev.AccessToken)
				if err != nil {
					t.Fatal(err)
				}
				if want := srv.oldAccessTokenStatus; status != want {
					t.Errorf("the access token before the refresh: %d at userinfo; want %d", status, want)
				}
			}
			prev = nt
			got, err := s.Token(t.Context())
			if err != nil || got.AccessToken != nt.AccessToken {
				t.Fatalf("Token after refresh %d: %v (same token: %t)", i+1, err, err == nil && got.AccessToken == nt.AccessToken)
			}
		}
		if got := f.count.grant("refresh_token"); got != 4 {
			t.Errorf("%d refresh requests; want 4", got)
		}
		// Last, by hand: the first refresh token must be dead. Its reuse
		// trips reuse detection, which ends the whole family, so nothing
		// may follow but checks of that.
		te, err := rawRefresh(t.Context(), f, seen[0])
		if err != nil {
			t.Fatal(err)
		}
		if te == nil || te.Code != "invalid_grant" {
			t.Fatalf("reusing the first refresh token: %+v; want invalid_grant", te)
		}
		_, err = s.Refresh(t.Context())
		wantLoginRequired(t, err, "invalid_grant")
		t.Logf("%s: reuse of an old refresh token revoked the family (the session's next refresh: %v)", srv.name, err)
	})
}

// 200 goroutines ask an expired session for a token at once: one refresh
// request, everybody gets its result, and the server saw no reuse (the
// session keeps working).
func TestConcurrentRefresh(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server) {
		f := newFixture(t, srv)
		tok := loginHeadless(t, f.cfg)
		expired := *tok
		expired.Expiry = time.Now().Add(-time.Minute) // the client's view: expired
		cfg := *f.cfg
		cfg.DisableAutoRefresh = true
		s := newSession(t, &cfg, &expired)

		const n = 200
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			got   = make([]*oauth2.Token, n)
			errs  = make([]error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got[i], errs[i] = s.Token(t.Context())
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("goroutine %d: %v", i, errs[i])
			}
			if got[i].AccessToken != got[0].AccessToken {
				t.Fatalf("goroutine %d got another access token than goroutine 0", i)
			}
		}
		if got[0].AccessToken == tok.AccessToken || got[0].RefreshToken == tok.RefreshToken {
			t.Fatal("the expired token was handed out, or the refresh token did not rotate")
		}
		if c := f.count.grant("refresh_token"); c != 1 {
			t.Fatalf("%d refresh requests for %d concurrent callers; want exactly 1", c, n)
		}
		mustUserinfo(t, f, got[0].AccessToken)
		// No reuse was detected: the family is alive and rotates on.
		nt, err := s.Refresh(t.Context())
		if err != nil {
			t.Fatalf("refresh after the concurrent one: %v (reuse detected?)", err)
		}
		mustUserinfo(t, f, nt.AccessToken)
	})
}

// Real expiry: with 4-second access tokens the session refreshes in the
// background (at half the lifetime), and a program that keeps asking Token
// and calling the resource holds a working token across several lifetimes
// and rotations.
//
// At Hydra, a refresh revokes the access token it replaces, at once: a call
// sent with the old token while the background refresh lands gets a 401.
// Such a call is counted (it is retried with the session's new token) and
// must stay rare; a 401 with the session's current token fails the test.
func TestBackgroundRefresh(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server) {
		const ttl = 4 * time.Second
		f := newFixture(t, srv)
		c, err := srv.shortLivedClient(t.Context(), ttl)
		if err != nil {
			t.Fatal(err)
		}
		f.client = c
		f.cfg.OAuth2.ClientID = c.ID
		tok := loginHeadless(t, f.cfg)
		if left := time.Until(tok.Expiry); left > ttl+time.Second || left < ttl-2*time.Second {
			t.Fatalf("the access token expires in %v; want about %v (is the server's lifespan setting in effect?)", left, ttl)
		}
		s := newSession(t, f.cfg, tok)
		const run = 2*ttl + ttl/2
		start := time.Now()
		calls, raced := 0, 0
		for time.Since(start) < run {
			cur, err := s.Token(t.Context())
			if err != nil {
				t.Fatalf("Token %v in: %v", time.Since(start), err)
			}
			status, _, err := userinfo(t.Context(), f, cur.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			calls++
			if status == http.StatusUnauthorized && replaced(s, cur.AccessToken) {
				raced++ // the token was replaced (and revoked) in flight
			} else if status != http.StatusOK {
				t.Fatalf("userinfo %v in, with the session's current token: %d", time.Since(start), status)
			}
			time.Sleep(100 * time.Millisecond)
		}
		refreshes := f.count.grant("refresh_token")
		t.Logf("%s: %d calls over %v with %v tokens, %d refreshes, %d calls raced a refresh that revoked their token", srv.name, calls, run, ttl, refreshes, raced)
		if refreshes < 2 || refreshes > 7 {
			t.Errorf("%d refreshes in %v with %v tokens; want about %d (one per half lifetime)", refreshes, run, ttl, int(run/(ttl/2)))
		}
		if srv.oldAccessTokenStatus == http.StatusOK && raced > 0 {
			t.Errorf("%d calls failed with a replaced token, at a server that keeps old tokens alive", raced)
		}
		if raced > refreshes {
			t.Errorf("%d calls raced %d refreshes: more than one per refresh", raced, refreshes)
		}
		if n := f.count.grant("authorization_code"); n != 1 {
			t.Errorf("%d logins; want 1", n)
		}
	})
}

// replaced reports whether the session's token is no longer accessToken,
// waiting a moment for a refresh whose answer is on its way: the server
// revokes the old token before the client has the new one.
func replaced(s *authloop.Session, accessToken string) bool {
	for range 100 { // 5 s: a loaded CI machine can be slow to deliver it
		if c := s.Cached(); c != nil && c.AccessToken != accessToken {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Hydra answers a dead access token at userinfo with error
// "request_unauthorized", not RFC 6750's "invalid_token" (which
// oidc-provider sends): a client that refreshes only on invalid_token does
// not refresh there.
func TestUnauthorizedChallenge(t *testing.T) {
	want := map[string]string{"hydra": "request_unauthorized", "oidc-provider": "invalid_token"}
	forEachServer(t, func(t *testing.T, srv *server) {
		f := newFixture(t, srv)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.meta.UserinfoEndpoint, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer not-a-token")
		resp, err := httpClient(nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ch, ok := discovery.BearerChallenge(resp.Header)
		if resp.StatusCode != http.StatusUnauthorized || !ok {
			t.Fatalf("userinfo with a bogus token: %s, Bearer challenge %t", resp.Status, ok)
		}
		if got := ch.ErrorCode(); got != want[srv.name] {
			t.Errorf("error in the challenge = %q; want %q (has the server changed? update docs/INTEROP.md)", got, want[srv.name])
		}
	})
}

// A grant revoked on the server (Hydra: the admin API revokes the
// subject's consent; oidc-provider: the refresh token at the revocation
// endpoint) makes the next refresh a clean ErrLoginRequired wrapping
// invalid_grant.
func TestRevokedGrant(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server) {
		f := newFixture(t, srv)
		tok := loginHeadless(t, f.cfg)
		var failures []error
		var mu sync.Mutex
		cfg := *f.cfg
		cfg.OnRefreshFailure = func(err error) { mu.Lock(); failures = append(failures, err); mu.Unlock() }
		s := newSession(t, &cfg, tok)
		if _, err := s.Refresh(t.Context()); err != nil {
			t.Fatalf("refresh before the revocation: %v", err)
		}
		cur, _ := s.Token(t.Context())
		if err := srv.revokeGrant(t.Context(), f.client, cur); err != nil {
			t.Fatalf("revoke the grant at %s: %v", srv.name, err)
		}
		_, err := s.Refresh(t.Context())
		wantLoginRequired(t, err, "invalid_grant")
		if c := f.count.grant("refresh_token"); c != 2 {
			t.Errorf("%d refresh requests; want 2 (invalid_grant is final, not retried)", c)
		}
		// The session dropped the dead refresh token. It keeps serving the
		// access token until its expiry (authloop's choice), although
		// both servers ended it with the grant: the resource's 401 then
		// meets a session that cannot refresh.
		if s.CanRefresh() {
			t.Error("CanRefresh after invalid_grant: the dead refresh token was kept")
		}
		at, err := s.Token(t.Context())
		switch {
		case errors.Is(err, authloop.ErrLoginRequired):
		case err != nil:
			t.Fatalf("Token after the dead grant: %v; want the held access token or ErrLoginRequired", err)
		default:
			status, _, uerr := userinfo(t.Context(), f, at.AccessToken)
			if uerr != nil {
				t.Fatal(uerr)
			}
			t.Logf("Token after the dead grant hands out the held access token; the server answers it with %d", status)
			resp, err := s.Client(t.Context()).Get(f.meta.UserinfoEndpoint)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("Session.Client after the dead grant: %s; want 401 or ErrLoginRequired", resp.Status)
				}
				t.Logf("Session.Client after the dead grant: %s", resp.Status)
			} else if !errors.Is(err, authloop.ErrLoginRequired) {
				t.Fatalf("Session.Client after the dead grant: %v; want 401 or ErrLoginRequired", err)
			} else {
				t.Logf("Session.Client after the dead grant: %v", err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(failures) != 1 {
			t.Errorf("OnRefreshFailure called %d times; want once", len(failures))
		}
	})
}

// Revocation at logout: Session.Logout revokes the refresh token (RFC
// 7009, the endpoint from the issuer's metadata); then the server refuses
// that refresh token and the access token, and the session needs a login.
func TestLogout(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server) {
		f := newFixture(t, srv)
		if f.meta.RevocationEndpoint == "" {
			t.Fatalf("%s advertises no revocation_endpoint", srv.name)
		}
		tok := loginHeadless(t, f.cfg)
		var dropped atomic.Bool
		cfg := *f.cfg
		cfg.OnTokenChange = func(_, nt *oauth2.Token) { dropped.Store(nt == nil) }
		s := newSession(t, &cfg, tok)
		cur, err := s.Refresh(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		mustUserinfo(t, f, cur.AccessToken)
		if err := s.Logout(t.Context()); err != nil {
			t.Fatalf("Logout: %v", err)
		}
		if !dropped.Load() {
			t.Error("OnTokenChange did not see the tokens dropped (new == nil)")
		}
		if _, err := s.Token(t.Context()); !errors.Is(err, authloop.ErrLoginRequired) {
			t.Errorf("Token after Logout: %v; want ErrLoginRequired", err)
		}
		// At the server: the access token is dead with its refresh token…
		status, _, err := userinfo(t.Context(), f, cur.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusUnauthorized {
			t.Errorf("userinfo with the access token after Logout: %d; want 401", status)
		}
		// …and the refresh token is refused (sent by hand, last).
		te, err := rawRefresh(t.Context(), f, cur.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if te == nil || te.Code != "invalid_grant" {
			t.Fatalf("refresh with the logged-out refresh token: %+v; want invalid_grant", te)
		}
	})
}

// RFC 7009 by hand, outside authloop, as a check of the servers' side of
// Logout: revoking the refresh token makes the session's next refresh a
// clean ErrLoginRequired.
func TestRevocationByHand(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server) {
		f := newFixture(t, srv)
		tok := loginHeadless(t, f.cfg)
		s := newSession(t, f.cfg, tok)
		if err := peers.Revoke(t.Context(), httpClient(nil), f.meta.RevocationEndpoint, f.client, tok.RefreshToken, "refresh_token"); err != nil {
			t.Fatalf("revoke the refresh token: %v", err)
		}
		_, err := s.Refresh(t.Context())
		wantLoginRequired(t, err, "invalid_grant")
	})
}

// Hydra v2.3.0 does not implement RFC 8707: it ignores resource, and the
// token's audience (seen through admin introspection) does not name it.
func TestResourceIgnoredByHydra(t *testing.T) {
	hydraServer.start(t)
	f := newFixture(t, hydraServer)
	f.cfg.Resource = peers.OIDCResource
	tok := loginHeadless(t, f.cfg)
	check := func(when, at string) {
		t.Helper()
		in, err := hydra.Introspect(t.Context(), at)
		if err != nil {
			t.Fatal(err)
		}
		if !in.Active || slices.Contains(in.Aud, peers.OIDCResource) {
			t.Fatalf("introspection %s: active %t, aud %q; want active without the resource (has Hydra learnt RFC 8707? update docs/INTEROP.md)", when, in.Active, in.Aud)
		}
	}
	check("after login", tok.AccessToken)
	s := newSession(t, f.cfg, tok)
	nt, err := s.Refresh(t.Context())
	if err != nil {
		t.Fatalf("refresh with resource at Hydra: %v", err)
	}
	check("after refresh", nt.AccessToken)
}

// RFC 8707: with Config.Resource the access token is a JWT for that
// resource, after a refresh too; an unknown resource is refused with
// invalid_target.
func TestResourceIndicator(t *testing.T) {
	oidcServer.start(t)
	t.Run("known", func(t *testing.T) {
		f := newFixture(t, oidcServer)
		f.cfg.Resource = peers.OIDCResource
		f.cfg.OAuth2.Scopes = []string{"openid", "offline_access", "mcp:tools"}
		tok := loginHeadless(t, f.cfg)
		claims := jwtClaims(t, tok.AccessToken)
		if aud := audiences(claims); !slices.Equal(aud, []string{peers.OIDCResource}) {
			t.Fatalf("aud = %q; want [%q]", aud, peers.OIDCResource)
		}
		if claims["scope"] != "mcp:tools" {
			t.Errorf("scope claim = %v; want mcp:tools", claims["scope"])
		}
		s := newSession(t, f.cfg, tok)
		for i := range 2 {
			nt, err := s.Refresh(t.Context())
			if err != nil {
				t.Fatalf("refresh %d: %v", i+1, err)
			}
			if aud := audiences(jwtClaims(t, nt.AccessToken)); !slices.Equal(aud, []string{peers.OIDCResource}) {
				t.Fatalf("refresh %d: aud = %q; want [%q]", i+1, aud, peers.OIDCResource)
			}
		}
	})
	t.Run("unknown", func(t *testing.T) {
		f := newFixture(t, oidcServer)
		f.cfg.Resource = "https://unknown.example.test/mcp"
		tok, err := tryLoginHeadless(t, f.cfg)
		if err == nil {
			t.Fatalf("Login for an unknown resource succeeded (access token %s)", authloop.Fingerprint(tok.AccessToken))
		}
		var oe *authloop.OAuthError
		if !errors.As(err, &oe) || oe.Code != "invalid_target" {
			t.Fatalf("err = %v; want an *OAuthError with code invalid_target", err)
		}
		t.Logf("unknown resource: %v", err)
		if c := f.count.grant("authorization_code"); c != 0 {
			t.Errorf("%d code exchanges after a refused authorization; want 0", c)
		}
	})
}

// Discovery: a Config with only the issuer finds the endpoints itself —
// at Hydra only OpenID discovery answers (the RFC 8414 path is 404), at
// oidc-provider both do.
func TestDiscovery(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server) {
		issuer := srv.issuer()
		rfc8414 := wellKnownStatus(t, issuer, "/.well-known/oauth-authorization-server")
		oidcDisc := wellKnownStatus(t, issuer, "/.well-known/openid-configuration")
		t.Logf("%s: RFC 8414 path %d, OpenID discovery %d", srv.name, rfc8414, oidcDisc)
		want8414 := map[string]int{"hydra": http.StatusNotFound, "oidc-provider": http.StatusOK}[srv.name]
		if rfc8414 != want8414 || oidcDisc != http.StatusOK {
			t.Errorf("RFC 8414 %d, OpenID %d; want %d and 200 (has the server changed?)", rfc8414, oidcDisc, want8414)
		}

		f := newFixture(t, srv)
		f.cfg.OAuth2.Endpoint = oauth2.Endpoint{} // only the issuer
		tok := loginHeadless(t, f.cfg)
		mustUserinfo(t, f, tok.AccessToken)
		s := newSession(t, f.cfg, tok)
		nt, err := s.Refresh(t.Context())
		if err != nil {
			t.Fatalf("refresh with discovered endpoints: %v", err)
		}
		mustUserinfo(t, f, nt.AccessToken)
	})
}

func wellKnownStatus(t *testing.T, issuer, path string) int {
	t.Helper()
	u, err := http.NewRequestWithContext(t.Context(), http.MethodGet, issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	u.URL.Path = path
	resp, err := httpClient(nil).Do(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
