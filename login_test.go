package authloop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/oauth2"

	"github.com/authloop/authloop/callback"
	"github.com/authloop/authloop/oauthtest"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(childRoleEnv); role != "" {
		os.Exit(childMain(role)) // a re-executed test binary: see process_test.go
	}
	memoryTempDirIfShort()
	moreParallelIfShort()
	goleak.VerifyTestMain(m)
}

// approvingBrowser follows the authorization URL as a browser whose user
// approves, and records the URL it was given.
type approvingBrowser struct {
	mu   sync.Mutex
	urls []string
	wg   sync.WaitGroup
}

func (b *approvingBrowser) open(ctx context.Context, u string) error {
	b.mu.Lock()
	b.urls = append(b.urls, u)
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		_, _, _ = oauthtest.Browse(context.WithoutCancel(ctx), nil, u)
	}()
	return nil
}

func testConfig(srv *oauthtest.Server, b Browser) *Config {
	return &Config{
		OAuth2: &oauth2.Config{
			ClientID: srv.ClientID(),
			Endpoint: srv.Endpoint(),
			Scopes:   []string{"openid", "offline_access"},
		},
		Issuer:       srv.Issuer(),
		Browser:      b,
		Prompt:       io.Discard,
		LoginTimeout: time.Minute,
	}
}

func TestLoginThroughLoopback(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := testConfig(srv, b.open)
	cfg.RequireIssuer = true

	tok, err := Login(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Type() != "Bearer" {
		t.Fatalf("incomplete token: access %t refresh %t type %q", tok.AccessToken != "", tok.RefreshToken != "", tok.Type())
	}
	if !srv.ValidAccessToken(tok.AccessToken) {
		t.Error("server does not know the access token")
	}
	if time.Until(tok.Expiry) < 50*time.Minute {
		t.Errorf("expiry %v: want about an hour from now", tok.Expiry)
	}
	if got := tok.Extra("scope"); got == nil || !strings.Contains(got.(string), "offline_access") {
		t.Errorf("scope not kept: %v", got)
	}
	if n := srv.Count("token"); n != 1 {
		t.Errorf("token endpoint hit %d times, want 1 (a code is never replayed)", n)
	}

	// The authorization request: PKCE S256, loopback IP literal, state.
	b.mu.Lock()
	u := b.urls[0]
	b.mu.Unlock()
	for _, want := range []string{"code_challenge_method=S256", "code_challenge=", "state=", "redirect_uri=http%3A%2F%2F127.0.0.1%3A", "response_type=code", "client_id="} {
		if !strings.Contains(u, want) {
			t.Errorf("authorization URL lacks %q: %s", want, u)
		}
	}
	if strings.Contains(u, "code_verifier") || strings.Contains(u, "plain") {
		t.Errorf("authorization URL leaks the verifier or asks for plain PKCE: %s", u)
	}
}

func TestLoginConfidentialClients(t *testing.T) {
	for _, c := range []struct {
		method string
		style  oauth2.AuthStyle
	}{
		{"client_secret_basic", oauth2.AuthStyleInHeader},
		{"client_secret_basic", oauth2.AuthStyleAutoDetect},
		{"client_secret_post", oauth2.AuthStyleInParams},
	} {
		t.Run(c.method, func(t *testing.T) {
			srv := oauthtest.NewServer(oauthtest.Config{})
			defer srv.Close()
			srv.AddClient(oauthtest.Client{ID: "conf", Secret: "s3cr&t=+x", AuthMethod: c.method})
			b := &approvingBrowser{}
			defer b.wg.Wait()
			cfg := testConfig(srv, b.open)
			cfg.OAuth2.ClientID = "conf"
			cfg.OAuth2.ClientSecret = "s3cr&t=+x"
			cfg.OAuth2.Endpoint.AuthStyle = c.style
			if _, err := Login(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			if n := srv.Count("token"); n != 1 {
				t.Fatalf("token requests %d, want 1: the method is chosen, never probed", n)
			}
		})
	}
}

func TestLoginDenied(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	srv.DenyNext("access_denied", "The user said no <script>")
	b := &approvingBrowser{}
	defer b.wg.Wait()
	_, err := Login(context.Background(), testConfig(srv, b.open))
	var oe *OAuthError
	if !errors.As(err, &oe) || oe.Code != "access_denied" || oe.Endpoint != "authorization" {
		t.Fatalf("got %v, want an access_denied *OAuthError", err)
	}
	if srv.Count("token") != 0 {
		t.Error("token endpoint called after a denial")
	}
}

func TestLoginIssuerMismatch(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := testConfig(srv, b.open)
	cfg.Issuer = "https://attacker.example"
	_, err := Login(context.Background(), cfg)
	var ie *IssuerMismatchError
	if !errors.As(err, &ie) || ie.Got != srv.Issuer() {
		t.Fatalf("got %v, want *IssuerMismatchError naming %s", err, srv.Issuer())
	}
	if srv.Count("token") != 0 {
		t.Error("the code of a mixed-up response was sent to the token endpoint")
	}
}

// The iss of the response is compared with Config.Issuer by the rule
// discovery uses (discovery.SameIssuer): a Config.Issuer typed with one
// trailing slash more than the server's own signs in; with two, the
// response is refused before its code is used.
func TestLoginIssuerSameIssuerRule(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := testConfig(srv, b.open) // endpoints configured: the issuer is not discovered
	cfg.Issuer = srv.Issuer() + "/"
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatalf("Issuer %q, iss %q: %v", cfg.Issuer, srv.Issuer(), err)
	}
	cfg.Issuer = srv.Issuer() + "//"
	tokens := srv.Count("token")
	_, err := Login(context.Background(), cfg)
	var ie *IssuerMismatchError
	if !errors.As(err, &ie) || ie.Got != srv.Issuer() {
		t.Fatalf("Issuer %q: got %v, want *IssuerMismatchError", cfg.Issuer, err)
	}
	if srv.Count("token") != tokens {
		t.Error("the code of a refused response was sent to the token endpoint")
	}
}

func TestLoginIssuerAbsent(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{OmitIssuerInResponse: true})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()

	// Without RequireIssuer an absent iss is accepted (most servers omit it).
	if _, err := Login(context.Background(), testConfig(srv, b.open)); err != nil {
		t.Fatalf("absent iss refused without RequireIssuer: %v", err)
	}
	cfg := testConfig(srv, b.open)
	cfg.RequireIssuer = true
	_, err := Login(context.Background(), cfg)
	var ie *IssuerMismatchError
	if !errors.As(err, &ie) || ie.Got != "" || !strings.Contains(err.Error(), "has no iss parameter") {
		t.Fatalf("got %v, want *IssuerMismatchError saying the iss parameter is absent", err)
	}
}

func TestLoginResource(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{JWTAccessTokens: true})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := testConfig(srv, b.open)
	cfg.Resource = "https://mcp.example.com/mcp"
	tok, err := Login(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.urls[0], "resource=https%3A%2F%2Fmcp.example.com%2Fmcp") {
		t.Errorf("resource missing from the authorization request: %s", b.urls[0])
	}
	claims := jwtClaims(t, tok.AccessToken)
	if !audienceContains(claims["aud"], cfg.Resource) {
		t.Fatalf("access token aud %v, want %s", claims["aud"], cfg.Resource)
	}
}

func TestLoginFixedRedirectURL(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := testConfig(srv, b.open)
	cfg.OAuth2.RedirectURL = "http://127.0.0.1:0/oauth/done"
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.urls[0], "%2Foauth%2Fdone") {
		t.Fatalf("custom callback path not used: %s", b.urls[0])
	}
}

// With no browser, the URL is printed on a line of its own, and a person
// who opens it by hand completes the login.
func TestLoginPrintsURLWithoutBrowser(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	pw := &urlWatcher{found: func(u string) {
		wg.Add(1)
		go func() { defer wg.Done(); _, _, _ = oauthtest.Browse(context.Background(), nil, u) }()
	}}
	cfg := testConfig(srv, NoBrowser)
	cfg.Prompt = pw
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	// NoBrowser is a choice, not a failure: the prompt does not report one.
	if got := pw.buf.String(); !strings.HasPrefix(got, "Open this URL to sign in:") || strings.Contains(got, "Could not") {
		t.Errorf("prompt = %q, want it to start with the URL to open and report no failure", got)
	}
}

type urlWatcher struct {
	buf   bytes.Buffer
	found func(string)
}

var urlLine = regexp.MustCompile(`(?m)^(http://127\.0\.0\.1:\d+/authorize\?\S+)$`)

func (w *urlWatcher) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if m := urlLine.FindStringSubmatch(w.buf.String()); m != nil && w.found != nil {
		w.found(m[1])
		w.found = nil
	}
	return len(p), nil
}

func TestLoginTimeout(t *testing.T) {
	t.Parallel() // touches no package state: waits beside the other slow tests (shorttier_test.go)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	cfg := testConfig(srv, func(context.Context, string) error { return nil }) // the person never signs in
	cfg.LoginTimeout = 100 * time.Millisecond
	_, err := Login(context.Background(), cfg)
	var te *callback.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("got %v, want *callback.TimeoutError", err)
	}
}

func TestLoginCancel(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := testConfig(srv, func(context.Context, string) error { cancel(); return nil })
	_, err := Login(ctx, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestConfigValidation(t *testing.T) {
	good := func() *Config {
		return &Config{OAuth2: &oauth2.Config{ClientID: "c", Endpoint: oauth2.Endpoint{AuthURL: "https://a.example/auth", TokenURL: "https://a.example/token"}}}
	}
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"nil OAuth2", func(c *Config) { c.OAuth2 = nil }, "Config.OAuth2 is nil"},
		{"no client id", func(c *Config) { c.OAuth2.ClientID = "" }, "ClientID is empty"},
		{"http auth URL", func(c *Config) { c.OAuth2.Endpoint.AuthURL = "http://a.example/auth" }, "must use https"},
		{"no token URL", func(c *Config) { c.OAuth2.Endpoint.TokenURL = "" }, "TokenURL is empty"},
		{"http issuer", func(c *Config) { c.Issuer = "http://evil.example" }, "Config.Issuer"},
		{"redirect not loopback", func(c *Config) { c.OAuth2.RedirectURL = "http://192.168.1.5:8080/cb" }, "loopback"},
		{"redirect https", func(c *Config) { c.OAuth2.RedirectURL = "https://127.0.0.1/cb" }, "loopback http"},
		{"resource with fragment", func(c *Config) { c.Resource = "https://r.example/#x" }, "RFC 8707"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := good()
			c.mutate(cfg)
			_, err := Login(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, c.want)
			}
		})
	}
	// Loopback http is allowed for local servers.
	cfg := good()
	cfg.OAuth2.Endpoint.AuthURL = "http://127.0.0.1:9/auth"
	cfg.OAuth2.Endpoint.TokenURL = "http://[::1]:9/token"
	if err := cfg.validate(); err != nil {
		t.Fatalf("loopback http refused: %v", err)
	}
}

func TestSystemBrowserHonoursBROWSER(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "opened")
	script := filepath.Join(dir, "fake-browser")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s' \"$1\" > "+out+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BROWSER", "/nonexistent/browser:"+script)
	const u = "https://auth.example/authorize?a=1&b=2"
	if err := SystemBrowser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil || string(got) != u {
		t.Fatalf("browser got %q (%v), want %q", got, err, u)
	}

	t.Setenv("BROWSER", "/nonexistent/browser")
	if err := SystemBrowser(context.Background(), u); !errors.Is(err, ErrNoBrowser) {
		t.Fatalf("got %v, want ErrNoBrowser", err)
	}
}

func TestSystemBrowserWithoutDisplay(t *testing.T) {
	t.Setenv("BROWSER", "")
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	err := SystemBrowser(context.Background(), "https://auth.example/authorize")
	if !errors.Is(err, ErrNoBrowser) || !strings.Contains(err.Error(), "display") {
		t.Fatalf("got %v, want ErrNoBrowser naming the missing display", err)
	}
}

func TestFingerprint(t *testing.T) {
	if Fingerprint("") != "none" {
		t.Error("empty secret")
	}
	a, b := Fingerprint("token-a"), Fingerprint("token-b")
	if a == b || !strings.HasPrefix(a, "sha256:") || len(a) != len("sha256:")+8 || strings.Contains(a, "token") {
		t.Fatalf("bad fingerprints %q %q", a, b)
	}
}

func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWT (%d parts)", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func audienceContains(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, x := range a {
			if x == want {
				return true
			}
		}
	}
	return false
}
