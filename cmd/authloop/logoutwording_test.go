package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// frontServer is an authorization server whose issuer is its own URL and
// which forwards every request to an oauthtest server behind it (started
// with OmitIssuerInResponse, so that the authorization response names no
// other issuer), rewriting that server's URL to its own in the answers. A
// test sets revokeError to answer revocation requests with that OAuth
// error itself, as servers do that do not follow RFC 7009 §2.2's "200 for
// an invalid token".
type frontServer struct {
	*httptest.Server
	back        *oauthtest.Server
	revokeError atomic.Value // string: the error code answered at /revoke; "" forwards
}

func newFrontServer(t *testing.T, cfg oauthtest.Config) *frontServer {
	cfg.OmitIssuerInResponse = true
	f := &frontServer{back: oauthtest.NewServer(cfg)}
	t.Cleanup(f.back.Close)
	f.revokeError.Store("")
	target, _ := url.Parse(f.back.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if !strings.Contains(resp.Header.Get("Content-Type"), "json") {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte(f.back.URL), []byte(f.URL))
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := f.revokeError.Load().(string); code != "" && r.URL.Path == "/revoke" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"`+code+`"}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	f.Start() // after f.Server is set: the handler reads f.URL
	t.Cleanup(f.Server.Close)
	return f
}

// loginFront signs profile p in at f, headless.
func (c *cli) loginFront(f *frontServer) {
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
		f := newFrontServer(t, oauthtest.Config{})
		c := newCLI(t)
		c.loginFront(f)
		r := c.run("", "logout", "--profile", "p")
		if r.code != 0 || !strings.Contains(r.stderr, "the server revoked the grant, and the tokens are deleted") || strings.Contains(r.stderr, "already") {
			t.Errorf("logout: %v", r)
		}
	})
	t.Run("refresh token past its expiry", func(t *testing.T) {
		f := newFrontServer(t, oauthtest.Config{RefreshTokenTTL: time.Second, RefreshTokenExpiresInField: "refresh_token_expires_in"})
		c := newCLI(t)
		c.loginFront(f)
		time.Sleep(1100 * time.Millisecond) // the refresh token's own expiry passes
		r := c.run("", "logout", "--profile", "p")
		if r.code != 0 || !strings.Contains(r.stderr, "its sign-in had already ended (its refresh token expired ") || strings.Contains(r.stderr, "revoked the grant") {
			t.Errorf("logout: %v", r)
		}
	})
	t.Run("revocation says invalid_token", func(t *testing.T) {
		f := newFrontServer(t, oauthtest.Config{})
		c := newCLI(t)
		c.loginFront(f)
		f.revokeError.Store("invalid_token")
		r := c.run("", "logout", "--profile", "p")
		if r.code != 0 || !strings.Contains(r.stderr, "its sign-in had already ended (the server says its token was already invalid)") {
			t.Errorf("logout: %v", r)
		}
	})
	for _, code := range []string{"unsupported_token_type", "invalid_request"} {
		t.Run("revocation says "+code, func(t *testing.T) {
			f := newFrontServer(t, oauthtest.Config{})
			c := newCLI(t)
			c.loginFront(f)
			f.revokeError.Store(code)
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
