package mcpauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
)

// fixture is an OAuth-protected MCP server built with the go-sdk: an
// oauthtest authorization server issues JWT access tokens, the MCP server
// (streamable HTTP at /mcp, SSE at /sse) checks them with
// oauthtest.Server.ValidAccessToken, and serves its RFC 9728 metadata
// naming the authorization server. Both share one fake clock with the
// sessions under test.
type fixture struct {
	t      *testing.T
	as     *oauthtest.Server
	clock  *oauthtest.FakeClock
	srv    *httptest.Server
	mcpURL string
	sseURL string

	// writeScope, when set, is a scope that tools/call needs: a token
	// without it gets 403 insufficient_scope (a step-up).
	writeScope string

	refused  atomic.Int32 // 401 and 403 answers of the MCP server
	accepted atomic.Int32 // requests that passed the token check

	mu      sync.Mutex
	authURL []string // authorization URLs the browser was sent to
}

const ttl = 10 * time.Minute

func newFixture(t *testing.T, cfg oauthtest.Config) *fixture {
	t.Helper()
	return newGatedFixture(t, cfg, nil)
}

// newGatedFixture is newFixture with gate, when not nil, in front of the
// MCP endpoints instead of the go-sdk's bearer token check (and the
// step-up): gate(h) checks a request's authorization and hands it to h.
func newGatedFixture(t *testing.T, cfg oauthtest.Config, gate func(http.Handler) http.Handler) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: oauthtest.NewFakeClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))}
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = ttl
	}
	cfg.Clock = f.clock
	cfg.JWTAccessTokens = true
	f.as = oauthtest.NewServer(cfg)
	t.Cleanup(f.as.Close)

	server := newMCPServer()
	get := func(*http.Request) *mcp.Server { return server }

	mux := http.NewServeMux()
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.mcpURL = f.srv.URL + "/mcp"
	f.sseURL = f.srv.URL + "/sse"
	prmURL := f.srv.URL + "/.well-known/oauth-protected-resource/mcp"

	if gate == nil {
		bearer := auth.RequireBearerToken(f.verify, &auth.RequireBearerTokenOptions{ResourceMetadataURL: prmURL})
		mux.Handle("/mcp", f.counting(f.stepUp(prmURL, bearer(mcp.NewStreamableHTTPHandler(get, nil)))))
		mux.Handle("/sse", f.counting(bearer(mcp.NewSSEHandler(get, nil))))
	} else {
		mux.Handle("/mcp", f.counting(gate(mcp.NewStreamableHTTPHandler(get, nil))))
		mux.Handle("/sse", f.counting(gate(mcp.NewSSEHandler(get, nil))))
	}
	mux.Handle("/.well-known/oauth-protected-resource/mcp", auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource:             f.mcpURL,
		AuthorizationServers: []string{f.as.Issuer()},
		ScopesSupported:      []string{"read", "offline_access"},
	}))
	// The SSE endpoint is another resource (/sse): its well-known URL.
	mux.Handle("/.well-known/oauth-protected-resource/sse", auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource:             f.sseURL,
		AuthorizationServers: []string{f.as.Issuer()},
		ScopesSupported:      []string{"read", "offline_access"},
	}))
	return f
}

// newMCPServer is the fixture's MCP server: the tools echo and add.
func newMCPServer() *mcp.Server {
	server := mcp.NewServer(&mcp.Implementation{Name: "fixture", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "Says the text back."},
		func(_ context.Context, _ *mcp.CallToolRequest, in struct {
			Text string `json:"text"`
		}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
		})
	mcp.AddTool(server, &mcp.Tool{Name: "add", Description: "Adds two numbers."},
		func(_ context.Context, _ *mcp.CallToolRequest, in struct{ A, B int }) (*mcp.CallToolResult, struct{ Sum int }, error) {
			return nil, struct{ Sum int }{in.A + in.B}, nil
		})
	return server
}

// verify is the MCP server's token check.
func (f *fixture) verify(_ context.Context, tok string, _ *http.Request) (*auth.TokenInfo, error) {
	if !f.as.ValidAccessToken(tok) {
		return nil, auth.ErrInvalidToken
	}
	// The go-sdk checks Expiration against the real clock; oauthtest has
	// already checked it against the fake one.
	return &auth.TokenInfo{Scopes: jwtScopes(tok), Expiration: time.Now().Add(time.Hour)}, nil
}

// counting counts the MCP server's refusals and acceptances.
func (f *fixture) counting(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusUnauthorized, http.StatusForbidden:
			f.refused.Add(1)
		default:
			f.accepted.Add(1)
		}
	})
}

// stepUp answers a tools/call whose valid token lacks f.writeScope with
// 403 insufficient_scope, as an MCP server with per-tool scopes does.
func (f *fixture) stepUp(prmURL string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.writeScope == "" || r.Method != http.MethodPost {
			h.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var msg struct{ Method string }
		_ = json.Unmarshal(body, &msg)
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if msg.Method == "tools/call" && f.as.ValidAccessToken(tok) && !contains(jwtScopes(tok), f.writeScope) {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="read `+f.writeScope+`", resource_metadata="`+prmURL+`"`)
			http.Error(w, "insufficient scope", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
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

// Flush keeps the SSE and streamable handlers streaming.
func (r *statusRecorder) Flush() {
	if fl, ok := r.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// jwtScopes reads the scope claim of an oauthtest JWT access token (its
// signature was checked by ValidAccessToken).
func jwtScopes(tok string) []string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var claims struct {
		Scope string `json:"scope"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return nil
	}
	return strings.Fields(claims.Scope)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// browser plays the person: it approves every authorization URL.
func (f *fixture) browser(ctx context.Context, u string) error {
	f.mu.Lock()
	f.authURL = append(f.authURL, u)
	f.mu.Unlock()
	_, _, err := oauthtest.Browse(context.WithoutCancel(ctx), nil, u)
	return err
}

// requestedScopes returns the scope parameter of the n-th authorization URL.
func (f *fixture) requestedScopes(n int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n >= len(f.authURL) {
		return nil
	}
	u, err := url.Parse(f.authURL[n])
	if err != nil {
		return nil
	}
	return strings.Fields(u.Query().Get("scope"))
}

// config is a session configuration for the MCP server at resource with
// only its URL and the test client's id: the rest is discovered.
func (f *fixture) config(resource string, st store.Store, interactive bool) *authloop.Config {
	return &authloop.Config{
		Resource:    resource,
		OAuth2:      &oauth2.Config{ClientID: oauthtest.DefaultClientID},
		Store:       st,
		Interactive: interactive,
		Browser:     f.browser,
		Prompt:      io.Discard,
		Clock:       f.clock,
	}
}

func (f *fixture) session(resource string, st store.Store, interactive bool) *authloop.Session {
	f.t.Helper()
	s, err := authloop.NewSession(f.config(resource, st, interactive), nil)
	if err != nil {
		f.t.Fatalf("NewSession: %v", err)
	}
	f.t.Cleanup(func() { _ = s.Close() })
	return s
}

func fileStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.NewFile(filepath.Join(t.TempDir(), "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// revokeThenCallConcurrently revokes every grant at the authorization
// server, makes 16 calls at once, and checks that all succeed after one
// shared new login: one browser window, not one per refused request.
func (f *fixture) revokeThenCallConcurrently(t *testing.T, call func() error) {
	t.Helper()
	f.as.RevokeAll()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			if err := call(); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("CallTool: %v", err)
	}
	if n := f.as.Count("authorize"); n != 2 {
		t.Errorf("authorize requests = %d, want 2 (the first login and one after the revocation)", n)
	}
}
