package mcpauth

import (
	"context"
	"net/http"

	"github.com/authloop/authloop"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"golang.org/x/oauth2"
)

// NewGoSDKHandler returns an OAuth handler for the official Go MCP SDK
// (github.com/modelcontextprotocol/go-sdk), backed by s: set it as the
// OAuthHandler of an mcp.StreamableClientTransport.
//
//	sess, err := authloop.NewSession(&authloop.Config{
//		Resource:    "https://mcp.example.com/mcp",
//		Store:       st,
//		Interactive: true,
//	}, nil)
//	...
//	transport := &mcp.StreamableClientTransport{
//		Endpoint:     "https://mcp.example.com/mcp",
//		OAuthHandler: mcpauth.NewGoSDKHandler(sess),
//	}
//
// The transport asks the handler for a token before every request; the
// handler answers with the session's token (refreshed before it expires, with
// the RFC 8707 resource, and saved to the session's store), or with none
// while the session has none, so that the server's first 401 starts the
// authorization the MCP spec describes. When a request is refused (401, or
// 403 insufficient_scope), the transport calls Authorize, which is
// Session.Authorize: one refresh, login or step-up shared by every request
// refused at the same time, and then the transport sends the request again.
//
// The handler holds no state of its own; several transports may share one.
// Closing the transport does not close the session.
func NewGoSDKHandler(s *authloop.Session) auth.OAuthHandler {
	return &goSDKHandler{s: s}
}

type goSDKHandler struct {
	s *authloop.Session
}

// TokenSource returns a token source backed by the session. Its Token
// returns a nil token without an error while the session holds none; the
// go-sdk then sends the request without an Authorization header.
func (h *goSDKHandler) TokenSource(ctx context.Context) (oauth2.TokenSource, error) {
	return sessionSource{ctx: ctx, s: h.s}, nil
}

// Authorize hands the refused request to Session.Authorize, which closes
// resp.Body.
func (h *goSDKHandler) Authorize(ctx context.Context, req *http.Request, resp *http.Response) error {
	return h.s.Authorize(ctx, req, resp)
}

// sessionSource is the go-sdk handler's token source.
type sessionSource struct {
	ctx context.Context
	s   *authloop.Session
}

func (ts sessionSource) Token() (*oauth2.Token, error) {
	return requestToken(ts.ctx, ts.s)
}
