package integration_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/integration/peers"
)

// server is one real authorization server, as the scenarios see it.
type server struct {
	name string
	// start reports whether the peer runs (see need).
	start func(t *testing.T)
	// issuer as its metadata names it.
	issuer func() string
	// newClient registers a fresh public client for one test.
	newClient func(ctx context.Context) (peers.Client, error)
	// shortLivedClient registers a public client whose access tokens live ttl.
	shortLivedClient func(ctx context.Context, ttl time.Duration) (peers.Client, error)
	// confidentialClient gives a client with a secret (client_secret_basic).
	confidentialClient func(ctx context.Context) (peers.Client, error)
	// iss reports whether the server sends iss in authorization responses
	// (RFC 9207).
	iss bool
	// revokeGrant ends the grant on the server side, as an administrator
	// or the person on the provider's account page would.
	revokeGrant func(ctx context.Context, c peers.Client, tok *oauth2.Token) error
	// oldAccessTokenStatus is the userinfo status of an access token whose
	// refresh token was just used: Hydra revokes it, oidc-provider does not.
	oldAccessTokenStatus int
	// narrowsOnRefresh reports whether a refresh's scope parameter narrows
	// the new access token (RFC 6749 §6): oidc-provider does; Hydra v2.3.0
	// ignores it and grants the whole grant's scope again.
	narrowsOnRefresh bool
	// output returns the server's log, shown when a test fails.
	output func() string
}

var hydraServer = &server{
	name:   "hydra",
	start:  func(t *testing.T) { t.Helper(); need(t, "Ory Hydra", hydraErr) },
	issuer: func() string { return hydra.Issuer },
	newClient: func(ctx context.Context) (peers.Client, error) {
		return hydra.NewPublicClient(ctx)
	},
	shortLivedClient: func(ctx context.Context, ttl time.Duration) (peers.Client, error) {
		return hydra.NewShortLivedClient(ctx, ttl)
	},
	confidentialClient: func(ctx context.Context) (peers.Client, error) {
		return hydra.NewConfidentialClient(ctx)
	},
	revokeGrant: func(ctx context.Context, c peers.Client, _ *oauth2.Token) error {
		return hydra.RevokeConsent(ctx, c.ID)
	},
	oldAccessTokenStatus: http.StatusUnauthorized,
	output:               func() string { return hydra.Output() },
}

var oidcServer = &server{
	name:   "oidc-provider",
	start:  func(t *testing.T) { t.Helper(); need(t, "oidc-provider", oidcErr) },
	issuer: func() string { return oidc.Issuer },
	newClient: func(ctx context.Context) (peers.Client, error) {
		return oidc.NewPublicClient(ctx)
	},
	shortLivedClient: func(ctx context.Context, ttl time.Duration) (peers.Client, error) {
		return oidc.NewShortLivedClient(ctx, ttl)
	},
	// A static client of server.mjs.
	confidentialClient: func(context.Context) (peers.Client, error) {
		return peers.Client{ID: peers.OIDCConfidentialClientID, Secret: peers.OIDCConfidentialClientSecret}, nil
	},
	iss: true,
	// oidc-provider has no admin API: revoking the refresh token at the
	// revocation endpoint ends its grant (revokeGrant there revokes every
	// token of the grant).
	revokeGrant: func(ctx context.Context, c peers.Client, tok *oauth2.Token) error {
		m, err := metadata(ctx, oidc.Issuer)
		if err != nil {
			return err
		}
		return peers.Revoke(ctx, httpClient(nil), m.RevocationEndpoint, c, tok.RefreshToken, "refresh_token")
	},
	oldAccessTokenStatus: http.StatusOK,
	narrowsOnRefresh:     true,
	output:               func() string { return oidc.Output() },
}

var allServers = []*server{hydraServer, oidcServer}

// forEachServer runs f as a subtest per server, in parallel.
func forEachServer(t *testing.T, f func(t *testing.T, srv *server)) {
	for _, srv := range allServers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			srv.start(t)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("%s's log (tail):\n%s", srv.name, tail(srv.output(), 3000))
				}
			})
			f(t, srv)
		})
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// metadata fetches the server's metadata through authloop's discovery
// package, once per issuer.
var (
	metaMu    sync.Mutex
	metaCache = map[string]*discovery.AuthServerMetadata{}
)

func metadata(ctx context.Context, issuer string) (*discovery.AuthServerMetadata, error) {
	metaMu.Lock()
	defer metaMu.Unlock()
	if m := metaCache[issuer]; m != nil {
		return m, nil
	}
	m, err := discovery.AuthServer(ctx, httpClient(nil), issuer)
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", issuer, err)
	}
	metaCache[issuer] = m
	return m, nil
}

func mustMetadata(t *testing.T, issuer string) *discovery.AuthServerMetadata {
	t.Helper()
	m, err := metadata(t.Context(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fixture is one test's client at one server, with the counting transport
// its authloop.Config uses.
type fixture struct {
	srv    *server
	client peers.Client
	meta   *discovery.AuthServerMetadata
	count  *counter
	cfg    *authloop.Config
}

// newFixture registers a fresh client and builds an authloop.Config for it
// with the endpoints set from the metadata (discovery has its own test).
func newFixture(t *testing.T, srv *server) *fixture {
	t.Helper()
	ctx := t.Context()
	c, err := srv.newClient(ctx)
	if err != nil {
		t.Fatalf("register a client at %s: %v", srv.name, err)
	}
	meta := mustMetadata(t, srv.issuer())
	count := &counter{tokenURL: meta.TokenEndpoint}
	f := &fixture{srv: srv, client: c, meta: meta, count: count}
	f.cfg = &authloop.Config{
		OAuth2: &oauth2.Config{
			ClientID:     c.ID,
			ClientSecret: c.Secret,
			Endpoint: oauth2.Endpoint{
				AuthURL:  meta.AuthorizationEndpoint,
				TokenURL: meta.TokenEndpoint,
			},
			Scopes: []string{"openid", "offline_access"},
		},
		Issuer:     meta.Issuer,
		HTTPClient: httpClient(count),
		Prompt:     io.Discard,
		// Long enough for a slow CI machine, short enough to fail a stuck test.
		LoginTimeout: time.Minute,
	}
	return f
}

// httpClient returns a client on the shared transport, counting token
// requests when count is not nil, following no redirects (as authloop's
// default client).
func httpClient(count *counter) *http.Client {
	var rt http.RoundTripper = transport
	if count != nil {
		count.next = transport
		rt = count
	}
	return &http.Client{
		Transport:     rt,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// counter is an http.RoundTripper that counts the requests to the token
// endpoint by grant_type.
type counter struct {
	tokenURL string
	next     http.RoundTripper
	mu       sync.Mutex
	grants   map[string]int
	inFlight atomic.Int32
	maxIn    atomic.Int32
}

func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasPrefix(req.URL.String(), c.tokenURL) && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		c.mu.Lock()
		if c.grants == nil {
			c.grants = map[string]int{}
		}
		c.grants[form.Get("grant_type")]++
		c.mu.Unlock()
		n := c.inFlight.Add(1)
		defer c.inFlight.Add(-1)
		for {
			m := c.maxIn.Load()
			if n <= m || c.maxIn.CompareAndSwap(m, n) {
				break
			}
		}
	}
	return c.next.RoundTrip(req)
}

// grant returns how many token requests of that grant_type were sent.
func (c *counter) grant(gt string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.grants[gt]
}

// loginHeadless runs authloop.Login with the headless browser as
// Config.Browser.
func loginHeadless(t *testing.T, cfg *authloop.Config) *oauth2.Token {
	t.Helper()
	tok, err := tryLoginHeadless(t, cfg)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	return tok
}

func tryLoginHeadless(t *testing.T, cfg *authloop.Config) (*oauth2.Token, error) {
	t.Helper()
	b := peers.NewHeadlessBrowser()
	defer b.CloseIdleConnections()
	c := *cfg
	c.Browser = b.Open
	tok, err := authloop.Login(t.Context(), &c)
	page, werr := b.Wait()
	if err == nil && werr != nil {
		t.Fatalf("Login succeeded but the headless browser failed: %v", werr)
	}
	if err == nil && !strings.Contains(page.Body, "<html") {
		t.Errorf("the browser's last page is not authloop's success page: %.200q", page.Body)
	}
	return tok, err
}

// newSession starts a Session for tok and closes it when the test ends.
func newSession(t *testing.T, cfg *authloop.Config, tok *oauth2.Token) *authloop.Session {
	t.Helper()
	s, err := authloop.NewSession(cfg, tok)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// userinfo calls the server's userinfo endpoint with an access token and
// returns the HTTP status and the sub claim.
func userinfo(ctx context.Context, f *fixture, accessToken string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.meta.UserinfoEndpoint, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var out struct {
		Sub string `json:"sub"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &out); err != nil {
			return resp.StatusCode, "", fmt.Errorf("userinfo: %w", err)
		}
	}
	return resp.StatusCode, out.Sub, nil
}

// mustUserinfo asserts that the access token works at the userinfo endpoint.
func mustUserinfo(t *testing.T, f *fixture, accessToken string) {
	t.Helper()
	status, sub, err := userinfo(t.Context(), f, accessToken)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK || sub == "" {
		t.Fatalf("userinfo with the access token %s: status %d, sub %q; want 200 and a subject", authloop.Fingerprint(accessToken), status, sub)
	}
}

// tokenError is the body of a token endpoint error.
type tokenError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

// rawRefresh sends one refresh request by hand, outside authloop, and
// returns the error response (nil on success).
func rawRefresh(ctx context.Context, f *fixture, refreshToken string) (*tokenError, error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
		"client_id":     {f.client.ID},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.meta.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode == http.StatusOK {
		return nil, nil
	}
	te := &tokenError{Status: resp.StatusCode}
	if err := json.Unmarshal(b, te); err != nil {
		return nil, fmt.Errorf("token endpoint answered %d with a body that is not JSON: %.200q", resp.StatusCode, b)
	}
	return te, nil
}

// jwtClaims decodes a JWT's payload without checking its signature: the
// tests only read what the server put there.
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("the access token is not a JWT (%d parts)", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	return claims
}

// audiences returns the aud claim as a list (it may be a string or an array).
func audiences(claims map[string]any) []string {
	switch v := claims["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, a := range v {
			if s, ok := a.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// wantLoginRequired asserts a clean ErrLoginRequired that wraps an
// *OAuthError with the code.
func wantLoginRequired(t *testing.T, err error, code string) {
	t.Helper()
	if !errors.Is(err, authloop.ErrLoginRequired) {
		t.Fatalf("err = %v; want errors.Is(err, authloop.ErrLoginRequired)", err)
	}
	var oe *authloop.OAuthError
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v; want it to wrap an *authloop.OAuthError", err)
	}
	if oe.Code != code {
		t.Fatalf("OAuthError code = %q (%v); want %q", oe.Code, oe, code)
	}
}
