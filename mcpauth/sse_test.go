package mcpauth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/authloop/authloop/mcpauth"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// The go-sdk's SSE transport has no OAuthHandler: mcpauth.HTTPClient is its
// route, for the event stream and the posted messages alike.
func TestGoSDKSSE(t *testing.T) {
	f := newFixture(t, oauthtest.Config{})
	ctx := testContext(t)
	s := f.session(f.sseURL, store.NewMemory(), true)
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpauth-test", Version: "1.0.0"}, nil)
	cs, err := client.Connect(ctx, &mcp.SSEClientTransport{
		Endpoint:   f.sseURL,
		HTTPClient: mcpauth.HTTPClient(s, nil),
	}, nil)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer cs.Close()
	listTools(ctx, t, cs)
	refused := f.refused.Load()
	for range 3 {
		f.clock.Advance(ttl + time.Second)
		if err := callEcho(ctx, cs, "sse"); err != nil {
			t.Fatalf("CallTool: %v", err)
		}
	}
	if got := f.refused.Load(); got != refused {
		t.Errorf("the MCP server refused %d requests after the login; want none", got-refused)
	}
	if n := f.as.Count("authorize"); n != 1 {
		t.Errorf("authorize requests = %d, want 1", n)
	}
}
