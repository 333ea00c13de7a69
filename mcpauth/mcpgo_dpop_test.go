package mcpauth_test

import (
	"testing"
	"time"

	"github.com/authloop/authloop/mcpauth"
	"github.com/authloop/authloop/mcpauth/mcpgo"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
	"github.com/mark3labs/mcp-go/client"
	gosdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// mark3labs/mcp-go's streamable HTTP client through
// mcpgo.StreamableHTTPOption sends DPoP-bound tokens as DPoP with a proof
// per request, against servers that require nonces (the MCP server its
// own, answered once per nonce), through a refresh, with one sign-in.
func TestMCPGoStreamableDPoP(t *testing.T) {
	f, g := newDPoPFixture(t, oauthtest.Config{DPoPNonce: true})
	g.setNonce("mcp-nonce")
	ctx := testContext(t)
	s := f.session(f.mcpURL, store.NewMemory(), true)
	c, err := client.NewStreamableHttpClient(f.mcpURL, mcpgo.StreamableHTTPOption(s))
	if err != nil {
		t.Fatal(err)
	}
	startMCPGo(ctx, t, c)
	if got := mcpGoTools(ctx, t, c); got != "add,echo" {
		t.Fatalf("tools = %s, want add,echo", got)
	}
	f.clock.Advance(ttl + time.Second)
	if err := mcpGoEcho(ctx, c, "after expiry"); err != nil {
		t.Fatalf("CallTool after expiry: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	g.check(t)
	checkBound(t, f, g, s)
	if served, ch, bearer := g.counts(); served < 4 || ch != 1 || bearer != 0 {
		t.Errorf("served %d requests with DPoP and %d with Bearer after %d nonce challenges; want at least 4, none, and 1", served, bearer, ch)
	}
	if n := f.as.Count("authorize"); n != 1 {
		t.Errorf("authorize requests = %d, want 1", n)
	}
}

// The SSE transports (the go-sdk's SSEClientTransport with HTTPClient, and
// mcp-go's through mcpgo.SSEOption) send the event stream's GET and every
// posted message with a DPoP proof for that request.
func TestSSEDPoP(t *testing.T) {
	t.Run("go-sdk", func(t *testing.T) {
		f, g := newDPoPFixture(t, oauthtest.Config{DPoP: true})
		ctx := testContext(t)
		s := f.session(f.sseURL, store.NewMemory(), true)
		cl := gosdk.NewClient(&gosdk.Implementation{Name: "mcpauth-test", Version: "1.0.0"}, nil)
		cs, err := cl.Connect(ctx, &gosdk.SSEClientTransport{Endpoint: f.sseURL, HTTPClient: mcpauth.HTTPClient(s, nil)}, nil)
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		listTools(ctx, t, cs)
		if err := callEcho(ctx, cs, "sse"); err != nil {
			t.Fatal(err)
		}
		if err := cs.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		g.check(t)
		checkBound(t, f, g, s)
	})
	t.Run("mcp-go", func(t *testing.T) {
		f, g := newDPoPFixture(t, oauthtest.Config{DPoP: true})
		ctx := testContext(t)
		s := f.session(f.sseURL, store.NewMemory(), true)
		c, err := client.NewSSEMCPClient(f.sseURL, mcpgo.SSEOption(s))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		startMCPGo(ctx, t, c)
		if err := mcpGoEcho(ctx, c, "sse"); err != nil {
			t.Fatal(err)
		}
		g.check(t)
		checkBound(t, f, g, s)
	})
}
