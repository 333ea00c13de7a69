package main

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// loginFront signs profile p in at f, headless.
func (c *cli) loginFront(f *hostileServer) {
	c.t.Helper()
	var wg sync.WaitGroup
	defer wg.Wait()
	r := c.interactive(browseOn(c.t, f.URL+"/authorize", &wg), "login", "--profile", "p", "--no-browser", "--store", "file",
		"--issuer", f.URL, "--client-id", f.back.ClientID(), "--scope", "openid offline_access", "--timeout", "1m")
	if r.code != 0 {
		c.t.Fatalf("login at the front server: %v", r)
	}
}

// logout tells "revoked now" from "already ended", saying the latter only
// when it is known: the refresh token was past its own expiry, or the
// revocation endpoint said invalid_token. A failed revocation is said
// once, as the command's error.
func TestE2ELogoutSaysWhatItKnows(t *testing.T) {
	t.Run("revoked now", func(t *testing.T) {
		f := newHostileServer(t, oauthtest.Config{})
		c := newCLI(t)
		c.loginFront(f)
		r := c.run("", "logout", "--profile", "p")
		if r.code != 0 || !strings.Contains(r.stderr, "the server revoked the grant, and the tokens are deleted") || strings.Contains(r.stderr, "already") {
			t.Errorf("logout: %v", r)
		}
	})
	t.Run("refresh token past its expiry", func(t *testing.T) {
		f := newHostileServer(t, oauthtest.Config{RefreshTokenTTL: time.Second, RefreshTokenExpiresInField: "refresh_token_expires_in"})
		c := newCLI(t)
		c.loginFront(f)
		time.Sleep(1100 * time.Millisecond) // the refresh token's own expiry passes
		r := c.run("", "logout", "--profile", "p")
		if r.code != 0 || !strings.Contains(r.stderr, "its sign-in had already ended (its refresh token expired ") || strings.Contains(r.stderr, "revoked the grant") {
			t.Errorf("logout: %v", r)
		}
	})
	t.Run("revocation says invalid_token", func(t *testing.T) {
		f := newHostileServer(t, oauthtest.Config{})
		c := newCLI(t)
		c.loginFront(f)
		f.refuseRevocation("invalid_token")
		r := c.run("", "logout", "--profile", "p")
		if r.code != 0 || !strings.Contains(r.stderr, "its sign-in had already ended (the server says its token was already invalid)") {
			t.Errorf("logout: %v", r)
		}
	})
	for _, code := range []string{"unsupported_token_type", "invalid_request"} {
		t.Run("revocation says "+code, func(t *testing.T) {
			f := newHostileServer(t, oauthtest.Config{})
			c := newCLI(t)
			c.loginFront(f)
			f.refuseRevocation(code)
			r := c.run("", "logout", "--profile", "p")
			if r.code != exitFailure || strings.Count(r.stderr, "may live on") != 1 || strings.Contains(r.stderr, "already") || !strings.Contains(r.stderr, code) {
				t.Errorf("logout: %v", r)
			}
			checkErrorShape(t, r.stderr)
			if files, _ := filepath.Glob(filepath.Join(c.dir, "config", "authloop", "*.json")); len(files) != 0 {
				t.Error("the tokens are still in the store")
			}
		})
	}
}
