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
//		HTTPClient:   mcpauth.HTTPClient(sess, nil), // for DPoP: see below
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
// DPoP (RFC 9449): the go-sdk writes the Authorization header itself, and
// only as "Bearer <token>", so the handler alone cannot send a DPoP-bound
// token, which needs "DPoP <token>" and a proof of the session's key with
// each request. A session that may get one (Config.DPoP on, or left to
// auto at an authorization server whose metadata offers DPoP with ES256)
// must also set the transport's HTTPClient to HTTPClient(s, nil), whose
// RoundTripper (authloop.Transport) writes the header and the proof of each
// request, answers the MCP server's nonce challenge, and handles refusals
// (HTTPClient alone, without the handler, does all of that as well). The
// default (Config.DPoP auto) uses DPoP whenever the server offers it, so
// give the HTTPClient unless DPoP is off. With it, the RoundTripper answers
// a refusal first, and the go-sdk calls Authorize only for a response that
// is still a refusal after the RoundTripper's retry.
//
// The handler never hands the go-sdk a DPoP-bound token (a server refuses
// one sent as Bearer, RFC 9449 §7.2): its token source gives none for it.
// When a request that went without a proof is refused while the session's
// token is DPoP-bound, as happens without that HTTPClient, Authorize returns
// ErrDPoPNeedsHTTPClient, whose message names the fix, and refreshes
// nothing.
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
// returns a nil token without an error while the session holds none, and
// for a DPoP-bound token; the go-sdk then sends the request without an
// Authorization header (HTTPClient(s, nil), when it is the transport's
// client, writes the DPoP one).
func (h *goSDKHandler) TokenSource(ctx context.Context) (oauth2.TokenSource, error) {
	return sessionSource{ctx: ctx, s: h.s}, nil
}

// Authorize hands the refused request to Session.Authorize, which closes
// resp.Body: the request that went out (resp.Request) when it carried a
// DPoP proof, which authloop.Transport wrote, so that Session.Authorize
// knows which token was refused; else req, as the go-sdk built it. It
// returns ErrDPoPNeedsHTTPClient, closing resp.Body and refreshing
// nothing, when the session's token is DPoP-bound, before or after
// Session.Authorize, and the request carried no proof: the go-sdk's retry
// would go without the token.
func (h *goSDKHandler) Authorize(ctx context.Context, req *http.Request, resp *http.Response) error {
	sent := req
	if resp != nil && !proved(req) && proved(resp.Request) {
		sent = resp.Request
	}
	if !proved(sent) && dpopBound(h.s, h.s.Cached()) {
		discard(resp)
		return ErrDPoPNeedsHTTPClient
	}
	if err := h.s.Authorize(ctx, sent, resp); err != nil {
		return err
	}
	if !proved(sent) && dpopBound(h.s, h.s.Cached()) {
		return ErrDPoPNeedsHTTPClient
	}
	return nil
}

// sessionSource is the go-sdk handler's token source.
type sessionSource struct {
	ctx context.Context
	s   *authloop.Session
}

func (ts sessionSource) Token() (*oauth2.Token, error) {
	tok, err := requestToken(ts.ctx, ts.s)
	if dpopBound(ts.s, tok) {
		return nil, nil // the go-sdk would send it as Bearer
	}
	return tok, err
}
