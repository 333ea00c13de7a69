// Package mcpauth plugs an authloop Session into the Go MCP SDKs, so that an
// MCP client gets the MCP authorization spec done by authloop (discovery
// through RFC 9728, client registration, scope selection, step-up) and
// tokens that are refreshed before they expire, persisted in the session's
// store and shared by every process that uses it.
//
// Three routes, one behaviour:
//
//   - github.com/modelcontextprotocol/go-sdk: NewGoSDKHandler returns the
//     auth.OAuthHandler that mcp.StreamableClientTransport takes as its
//     OAuthHandler field.
//   - Any transport that takes an *http.Client (the go-sdk's
//     SSEClientTransport, which has no OAuthHandler; mark3labs/mcp-go's
//     streamable HTTP and SSE transports): HTTPClient, or Transport as the
//     RoundTripper of a client of one's own; that RoundTripper is an
//     *authloop.Transport with ChallengeDriven set. The mcpgo subpackage
//     wraps it in mcp-go's options.
//
// Whatever the route, a request is sent with the session's access token
// when the session has one (refreshed first when it is about to expire),
// and without one when it has none, so that the MCP server's 401 and its
// WWW-Authenticate challenge (resource_metadata, scope) drive the first
// authorization, as the MCP spec intends. A 401, or a 403 with
// error="insufficient_scope", goes to Session.Authorize, which refreshes,
// signs the person in or asks for more scope, sharing one refresh and one
// browser window among all the requests that were refused at once; the
// request is then sent again, once.
//
// DPoP (RFC 9449): a session whose tokens are DPoP-bound sends each request
// with "Authorization: DPoP <token>" and a new proof of its key, which only
// the RoundTripper writes. The go-sdk's streamable transport writes a Bearer
// header itself from the OAuthHandler, so with DPoP it must be given
// HTTPClient as well (see NewGoSDKHandler); mcp-go's routes and the go-sdk's
// SSE transport go through the RoundTripper already.
//
// mcpauth is glue to the SDKs only: the HTTP behaviour (the header, the
// retry, the rules for redirects to another origin) is the root package's,
// in authloop.Transport and Session.Authorize.
//
// mcpauth is a Go module of its own, so that programs using only the core
// library never have the MCP SDKs in their module graph.
package mcpauth
