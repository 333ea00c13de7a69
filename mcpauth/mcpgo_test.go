package mcpauth_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/mcpauth/mcpgo"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

func startMCPGo(ctx context.Context, t *testing.T, c *client.Client) {
	t.Helper()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = protocolVersion
	init.Params.ClientInfo = mcp.Implementation{Name: "mcpauth-test", Version: "1.0.0"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
}

func mcpGoTools(ctx context.Context, t *testing.T, c *client.Client) string {
	t.Helper()
	res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("ListTools: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func mcpGoEcho(ctx context.Context, c *client.Client, text string) error {
	var req mcp.CallToolRequest
	req.Params.Name = "echo"
	req.Params.Arguments = map[string]any{"text": text}
	_, err := c.CallTool(ctx, req)
	return err
}

// mark3labs/mcp-go's streamable HTTP client through mcpgo.StreamableHTTPOption:
// one login, refreshes mid-session without a refused request, and a restart
// on the same store without a login.
func TestMCPGoStreamableLifecycle(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	ctx := testContext(t)
	st := fileStore(t)

	s := f.session(f.mcpURL, st, true)
	c, err := client.NewStreamableHttpClient(f.mcpURL, mcpgo.StreamableHTTPOption(s))
	if err != nil {
		t.Fatal(err)
	}
	startMCPGo(ctx, t, c)
	if got := mcpGoTools(ctx, t, c); got != "add,echo" {
		t.Fatalf("tools = %s, want add,echo", got)
	}
	if n := f.as.Count("authorize"); n != 1 {
		t.Fatalf("authorize requests = %d, want 1", n)
	}
	refusedAfterLogin := f.refused.Load()
	for i := range 4 {
		f.clock.Advance(ttl + time.Second)
		if err := mcpGoEcho(ctx, c, "cycle"); err != nil {
			t.Fatalf("cycle %d: CallTool: %v", i, err)
		}
	}
	if got := f.refused.Load(); got != refusedAfterLogin {
		t.Errorf("the MCP server refused %d requests after the login; want none", got-refusedAfterLogin)
	}
	if n := refreshes(f.as); n < 4 {
		t.Errorf("refresh requests = %d, want at least 4", n)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	s2 := f.session(f.mcpURL, st, false)
	c2, err := client.NewStreamableHttpClient(f.mcpURL, mcpgo.StreamableHTTPOption(s2))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	startMCPGo(ctx, t, c2)
	mcpGoTools(ctx, t, c2)
	if n := f.as.Count("authorize"); n != 1 {
		t.Errorf("authorize requests after the restart = %d, want still 1", n)
	}
	if got := f.refused.Load(); got != refusedAfterLogin {
		t.Errorf("the MCP server refused %d requests after the restart; want none", got-refusedAfterLogin)
	}
}

// Concurrent mcp-go calls refused after the grant died share one login.
func TestMCPGoConcurrentRefusalsOneLogin(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	ctx := testContext(t)
	s := f.session(f.mcpURL, store.NewMemory(), true)
	c, err := client.NewStreamableHttpClient(f.mcpURL, mcpgo.StreamableHTTPOption(s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	startMCPGo(ctx, t, c)

	f.revokeThenCallConcurrently(t, func() error { return mcpGoEcho(ctx, c, "hello") })
}

// mcp-go's SSE transport through mcpgo.SSEOption: the event stream and the
// posted messages both carry the session's token.
func TestMCPGoSSE(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	ctx := testContext(t)
	s := f.session(f.sseURL, store.NewMemory(), true)
	c, err := client.NewSSEMCPClient(f.sseURL, mcpgo.SSEOption(s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	startMCPGo(ctx, t, c)
	if got := mcpGoTools(ctx, t, c); got != "add,echo" {
		t.Fatalf("tools = %s, want add,echo", got)
	}
	f.clock.Advance(ttl + time.Second)
	if err := mcpGoEcho(ctx, c, "after expiry"); err != nil {
		t.Fatalf("CallTool after expiry: %v", err)
	}
	if n := f.as.Count("authorize"); n != 1 {
		t.Errorf("authorize requests = %d, want 1", n)
	}
}

// A non-interactive session without a token: mcp-go's error wraps
// authloop.ErrLoginRequired.
func TestMCPGoLoginRequired(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	ctx := testContext(t)
	s := f.session(f.mcpURL, store.NewMemory(), false)
	c, err := client.NewStreamableHttpClient(f.mcpURL, mcpgo.StreamableHTTPOption(s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = protocolVersion
	_, err = c.Initialize(ctx, init)
	if err == nil {
		t.Fatal("Initialize succeeded without a token")
	}
	if !errorsIs(err, authloop.ErrLoginRequired) {
		t.Errorf("Initialize: %v; want an error wrapping authloop.ErrLoginRequired", err)
	}
}

// protocolVersion is the MCP revision the mcp-go clients ask for. mcp-go
// v1.2.1's latest (2026-07-28) is not one the go-sdk v1.8.0 server speaks,
// and mcp-go then fails on the server's answer; the go-sdk's latest is.
const protocolVersion = "2025-11-25"
