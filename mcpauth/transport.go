package mcpauth

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
)

// Transport returns an http.RoundTripper that authorizes requests to an MCP
// server with s, for transports that take an *http.Client instead of an
// OAuth handler: the go-sdk's mcp.SSEClientTransport (its HTTPClient field),
// mark3labs/mcp-go's streamable HTTP and SSE transports (see the mcpgo
// subpackage), or any other HTTP client. base sends the requests; nil means
// http.DefaultTransport.
//
// Each request gets the session's access token, refreshed first when it is
// about to expire; while the session holds no token the request goes
// without one, so that the server's 401 challenge drives the first
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
// never authorized. The RoundTripper does not modify the caller's request.
func Transport(s *authloop.Session, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &roundTripper{s: s, base: base}
}

// HTTPClient returns an *http.Client whose Transport is Transport(s, base).
// It sets no timeout: an MCP server's event streams stay open for as long
// as the session lasts.
func HTTPClient(s *authloop.Session, base http.RoundTripper) *http.Client {
	return &http.Client{Transport: Transport(s, base)}
}

type roundTripper struct {
	s    *authloop.Session
	base http.RoundTripper
}

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if redirectedElsewhere(req) {
		// http.Client follows a redirect through us: another origin
		// gets neither the token nor an authorization for its 401.
		return t.base.RoundTrip(req)
	}
	resp, sent, err := t.send(req, req.Body)
	if err != nil || !refused(resp) {
		return resp, err
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil // cannot send it again: let the caller see the refusal
	}
	status := resp.StatusCode
	if err := t.s.Authorize(req.Context(), sent, resp); err != nil {
		return nil, fmt.Errorf("mcpauth: %s %s: the server answered %d (%s), and authorization failed: %w",
			req.Method, redactedURL(req), status, http.StatusText(status), err)
	}
	body := req.Body
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return nil, fmt.Errorf("mcpauth: replaying the request body: %w", err)
		}
	}
	resp, _, err = t.send(req, body)
	return resp, err
}

// send sends a copy of req with body and the session's current token, and
// returns the response and the request sent.
func (t *roundTripper) send(req *http.Request, body io.ReadCloser) (*http.Response, *http.Request, error) {
	tok, err := requestToken(req.Context(), t.s)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, nil, fmt.Errorf("mcpauth: no token for %s %s: %w", req.Method, redactedURL(req), err)
	}
	out := req.Clone(req.Context())
	out.Body = body
	if tok != nil {
		out.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	} else {
		out.Header.Del("Authorization")
	}
	resp, err := t.base.RoundTrip(out)
	return resp, out, err
}

// CloseIdleConnections closes the idle connections of the base transport,
// when it can, so that http.Client.CloseIdleConnections reaches it.
func (t *roundTripper) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// refused reports whether resp is a refusal that a new authorization may
// cure: any 401, and a 403 whose Bearer challenge says insufficient_scope.
// Other 403s (a resource the user may not see) are the caller's business.
func refused(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return true
	case http.StatusForbidden:
		ch, ok := discovery.BearerChallenge(resp.Header)
		return ok && ch.ErrorCode() == "insufficient_scope"
	}
	return false
}

// redactedURL is the request's URL without its query, which may carry
// secrets, for error messages.
func redactedURL(req *http.Request) string {
	u := *req.URL
	u.RawQuery, u.ForceQuery, u.User, u.Fragment = "", false, nil, ""
	return u.String()
}

// redirectedElsewhere reports whether req is a redirect that http.Client
// follows to another origin than the request the chain started with.
func redirectedElsewhere(req *http.Request) bool {
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	return first != req && origin(first.URL) != origin(req.URL)
}

// origin is the URL's scheme, host and port, in lower case, with the
// scheme's default port made explicit.
func origin(u *url.URL) string {
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
