package mcpauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/mcpauth"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// connectGoSDK connects a go-sdk client to the fixture's streamable HTTP
// endpoint through NewGoSDKHandler.
func connectGoSDK(ctx context.Context, t *testing.T, f *fixture, s *authloop.Session) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpauth-test", Version: "1.0.0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:     f.mcpURL,
		OAuthHandler: mcpauth.NewGoSDKHandler(s),
	}, nil)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return cs
}

func listTools(ctx context.Context, t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("ListTools: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	return names
}

func callEcho(ctx context.Context, cs *mcp.ClientSession, text string) error {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
	if err != nil {
		return err
	}
	if res.IsError || len(res.Content) != 1 || res.Content[0].(*mcp.TextContent).Text != text {
		return errors.New("unexpected echo result")
	}
	return nil
}

// The whole life of an MCP client on the go-sdk: the first connection signs
// in once (the server's 401 names its metadata), the access token expires
// several times during the session and is refreshed before any request
// fails, and a new process on the same store resumes without signing in.
func TestGoSDKSessionLifecycle(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	ctx := testContext(t)
	st := fileStore(t)

	s := f.session(f.mcpURL, st, true)
	cs := connectGoSDK(ctx, t, f, s)
	if got := listTools(ctx, t, cs); strings.Join(got, ",") != "add,echo" {
		t.Fatalf("tools = %v, want add,echo", got)
	}
	if n := f.as.Count("authorize"); n != 1 {
		t.Fatalf("authorize requests = %d, want 1", n)
	}
	// The very first request went without a token: that is how the client
	// learns where to sign in. Every request after it must pass.
	refusedAfterLogin := f.refused.Load()
	if refusedAfterLogin != 1 {
		t.Errorf("refusals before the login = %d, want 1 (the first request, without a token)", refusedAfterLogin)
	}

	for i := range 4 {
		f.clock.Advance(ttl + time.Second)
		if err := callEcho(ctx, cs, "cycle"); err != nil {
			t.Fatalf("cycle %d: CallTool: %v", i, err)
		}
		listTools(ctx, t, cs)
	}
	if got := f.refused.Load(); got != refusedAfterLogin {
		t.Errorf("the MCP server refused %d requests after the login; want none", got-refusedAfterLogin)
	}
	if n := refreshes(f.as); n < 4 {
		t.Errorf("refresh requests = %d, want at least 4", n)
	}
	if err := cs.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A restart: a new session on the same store.
	s2 := f.session(f.mcpURL, st, false)
	cs2 := connectGoSDK(ctx, t, f, s2)
	listTools(ctx, t, cs2)
	f.clock.Advance(ttl + time.Second)
	if err := callEcho(ctx, cs2, "after restart"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if n := f.as.Count("authorize"); n != 1 {
		t.Errorf("authorize requests after the restart = %d, want still 1", n)
	}
	if got := f.refused.Load(); got != refusedAfterLogin {
		t.Errorf("the MCP server refused %d requests after the restart; want none", got-refusedAfterLogin)
	}
	if err := cs2.Close(); err != nil {
		t.Fatal(err)
	}
}

func refreshes(as *oauthtest.Server) int {
	n := 0
	for _, r := range as.Requests() {
		if r.Endpoint == "token" && r.GrantType == "refresh_token" && r.Status == 200 {
			n++
		}
	}
	return n
}

// When the grant dies at the server, every request refused at once shares
// one new login: one browser window, not one per request.
func TestGoSDKConcurrentRefusalsOneLogin(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	ctx := testContext(t)
	s := f.session(f.mcpURL, store.NewMemory(), true)
	cs := connectGoSDK(ctx, t, f, s)
	defer cs.Close()
	listTools(ctx, t, cs)

	f.revokeThenCallConcurrently(t, func() error { return callEcho(ctx, cs, "hello") })
}

// A 403 insufficient_scope (step-up) gets a new authorization asking for
// the scopes held and the ones challenged, and the call then succeeds.
func TestGoSDKStepUp(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	f.writeScope = "write"
	ctx := testContext(t)
	s := f.session(f.mcpURL, store.NewMemory(), true)
	cs := connectGoSDK(ctx, t, f, s)
	defer cs.Close()
	listTools(ctx, t, cs)
	if err := callEcho(ctx, cs, "needs write"); err != nil {
		t.Fatalf("CallTool after step-up: %v", err)
	}
	if n := f.as.Count("authorize"); n != 2 {
		t.Fatalf("authorize requests = %d, want 2", n)
	}
	first, second := f.requestedScopes(0), f.requestedScopes(1)
	if contains(first, "write") {
		t.Errorf("first authorization asked for %v; write was not challenged yet", first)
	}
	for _, want := range []string{"read", "write"} {
		if !contains(second, want) {
			t.Errorf("step-up authorization asked for %v, want %q among them", second, want)
		}
	}
	// The step-up is kept: more calls need no new authorization.
	for range 3 {
		if err := callEcho(ctx, cs, "again"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.as.Count("authorize"); n != 2 {
		t.Errorf("authorize requests = %d after more calls, want still 2", n)
	}
}

// A session that may not sign in, and holds no token, fails the connection
// with an error that says a login is required.
func TestGoSDKLoginRequired(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	ctx := testContext(t)
	s := f.session(f.mcpURL, store.NewMemory(), false)
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpauth-test", Version: "1.0.0"}, nil)
	_, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:     f.mcpURL,
		OAuthHandler: mcpauth.NewGoSDKHandler(s),
	}, nil)
	if err == nil {
		t.Fatal("Connect succeeded without a token")
	}
	if !errors.Is(err, authloop.ErrLoginRequired) && !strings.Contains(err.Error(), "login required") {
		t.Errorf("Connect: %v; want an error saying a login is required", err)
	}
	if n := f.as.Count("authorize"); n != 0 {
		t.Errorf("authorize requests = %d, want 0", n)
	}
}

// With only the MCP server's URL (no client id), the session registers a
// client (RFC 7591) at the authorization server its metadata names, once:
// a restarted process reuses the registration and the tokens.
func TestGoSDKDynamicRegistration(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	ctx := testContext(t)
	st := fileStore(t)
	for run := 1; run <= 2; run++ {
		cfg := f.config(f.mcpURL, st, run == 1)
		cfg.OAuth2.ClientID = ""
		s, err := authloop.NewSession(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		cs := connectGoSDK(ctx, t, f, s)
		if got := listTools(ctx, t, cs); len(got) != 2 {
			t.Fatalf("run %d: tools = %v", run, got)
		}
		f.clock.Advance(ttl + time.Second)
		if err := callEcho(ctx, cs, "registered"); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		cs.Close()
		s.Close()
		if n := f.as.Count("register"); n != 1 {
			t.Errorf("run %d: register requests = %d, want 1", run, n)
		}
		if n := f.as.Count("authorize"); n != 1 {
			t.Errorf("run %d: authorize requests = %d, want 1", run, n)
		}
	}
}
