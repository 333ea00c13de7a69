package integration_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// bearer adds a fixed bearer token to every request, as a script that
// passes $(authloop token) does.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(req)
}

// Issue 13, item 13, against real peers: the built `authloop login
// --resource URL`, nothing else, signs in to an MCP server (the go-sdk
// server of TestMCPGoSDKOIDCProvider, whose tokens come from oidc-provider):
// the command finds the authorization server through the server's RFC 9728
// metadata, registers a client there (RFC 7591) and says which; `token` in
// a new process prints a token the MCP server accepts for tools/list, and
// `status` names the client.
func TestMCPCommandLoginResourceOnly(t *testing.T) {
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

	c := newAuthloopCLI(t)
	r := c.login(meta.AuthorizationEndpoint, "--profile", "mcp", "--resource", ms.url)
	if r.code != 0 {
		t.Fatalf("login --resource alone: %v", r)
	}
	m := regexp.MustCompile(`Client (\S+) registered at ` + regexp.QuoteMeta(oidc.Issuer)).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("login did not say which client it registered:\n%s", r.stderr)
	}
	id := m[1]

	r = c.run("token", "--profile", "mcp")
	tok := strings.TrimSpace(r.stdout)
	if r.code != 0 || tok == "" {
		t.Fatalf("token: %v", r)
	}
	clientTransport := transport.Clone()
	t.Cleanup(clientTransport.CloseIdleConnections)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "authloop-cli-integration", Version: "1.0.0"}, nil).Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   ms.url,
		HTTPClient: &http.Client{Transport: bearer{token: tok, next: clientTransport}},
	}, nil)
	if err != nil {
		t.Fatalf("Connect with the token of `authloop token`: %v", err)
	}
	defer cs.Close()
	res, err := cs.ListTools(ctx, nil)
	if err != nil || len(res.Tools) != 1 || res.Tools[0].Name != "echo" {
		t.Fatalf("tools/list: %v, %v", res, err)
	}

	if r := c.run("status", "--profile", "mcp"); r.code != 0 || !strings.Contains(r.stdout, "registered client "+id) {
		t.Errorf("status: %v", r)
	}
}
