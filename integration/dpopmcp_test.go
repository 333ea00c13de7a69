package integration_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/integration/peers"
	"github.com/authloop/authloop/mcpauth"
	"github.com/authloop/authloop/store"
)

// TestDPoPMCPGoSDKOIDCProvider: a go-sdk MCP server behind a resource server
// that takes only DPoP-bound tokens from oidc-provider (dpopResource: the
// proof, its jti, and cnf.jkt), and an authloop Session given only the
// server's URL, connected by the go-sdk's streamable client transport in
// the two ways mcpauth offers: its HTTPClient (authloop's Transport), and
// NewGoSDKHandler as the transport's OAuthHandler. Either way the first
// request's 401 starts one sign-in, which binds the tokens to the session's
// key (oidc-provider offers ES256), and then the client lists and calls the
// tools with "Authorization: DPoP" and a fresh proof per request.
//
// The go-sdk writes "Authorization: Bearer " + the token its OAuthHandler's
// TokenSource gives (mcp/streamable.go), so the handler goes with
// mcpauth.HTTPClient, which sends the DPoP header over it; the handler
// alone fails at once with mcpauth.ErrDPoPNeedsHTTPClient, naming that
// fix, and nothing is refreshed.
func TestDPoPMCPGoSDKOIDCProvider(t *testing.T) {
	oidcServer.start(t)
	meta := mustMetadata(t, oidc.Issuer)
	for _, route := range []string{"HTTPClient", "OAuthHandler and HTTPClient", "OAuthHandler alone"} {
		t.Run(route, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			server := mcp.NewServer(&mcp.Implementation{Name: "authloop-integration-dpop-mcp", Version: "1.0.0"}, nil)
			mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "Says the text back."},
				func(_ context.Context, _ *mcp.CallToolRequest, in struct {
					Text string `json:"text"`
				}) (*mcp.CallToolResult, any, error) {
					return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
				})
			rs := startDPoPResourceFor(t, meta, false,
				mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
			client, err := oidc.NewPublicClient(ctx)
			if err != nil {
				t.Fatal(err)
			}
			st, err := store.NewFile(filepath.Join(t.TempDir(), "store"))
			if err != nil {
				t.Fatal(err)
			}
			tap := &dpopTap{tokenURL: meta.TokenEndpoint, next: transport}
			b := peers.NewHeadlessBrowser()
			defer b.CloseIdleConnections()
			s := newSession(t, &authloop.Config{
				Resource:     rs.url,
				OAuth2:       &oauth2.Config{ClientID: client.ID},
				Store:        st,
				Interactive:  true,
				Browser:      b.Open,
				HTTPClient:   tapClient(tap),
				Prompt:       io.Discard,
				LoginTimeout: time.Minute,
			}, nil)
			ct := &mcp.StreamableClientTransport{Endpoint: rs.url}
			switch route {
			case "HTTPClient":
				ct.HTTPClient = mcpauth.HTTPClient(s, transport)
			case "OAuthHandler and HTTPClient":
				ct.HTTPClient = mcpauth.HTTPClient(s, transport)
				ct.OAuthHandler = mcpauth.NewGoSDKHandler(s)
			case "OAuthHandler alone":
				ct.HTTPClient = &http.Client{Transport: transport}
				ct.OAuthHandler = mcpauth.NewGoSDKHandler(s)
			}
			c := mcp.NewClient(&mcp.Implementation{Name: "authloop-integration", Version: "1.0.0"}, nil)
			cs, err := c.Connect(ctx, ct, nil)
			b.Wait()
			if route == "OAuthHandler alone" {
				if !errors.Is(err, mcpauth.ErrDPoPNeedsHTTPClient) {
					t.Fatalf("Connect through the go-sdk handler alone with a DPoP session: %v; want mcpauth.ErrDPoPNeedsHTTPClient", err)
				}
				refreshes := 0
				for _, e := range tap.all() {
					if e.grant == "refresh_token" {
						refreshes++
					}
				}
				if n := refreshes; n != 0 {
					t.Errorf("%d refreshes; the handler alone must not refresh for a binding it cannot send", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Connect through %s: %v\nthe resource server refused: %v\ntoken: %v\ntoken requests: %v",
					route, err, rs.refusals(), tokenTypeOf(s), tap.all())
			}
			defer cs.Close()
			for i := range 3 {
				res, err := cs.ListTools(ctx, nil)
				if err != nil {
					t.Fatalf("ListTools %d: %v\nthe resource server refused: %v", i+1, err, rs.refusals())
				}
				if len(res.Tools) != 1 {
					t.Fatalf("tools %v; want [echo]", res.Tools)
				}
				if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}}); err != nil {
					t.Fatalf("CallTool %d: %v\nthe resource server refused: %v", i+1, err, rs.refusals())
				}
			}
			if _, err := s.Refresh(ctx); err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if _, err := cs.ListTools(ctx, nil); err != nil {
				t.Fatalf("ListTools after a refresh: %v\nthe resource server refused: %v", err, rs.refusals())
			}
			tok := s.Cached()
			wantBound(t, route, tok, s.DPoPThumbprint(), rs.url)
			if got := rs.refusals(); len(got) != 1 || got["no access token"] != 1 {
				t.Errorf("the resource server refused %v; want only the first request, without a token", got)
			}
			rs.mu.Lock()
			accepted, keys := rs.accepted, len(rs.jkts)
			rs.mu.Unlock()
			if keys != 1 {
				t.Errorf("%d keys proved at the resource server; want 1", keys)
			}
			t.Logf("%s: %d requests accepted with DPoP proofs of one key, token requests %v", route, accepted, tap.all())
		})
	}
}

// tokenTypeOf says which kind of token the session holds, for messages.
func tokenTypeOf(s *authloop.Session) string {
	if tok := s.Cached(); tok != nil {
		return "token_type " + tok.TokenType + ", key " + s.DPoPThumbprint()
	}
	return "none"
}
