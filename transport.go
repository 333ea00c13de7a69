package authloop

import (
	"errors"
	"io"
	"net/http"

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
// refused. When the session cannot get a new token without the person, the
// error satisfies errors.Is(err, ErrLoginRequired). A redirect that the
// client follows to another origin (scheme, host or port) than the first
// request's is sent as it is: without the token, and never retried.
type Transport struct {
	// Session supplies the tokens.
	Session *Session
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper. It does not modify req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if redirectedElsewhere(req) {
		// http.Client follows a redirect through us: another origin
		// gets neither the token nor a refresh for its 401.
		return base.RoundTrip(req)
	}
	s := t.Session
	tok, err := s.Token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	r := req.Clone(req.Context())
	tok.SetAuthHeader(r)
	resp, err := base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	retry, ok := replayable(req)
	if !ok {
		return resp, nil
	}
	// The token was refused: refresh once, unless a refresh already
	// replaced the token this request carried; all requests refused with
	// the same token share that one refresh.
	var newTok = tok
	if cur := s.cur.Load(); cur.tok != nil && cur.tok.AccessToken != tok.AccessToken && cur.usable(s.nowNano()) {
		newTok = cur.tok
	} else if newTok, err = s.wait(req.Context(), cur); err != nil {
		s.cfg.logger().Debug("authloop: refresh after a 401 failed", "error", err.Error())
		if errors.Is(err, ErrLoginRequired) {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			closeBody(retry)
			return nil, err
		}
		return resp, nil // the caller sees the 401
	}
	if newTok.AccessToken == tok.AccessToken {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	newTok.SetAuthHeader(retry)
	return base.RoundTrip(retry)
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
