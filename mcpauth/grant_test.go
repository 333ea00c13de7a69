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
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
)

// A program's session (issue 18: a Grant, no person) through both go-sdk
// routes: the MCP server's 401 names its metadata, the session finds the
// authorization server there and runs its grant (no browser), and the
// token is obtained again before each expiry without one refused MCP
// request.
func TestGoSDKProgramSessions(t *testing.T) {
	platform := oauthtest.NewAssertionIssuer("https://token.actions.example")
	for _, c := range []struct {
		name      string
		grantType string
		grant     func(f *fixture) authloop.Grant
		secret    string
	}{
		{"client credentials", "client_credentials", func(*fixture) authloop.Grant { return authloop.ClientCredentials() }, "ci-secret"},
		{"workload JWT bearer", oauthtest.JWTBearerGrantType, func(f *fixture) authloop.Grant {
			return authloop.JWTBearer(func(context.Context) (string, error) {
				return platform.Sign(platform.Claims("repo:acme/app", f.as.Issuer(), f.clock.Now(), 5*time.Minute)), nil
			})
		}, ""},
	} {
		for _, route := range []string{"OAuthHandler", "HTTPClient"} {
			t.Run(c.name+" via "+route, func(t *testing.T) {
				f := newFixture(t, oauthtest.Config{
					Clients:        []oauthtest.Client{{ID: "ci", Secret: c.secret}},
					TrustedIssuers: []oauthtest.TrustedIssuer{platform.Trusted()},
				})
				ctx := testContext(t)
				s, err := authloop.NewSession(&authloop.Config{
					Resource: f.mcpURL,
					OAuth2:   &oauth2.Config{ClientID: "ci", ClientSecret: c.secret},
					Grant:    c.grant(f),
					Store:    fileStore(t),
					Clock:    f.clock,
					Browser: func(context.Context, string) error {
						t.Error("a program's session opened a browser")
						return errors.New("no browser")
					},
				}, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				tr := &mcp.StreamableClientTransport{Endpoint: f.mcpURL}
				if route == "OAuthHandler" {
					tr.OAuthHandler = mcpauth.NewGoSDKHandler(s)
				} else {
					tr.HTTPClient = mcpauth.HTTPClient(s, nil)
				}
				cs, err := mcp.NewClient(&mcp.Implementation{Name: "ci-job", Version: "1.0.0"}, nil).Connect(ctx, tr, nil)
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				defer cs.Close()
				if got := listTools(ctx, t, cs); strings.Join(got, ",") != "add,echo" {
					t.Fatalf("tools = %v", got)
				}
				refused := f.refused.Load()
				for i := range 4 {
					f.clock.Advance(ttl + time.Second)
					if err := callEcho(ctx, cs, "cycle"); err != nil {
						t.Fatalf("cycle %d: %v", i, err)
					}
				}
				if got := f.refused.Load(); got != refused || refused > 1 {
					t.Errorf("the MCP server refused %d requests (want at most the first, without a token)", got)
				}
				if got := f.as.CountGrant(c.grantType); got != 5 {
					t.Errorf("%d %s requests, want 5 (the first and one per expiry)", got, c.grantType)
				}
				if n := f.as.Count("authorize") + f.as.CountGrant("refresh_token"); n != 0 {
					t.Errorf("%d sign-ins or refreshes for a program's session", n)
				}
			})
		}
	}
}
