package mcpauth_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/authloop/authloop/mcpauth"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// Found by the issue 14 adversary: mcpauth.Transport wrote "Authorization: Bearer
// <token>" whatever token_type the authorization server answered, as the
// MCP authorization spec requires of a client (OAuth 2.1 §5.1.1). Since it
// became the root Transport with ChallengeDriven, the header is written
// with oauth2.Token.SetAuthHeader, which puts the token_type in front: an
// authorization server that answers token_type "N_A" (RFC 8693 §2.2.1) or
// any other non-Bearer type makes every request to the MCP server go out
// as "N_A <token>", which a Bearer-only MCP server refuses, and
// Session.Authorize can no longer tell which token was refused (bearerOf
// finds none). Fixed by setAuthorization in the root Transport.
func TestTransportSendsBearerWhateverTheTokenType(t *testing.T) {
	f := newFixture(t, oauthtest.Config{TokenType: "N_A"})
	ctx := testContext(t)
	s := f.session(f.as.ResourceEndpoint(), store.NewMemory(), true)
	c := mcpauth.HTTPClient(s, nil)
	defer c.CloseIdleConnections()

	for i := range 3 {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.as.ResourceEndpoint(), strings.NewReader(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d (%s), want 200: the MCP server needs Authorization: Bearer", i, resp.StatusCode, body)
		}
	}
	if n := f.as.Count("authorize"); n != 1 {
		t.Errorf("authorize requests = %d, want 1", n)
	}
}
