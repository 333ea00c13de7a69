package integration_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/integration/peers"
	"github.com/authloop/authloop/mcpauth"
	"github.com/authloop/authloop/store"
)

// mcpTokenTTL is the access token lifetime of the MCP test's client: short
// enough that tokens expire several times during the session.
const mcpTokenTTL = 6 * time.Second

// The MCP proof against a real authorization server: an MCP server built
// with the go-sdk (streamable HTTP behind auth.RequireBearerToken) on
// loopback names oidc-provider in its RFC 9728 metadata and accepts only
// oidc-provider's JWT access tokens for its own URL (signature by the
// provider's JWKS, iss, aud = the MCP URL, exp, scope mcp:tools). An
// authloop Session with only that URL as Resource (and DPoP off: the
// server takes bearer tokens), a file store and the
// headless browser (devInteractions' forms) connects through
// mcpauth.NewGoSDKHandler and lists tools: one login, started by the
// server's first 401. Then for longer than two token lifetimes the client
// lists tools every 200 ms while the tokens expire and are refreshed:
// not one request is refused. Then a "restart": the session is closed, its
// stored access token left to expire, and a new Session on the same store
// directory lists tools without a login and without a refusal.
func TestMCPGoSDKOIDCProvider(t *testing.T) {
	oidcServer.start(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("oidc-provider's log (tail):\n%s", tail(oidc.Output(), 3000))
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	meta := mustMetadata(t, oidc.Issuer)
	ms := startMCPServer(t, meta)

	// A client registered by the harness, with short-lived access tokens
	// (authloop_access_token_ttl); everything else authloop discovers from
	// the MCP server's 401 and metadata.
	client, err := oidc.NewShortLivedClient(ctx, mcpTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{next: transport}
	dir := filepath.Join(t.TempDir(), "store")
	var logins atomic.Int32 // browser invocations
	config := func(browser authloop.Browser) *authloop.Config {
		st, err := store.NewFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		return &authloop.Config{
			Resource:    ms.url,
			OAuth2:      &oauth2.Config{ClientID: client.ID},
			Store:       st,
			Interactive: true,
			// This MCP server (the go-sdk's auth.RequireBearerToken) takes
			// bearer tokens only, and oidc-provider offers DPoP: the
			// session asks for bearer tokens. TestDPoPMCPGoSDKOIDCProvider
			// is the DPoP-bound case.
			DPoP: authloop.DPoPOff,
			Browser: func(ctx context.Context, u string) error {
				logins.Add(1)
				return browser(ctx, u)
			},
			HTTPClient: &http.Client{
				Transport:     rec,
				Timeout:       30 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			},
			Prompt:       io.Discard,
			LoginTimeout: time.Minute,
		}
	}
	clientTransport := transport.Clone()
	t.Cleanup(clientTransport.CloseIdleConnections)
	failed := &failureCounter{next: clientTransport}
	connect := func(s *authloop.Session) *mcp.ClientSession {
		t.Helper()
		c := mcp.NewClient(&mcp.Implementation{Name: "authloop-integration", Version: "1.0.0"}, nil)
		cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{
			Endpoint:     ms.url,
			HTTPClient:   &http.Client{Transport: failed},
			OAuthHandler: mcpauth.NewGoSDKHandler(s),
		}, nil)
		if err != nil {
			t.Fatalf("Connect: %v\nauthloop's requests: %s", err, rec.summary())
		}
		return cs
	}
	listTools := func(cs *mcp.ClientSession) error {
		res, err := cs.ListTools(ctx, nil)
		if err != nil {
			return err
		}
		if len(res.Tools) != 1 || res.Tools[0].Name != "echo" {
			return fmt.Errorf("tools %v; want [echo]", res.Tools)
		}
		return nil
	}

	// First run: the first request goes without a token, the 401 starts
	// the login in the headless browser.
	b := peers.NewHeadlessBrowser()
	defer b.CloseIdleConnections()
	s1, err := authloop.NewSession(config(b.Open), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	cs1 := connect(s1)
	defer cs1.Close()
	if _, werr := b.Wait(); werr != nil {
		t.Fatalf("the headless browser: %v", werr)
	}
	if err := listTools(cs1); err != nil {
		t.Fatalf("ListTools after the login: %v", err)
	}
	if n := logins.Load(); n != 1 {
		t.Fatalf("%d logins; want 1", n)
	}
	if n := ms.refusedWithout.Load(); n != 1 {
		t.Errorf("%d requests without a token refused; want 1 (the first, which names the metadata)", n)
	}
	first := s1.Cached()
	if first == nil {
		t.Fatal("the session holds no token after the login")
	}
	claims := jwtClaims(t, first.AccessToken)
	if aud := audiences(claims); !slices.Equal(aud, []string{ms.url}) {
		t.Fatalf("the access token's aud = %q; want [%q]", aud, ms.url)
	}
	if lt := time.Until(first.Expiry); lt > mcpTokenTTL+time.Second {
		t.Fatalf("the access token lives %v; want at most %v", lt.Round(time.Second), mcpTokenTTL)
	}

	// The session, across several token lifetimes.
	calls := 0
	start := time.Now()
	for time.Since(start) < 2*mcpTokenTTL+3*time.Second {
		if err := listTools(cs1); err != nil {
			t.Fatalf("ListTools %d, %v into the session: %v", calls+1, time.Since(start).Round(time.Millisecond), err)
		}
		calls++
		time.Sleep(200 * time.Millisecond)
	}
	refreshes1 := rec.grants()["refresh_token"]
	t.Logf("session: %d ListTools in %v with %v access tokens: %d refreshes, %d distinct access tokens accepted by the MCP server, %d refused with a token, %d failed responses at the client",
		calls, time.Since(start).Round(time.Millisecond), mcpTokenTTL, refreshes1, ms.distinctTokens(), ms.refusedWith.Load(), failed.count())
	if refreshes1 < 2 {
		t.Errorf("%d refreshes in %v of %v tokens; want at least 2", refreshes1, time.Since(start).Round(time.Second), mcpTokenTTL)
	}
	if n := ms.distinctTokens(); n < 3 {
		t.Errorf("the MCP server accepted %d distinct access tokens; want at least 3 (the login's and two refreshed)", n)
	}
	if n := ms.refusedWith.Load(); n != 0 {
		t.Errorf("the MCP server refused %d requests that carried a token; want 0", n)
	}
	if n := ms.refusedWithout.Load(); n != 1 {
		t.Errorf("the MCP server refused %d requests without a token; want only the first", n)
	}
	if err := cs1.Close(); err != nil {
		t.Fatalf("Close the MCP session: %v", err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	// The restart: a new Session on the same store directory, once the
	// stored access token has expired.
	kept, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec1, err := kept.Load(ctx, s1.Key())
	if err != nil {
		t.Fatalf("the stored session: %v", err)
	}
	if wait := time.Until(rec1.Token.Expiry) + 500*time.Millisecond; wait > 0 {
		time.Sleep(wait)
	}
	s2, err := authloop.NewSession(config(func(context.Context, string) error {
		return authloop.ErrNoBrowser
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	cs2 := connect(s2)
	defer cs2.Close()
	for i := range 3 {
		if err := listTools(cs2); err != nil {
			t.Fatalf("ListTools %d after the restart: %v", i+1, err)
		}
	}
	g := rec.grants()
	t.Logf("restart: %d logins in all, %d code exchanges, %d refreshes after the restart, %d refused with a token, %d without",
		logins.Load(), g["authorization_code"], g["refresh_token"]-refreshes1, ms.refusedWith.Load(), ms.refusedWithout.Load())
	if n := logins.Load(); n != 1 {
		t.Errorf("%d logins after the restart; want still 1", n)
	}
	if g["authorization_code"] != 1 {
		t.Errorf("%d code exchanges; want 1", g["authorization_code"])
	}
	if g["refresh_token"] <= refreshes1 {
		t.Errorf("no refresh after the restart with an expired stored token (%d before, %d after)", refreshes1, g["refresh_token"])
	}
	if n := ms.refusedWith.Load() + ms.refusedWithout.Load(); n != 1 {
		t.Errorf("the MCP server refused %d requests in all; want only the first run's first", n)
	}
	if err := cs2.Close(); err != nil {
		t.Fatalf("Close the MCP session: %v", err)
	}
	if seen := failed.list(); len(seen) != 1 {
		t.Errorf("the MCP client saw %d failed responses %q; want 1 (the first 401)", len(seen), seen)
	}

	// The provider knows loopback MCP servers only at /mcp: another path
	// on loopback is still an unknown resource.
	f := newFixture(t, oidcServer)
	f.cfg.Resource = "http://127.0.0.1:1/other"
	_, err = tryLoginHeadless(t, f.cfg)
	var oe *authloop.OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_target" {
		t.Errorf("login for a loopback resource outside /mcp: %v; want invalid_target", err)
	}
}

// mcpServer is a go-sdk MCP server on loopback that accepts oidc-provider's
// access tokens for its URL.
type mcpServer struct {
	url    string
	issuer string
	jwks   string

	keysMu sync.Mutex
	keys   map[string]*rsa.PublicKey

	refusedWith    atomic.Int32 // 401s and 403s to requests with a token
	refusedWithout atomic.Int32 // 401s to requests without one
	tokensMu       sync.Mutex
	tokens         map[string]bool // access tokens accepted
}

func startMCPServer(t *testing.T, meta *discovery.AuthServerMetadata) *mcpServer {
	t.Helper()
	if meta.JWKSURI == "" {
		t.Fatal("oidc-provider's metadata has no jwks_uri")
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "authloop-integration-mcp", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "Says the text back."},
		func(_ context.Context, _ *mcp.CallToolRequest, in struct {
			Text string `json:"text"`
		}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
		})
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ms := &mcpServer{
		url:    srv.URL + "/mcp",
		issuer: meta.Issuer,
		jwks:   meta.JWKSURI,
		keys:   map[string]*rsa.PublicKey{},
		tokens: map[string]bool{},
	}
	prmURL := srv.URL + "/.well-known/oauth-protected-resource/mcp"
	bearer := auth.RequireBearerToken(ms.verify, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: prmURL,
		Scopes:              []string{"mcp:tools"},
	})
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	mux.Handle("/mcp", ms.counting(bearer(handler)))
	mux.Handle("/.well-known/oauth-protected-resource/mcp", auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource:             ms.url,
		AuthorizationServers: []string{meta.Issuer},
		ScopesSupported:      []string{"mcp:tools"},
	}))
	return ms
}

// verify is the MCP server's token check: an RS256 JWT signed by one of
// oidc-provider's keys, issued by it, for this server, not expired.
func (ms *mcpServer) verify(ctx context.Context, tok string, _ *http.Request) (*auth.TokenInfo, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: not a JWT", auth.ErrInvalidToken)
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(parts[0], &header); err != nil || header.Alg != "RS256" {
		return nil, fmt.Errorf("%w: header %+v: %v", auth.ErrInvalidToken, header, err)
	}
	key, err := ms.key(ctx, header.Kid)
	if err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", auth.ErrInvalidToken, err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", auth.ErrInvalidToken, err)
	}
	var claims struct {
		Iss   string          `json:"iss"`
		Aud   json.RawMessage `json:"aud"`
		Exp   int64           `json:"exp"`
		Scope string          `json:"scope"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", auth.ErrInvalidToken, err)
	}
	var aud []string
	if json.Unmarshal(claims.Aud, &aud) != nil {
		var one string
		_ = json.Unmarshal(claims.Aud, &one)
		aud = []string{one}
	}
	exp := time.Unix(claims.Exp, 0)
	switch {
	case claims.Iss != ms.issuer:
		return nil, fmt.Errorf("%w: iss %q", auth.ErrInvalidToken, claims.Iss)
	case !slices.Equal(aud, []string{ms.url}):
		return nil, fmt.Errorf("%w: aud %q", auth.ErrInvalidToken, aud)
	case claims.Exp == 0 || !time.Now().Before(exp):
		return nil, fmt.Errorf("%w: expired at %v", auth.ErrInvalidToken, exp)
	}
	ms.tokensMu.Lock()
	ms.tokens[tok] = true
	ms.tokensMu.Unlock()
	return &auth.TokenInfo{Scopes: strings.Fields(claims.Scope), Expiration: exp}, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// key returns oidc-provider's signing key kid, fetching its JWKS when the
// key is not known yet.
func (ms *mcpServer) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	ms.keysMu.Lock()
	defer ms.keysMu.Unlock()
	if k := ms.keys[kid]; k != nil {
		return k, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ms.jwks, nil)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	for _, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("JWKS key %s: %w", k.Kid, err)
		}
		ms.keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	if k := ms.keys[kid]; k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w: unknown key %q", auth.ErrInvalidToken, kid)
}

// counting counts the refusals, by whether the request carried a token.
func (ms *mcpServer) counting(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusUnauthorized || rec.status == http.StatusForbidden {
			if r.Header.Get("Authorization") != "" {
				ms.refusedWith.Add(1)
			} else {
				ms.refusedWithout.Add(1)
			}
		}
	})
}

func (ms *mcpServer) distinctTokens() int {
	ms.tokensMu.Lock()
	defer ms.tokensMu.Unlock()
	return len(ms.tokens)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush keeps the streamable handler streaming.
func (r *statusRecorder) Flush() {
	if fl, ok := r.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// failureCounter is the MCP client's transport: it counts the responses
// of 400 and above, and the requests that got no response.
type failureCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (f *failureCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := f.next.RoundTrip(req)
	switch {
	case err != nil && req.Context().Err() == nil:
		f.note(req.Method + " " + err.Error())
	case err == nil && resp.StatusCode >= 400:
		f.note(req.Method + " " + resp.Status)
	}
	return resp, err
}

func (f *failureCounter) note(s string) {
	f.mu.Lock()
	f.seen = append(f.seen, s)
	f.mu.Unlock()
}

func (f *failureCounter) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

func (f *failureCounter) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.seen)
}
