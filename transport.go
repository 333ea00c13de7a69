// Transport: the bearer header on each request (RFC 6750 §2.1), and what a
// 401 or a 403 insufficient_scope (RFC 6750 §3.1) sets off: one shared
// refresh or authorization, then one retry.

package authloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/internal/urlrule"
)

// Transport is an http.RoundTripper that authorizes each request with the
// Session's access token. When the resource server answers 401 (whatever
// error its challenge names: invalid_token per RFC 6750, Ory Hydra's
// request_unauthorized, or none), it sends the request again, once, when
// the body can be replayed (no body, or Request.GetBody set, as
// http.NewRequest does for in-memory bodies): with the session's newer
// token if a refresh replaced the refused one meanwhile (some servers
// revoke the old access token the moment it is refreshed), and otherwise
// after one refresh shared with every caller that saw the same token
// refused. A DPoP nonce challenge (use_dpop_nonce, RFC 9449 §9) is not a
// refusal of the token: the request goes once more with the nonce, and a
// second challenge reaches the caller without a refresh. When the session
// cannot get a new token without the person, the
// error satisfies errors.Is(err, ErrLoginRequired). A redirect that the
// client follows to another origin (scheme, host or port) than the first
// request's is sent as it is: without the token, and never retried.
//
// With ChallengeDriven set, the resource server's challenges drive the
// authorization instead, as an MCP client needs (see ChallengeDriven).
type Transport struct {
	// Session supplies the tokens.
	Session *Session
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// ChallengeDriven lets the resource server's WWW-Authenticate
	// challenges drive the authorization, as the MCP authorization spec
	// intends. While the session holds no token, and while its grant is
	// gone and it may not sign in again (ErrLoginRequired), a request is
	// sent without an Authorization header: the server's 401 challenge
	// says where to sign in (resource_metadata, RFC 9728) and with which
	// scope, which a login started before the request could not know.
	// When the server answers 401, or 403 with a Bearer challenge whose
	// error is insufficient_scope, the Transport calls Session.Authorize
	// (a refresh, a login when Config.Interactive allows it, or a
	// step-up, shared with every request refused at the same time) and
	// then sends the request again, once, with the session's token, when
	// the body can be replayed; a request whose body cannot be replayed
	// gets the refused response as it came, and so does any other 403.
	// When Authorize fails, the round trip fails with an error that names
	// the method, the URL without its query and the status, and wraps
	// Authorize's error (ErrLoginRequired when the person must sign in
	// and the session may not ask). A redirect to another origin is sent
	// as it is, as without the option.
	ChallengeDriven bool
}

// RoundTrip implements http.RoundTripper. It does not modify req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base()
	if redirectedElsewhere(req) {
		// http.Client follows a redirect through us: another origin
		// gets neither the token nor a refresh for its 401.
		return base.RoundTrip(req)
	}
	if t.ChallengeDriven {
		return t.challengeDriven(base, req)
	}
	s := t.Session
	tok, err := s.Token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, sent, err := s.sendAuthorized(base, req.Clone(req.Context()), tok, bodyOf(req))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	if sent.Header.Get("DPoP") != "" && askedDPoPNonce(resp) {
		// Still a nonce challenge after its one retry (a server that
		// wants a new nonce every time): it says nothing of the token,
		// which a refresh would rotate for nothing.
		return resp, nil
	}
	retry, ok := replayable(req)
	if !ok {
		return resp, nil
	}
	newTok, err := s.afterUnauthorized(req.Context(), tok.AccessToken, true)
	if err != nil {
		s.cfg.logger().Debug("authloop: refresh after a 401 failed", "error", err.Error())
		if errors.Is(err, ErrLoginRequired) {
			drain(resp)
			closeBody(retry)
			return nil, err
		}
		return resp, nil // the caller sees the 401
	}
	if newTok.AccessToken == tok.AccessToken {
		return resp, nil
	}
	drain(resp)
	resp, _, err = s.sendAuthorized(base, retry, newTok, bodyOf(req))
	return resp, err
}

// challengeDriven is RoundTrip with ChallengeDriven set.
func (t *Transport) challengeDriven(base http.RoundTripper, req *http.Request) (*http.Response, error) {
	resp, sent, err := t.send(base, req, req.Body)
	if err != nil || !refused(resp) {
		return resp, err
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil // cannot send it again: let the caller see the refusal
	}
	status := resp.StatusCode
	if err := t.Session.Authorize(req.Context(), sent, resp); err != nil {
		return nil, fmt.Errorf("authloop: %s %s: the server answered %d (%s), and authorization failed: %w",
			req.Method, urlrule.RedactURL(req.URL.String()), status, http.StatusText(status), err)
	}
	body := req.Body
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return nil, fmt.Errorf("authloop: replaying the request body: %w", err)
		}
	}
	resp, _, err = t.send(base, req, body)
	return resp, err
}

// send sends a copy of req with body and the session's current token, or
// none (challengeToken), and returns the response and the request sent.
func (t *Transport) send(base http.RoundTripper, req *http.Request, body io.ReadCloser) (*http.Response, *http.Request, error) {
	tok, err := challengeToken(req.Context(), t.Session)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, nil, fmt.Errorf("authloop: no token for %s %s: %w", req.Method, urlrule.RedactURL(req.URL.String()), err)
	}
	out := req.Clone(req.Context())
	out.Body = body
	if tok != nil {
		return t.Session.sendAuthorized(base, out, tok, bodyOf(req))
	}
	out.Header.Del("Authorization")
	resp, err := base.RoundTrip(out)
	return resp, out, err
}

// challengeToken returns the token to send with a request when the
// server's challenges drive the authorization, or nil to send the request
// without one: a session that holds no token yet sends none, and so does
// one whose grant died without a way to sign in again (ErrLoginRequired);
// Authorize, called on the 401, then signs in or reports that error.
func challengeToken(ctx context.Context, s *Session) (*oauth2.Token, error) {
	if s.Cached() == nil {
		return nil, nil
	}
	tok, err := s.Token(ctx)
	if errors.Is(err, ErrLoginRequired) {
		return nil, nil
	}
	return tok, err
}

// refused reports whether resp is a refusal that a new authorization may
// cure: any 401, and a 403 whose Bearer (or DPoP) challenge says
// insufficient_scope.
// Other 403s (a resource the user may not see) are the caller's business.
func refused(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return true
	case http.StatusForbidden:
		ch, ok := authChallenge(resp.Header)
		return ok && ch.ErrorCode() == "insufficient_scope"
	}
	return false
}

// CloseIdleConnections closes the idle connections of Base
// (http.DefaultTransport when nil) when it has such a method, so that
// http.Client.CloseIdleConnections reaches it.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *Transport) base() http.RoundTripper {
	if t.Base == nil {
		return http.DefaultTransport
	}
	return t.Base
}

// drain reads what is left of a response's body, up to 64 KiB so that
// the connection may be reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
}

// replayable returns a copy of req whose body can be sent again.
func replayable(req *http.Request) (*http.Request, bool) {
	r := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return r, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	r.Body = body
	return r, true
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// redirectedElsewhere reports whether req is a redirect that http.Client
// follows to another origin (scheme, host or port) than the request the
// chain started with. Go's client drops the Authorization header it was
// given on such hops, but a RoundTripper that adds one would add it again.
func redirectedElsewhere(req *http.Request) bool {
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	return first != req && !urlrule.SameOrigin(first.URL, req.URL)
}
