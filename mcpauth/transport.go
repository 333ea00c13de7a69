package mcpauth

import (
	"net/http"

	"github.com/authloop/authloop"
)

// Transport returns an http.RoundTripper that authorizes requests to an MCP
// server with s, for transports that take an *http.Client instead of an
// OAuth handler: the go-sdk's mcp.SSEClientTransport (its HTTPClient field),
// mark3labs/mcp-go's streamable HTTP and SSE transports (see the mcpgo
// subpackage), or any other HTTP client. base sends the requests; nil means
// http.DefaultTransport.
//
// It is an *authloop.Transport with ChallengeDriven set, which does all
// the work: each request gets the session's access token, refreshed first
// when it is about to expire; while the session holds no token the request
// goes without one, so that the server's 401 challenge drives the first
// authorization. When the server answers 401, or 403 with
// error="insufficient_scope", the RoundTripper calls Session.Authorize
// (refresh, login or step-up, shared with every request refused at the same
// time) and sends the request again, once, with the new token. A request
// whose body cannot be sent twice (a body without Request.GetBody; requests
// made by http.NewRequest from bytes or strings have one) is not retried:
// its refused response is returned as it came. When Authorize fails, the
// round trip fails with its error, which wraps authloop.ErrLoginRequired
// when the person must sign in and the session may not ask.
//
// A redirect that the client follows to another origin (scheme, host or
// port) than the first request's is sent as it is: without the token, and
// never authorized. The RoundTripper does not modify the caller's request,
// and it passes CloseIdleConnections on to base.
func Transport(s *authloop.Session, base http.RoundTripper) http.RoundTripper {
	return &authloop.Transport{Session: s, Base: base, ChallengeDriven: true}
}

// HTTPClient returns an *http.Client whose Transport is Transport(s, base).
// It sets no timeout: an MCP server's event streams stay open for as long
// as the session lasts.
func HTTPClient(s *authloop.Session, base http.RoundTripper) *http.Client {
	return &http.Client{Transport: Transport(s, base)}
}
