package authloop

import (
	"io"
	"net/http"
	"strings"
)

// Transport is an http.RoundTripper that authorizes each request with the
// Session's access token. When the resource server answers 401 and its
// WWW-Authenticate says error="invalid_token", it forces one refresh (shared
// with every other caller that saw the same token fail) and sends the
// request again, once, when the body can be replayed (no body, or
// Request.GetBody set, as http.NewRequest does for in-memory bodies).
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
	s := t.Session
	tok, err := s.Token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	r := req.Clone(req.Context())
	tok.SetAuthHeader(r)
	resp, err := base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !invalidTokenChallenge(resp.Header) {
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

// invalidTokenChallenge reports whether a 401's Bearer challenge names
// error="invalid_token" (RFC 6750 §3.1), or carries no error at all (the
// token was missing or not accepted).
func invalidTokenChallenge(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		lv := strings.ToLower(v)
		if !strings.Contains(lv, "bearer") {
			continue
		}
		if !strings.Contains(lv, "error=") || strings.Contains(lv, `error="invalid_token"`) || strings.Contains(lv, "error=invalid_token") {
			return true
		}
	}
	return false
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
