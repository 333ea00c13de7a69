package mcpauth

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/authloop/authloop"
	"golang.org/x/oauth2"
)

// ErrDPoPNeedsHTTPClient is the error of the go-sdk handler's Authorize
// when the session's token is DPoP-bound (RFC 9449) and the refused request
// did not go through Transport: the go-sdk's StreamableClientTransport
// writes the Authorization header itself, and only as Bearer, so it cannot
// send such a token with the DPoP proof each request needs. The fix is in
// its message: give the transport HTTPClient: mcpauth.HTTPClient(s, nil), or
// turn DPoP off (Config.DPoP = authloop.DPoPOff) for bearer tokens.
var ErrDPoPNeedsHTTPClient = errors.New("mcpauth: the session's access token is DPoP-bound (RFC 9449), and the go-sdk's StreamableClientTransport writes only Bearer tokens: give it HTTPClient: mcpauth.HTTPClient(session, nil), which sends the token with the DPoP proof each request needs (the OAuthHandler may stay), or set Config.DPoP to authloop.DPoPOff for bearer tokens")

// dpopBound reports whether tok, a token of s, is DPoP-bound: it goes out
// as "DPoP <token>" with a proof of the session's key, which only
// authloop.Transport writes.
func dpopBound(s *authloop.Session, tok *oauth2.Token) bool {
	return tok != nil && strings.EqualFold(tok.TokenType, "DPoP") && s.DPoPThumbprint() != ""
}

// proved reports whether r carried a DPoP proof: it went through
// authloop.Transport with a DPoP-bound token.
func proved(r *http.Request) bool {
	return r != nil && r.Header.Get("DPoP") != ""
}

// discard reads what is left of a refused response's body, up to 64 KiB,
// and closes it, as Session.Authorize does.
func discard(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
}
