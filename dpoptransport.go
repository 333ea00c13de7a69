// The Authorization header of a resource request: Bearer (RFC 6750 §2.1),
// or DPoP with a fresh proof (RFC 9449 §7), and the one retry a resource
// server's nonce challenge asks for (RFC 9449 §9).

package authloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/internal/urlrule"
)

// setAuthorization writes the one Authorization header the session sends
// with a resource request. A token issued as DPoP-bound (token_type DPoP)
// goes as "DPoP <token>" with a proof of the session's key in the DPoP
// header: for this method and URL, with the token's hash and the
// server's latest nonce (RFC 9449 §7.1). Any other token goes as "Bearer
// <token>" (RFC 6750 §2.1), whatever token_type the server named: the MCP
// specification requires the Bearer scheme, and a server that names
// another type for the token it issued at this grant (N_A, as RFC 8693
// does, or a type in another case) still expects it as a bearer token;
// oauth2.Token.SetAuthHeader would send "N_A <token>". r is the caller's
// own copy.
func (s *Session) setAuthorization(r *http.Request, tok *oauth2.Token) (nonce string, err error) {
	if key := s.cfg.dp.active(); key != nil && isDPoPToken(tok) {
		method := r.Method
		if method == "" {
			method = http.MethodGet // net/http sends a client request's "" as GET
		}
		proof, nonce, err := s.cfg.dp.proof(key, method, r.URL.String(), tok.AccessToken)
		if err != nil {
			return "", err
		}
		r.Header.Set("Authorization", "DPoP "+tok.AccessToken)
		r.Header.Set("DPoP", proof)
		return nonce, nil
	}
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return "", nil
}

// sendAuthorized sends r, a copy of a request that the caller owns,
// authorized with tok, and returns the response and the request last sent.
// When the resource server answers 401 with a DPoP challenge asking for a
// nonce (use_dpop_nonce) other than the one the proof carried, it has
// refused the request without acting on it: the request goes once more
// with a new proof carrying the nonce, when body gives its body again.
// Requests refused at the same time each go again, whichever of them
// learnt the nonce first.
func (s *Session) sendAuthorized(base http.RoundTripper, r *http.Request, tok *oauth2.Token, body func() (io.ReadCloser, bool)) (*http.Response, *http.Request, error) {
	sent, err := s.setAuthorization(r, tok)
	if err != nil {
		closeBody(r)
		return nil, nil, err
	}
	resp, err := base.RoundTrip(r)
	if err != nil || r.Header.Get("DPoP") == "" {
		return resp, r, err
	}
	s.cfg.dp.learn(r.URL.String(), true, resp.Header)
	if !nonceChallenge(resp, sent) {
		return resp, r, nil
	}
	b, ok := body()
	if !ok {
		return resp, r, nil // cannot send it again: the caller sees the 401
	}
	drain(resp)
	again := r.Clone(r.Context())
	again.Body = b
	if _, err := s.setAuthorization(again, tok); err != nil {
		closeBody(again)
		return nil, nil, err
	}
	resp, err = base.RoundTrip(again)
	if err == nil {
		s.cfg.dp.learn(again.URL.String(), true, resp.Header)
	}
	return resp, again, err
}

// nonceChallenge reports whether resp is a resource server's 401 asking
// for a DPoP nonce (RFC 9449 §9) that it gives, other than sent, the nonce
// the refused proof carried.
func nonceChallenge(resp *http.Response, sent string) bool {
	n := resp.Header.Get("DPoP-Nonce")
	if resp.StatusCode != http.StatusUnauthorized || n == "" || n == sent || len(n) > maxNonce {
		return false
	}
	ch, ok := authChallenge(resp.Header)
	return ok && strings.EqualFold(ch.Scheme, "DPoP") && ch.ErrorCode() == "use_dpop_nonce"
}

// askedDPoPNonce reports whether resp is a resource server's 401 whose DPoP
// challenge is use_dpop_nonce (RFC 9449 §9), whatever nonce it gives.
func askedDPoPNonce(resp *http.Response) bool {
	if resp.StatusCode != http.StatusUnauthorized {
		return false
	}
	ch, ok := authChallenge(resp.Header)
	return ok && strings.EqualFold(ch.Scheme, "DPoP") && ch.ErrorCode() == "use_dpop_nonce"
}

// bodyOf returns a function that gives req's body anew, for a request sent
// again: none for a request without one, a fresh copy from GetBody, or
// false when the body cannot be replayed.
func bodyOf(req *http.Request) func() (io.ReadCloser, bool) {
	return func() (io.ReadCloser, bool) {
		if req.Body == nil || req.Body == http.NoBody {
			return req.Body, true
		}
		if req.GetBody == nil {
			return nil, false
		}
		b, err := req.GetBody()
		return b, err == nil
	}
}

// authChallenge returns the first Bearer or DPoP challenge (RFC 6750 §3,
// RFC 9449 §7.1) of the WWW-Authenticate fields of h, and whether there was
// one: a resource server that accepts DPoP-bound tokens names its
// resource metadata, scope and error in the DPoP challenge.
func authChallenge(h http.Header) (discovery.Challenge, bool) {
	cs, _ := discovery.ParseWWWAuthenticate(h.Values("WWW-Authenticate")...)
	for _, c := range cs {
		if strings.EqualFold(c.Scheme, "Bearer") || strings.EqualFold(c.Scheme, "DPoP") {
			return c, true
		}
	}
	return discovery.Challenge{}, false
}

// AuthHeader returns the header fields that authorize one request of
// method to rawURL with the session's current token (as Token gets it):
// "Authorization: Bearer <token>", or, for a DPoP-bound token,
// "Authorization: DPoP <token>" and a DPoP proof made for exactly this
// method and URL (RFC 9449 §7.1), with the server's latest nonce known to
// the session. It is for a program that sends the request itself (a
// command that prints headers for curl); a proof is good for one request,
// and the server refuses it a second time. Session.Client and Transport do
// this on every request.
func (s *Session) AuthHeader(ctx context.Context, method, rawURL string) (http.Header, error) {
	u, err := url.Parse(rawURL)
	if err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("authloop: AuthHeader: %q is not an absolute http or https URL", urlrule.RedactURL(rawURL))
	}
	if !isToken(method) {
		return nil, fmt.Errorf("authloop: AuthHeader: %q is not an HTTP method; give the request's method, such as GET or POST", method)
	}
	tok, err := s.Token(ctx)
	if err != nil {
		return nil, err
	}
	if strings.ContainsFunc(tok.AccessToken, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		// A line break would add header lines of the server's choosing
		// to a request that a program sends itself.
		return nil, errors.New("authloop: AuthHeader: the access token holds a control character, which no header may carry; the authorization server sent a malformed token")
	}
	r := &http.Request{Method: method, URL: u, Header: http.Header{}}
	if _, err := s.setAuthorization(r, tok); err != nil {
		return nil, err
	}
	return r.Header, nil
}

// DPoPThumbprint returns the RFC 7638 thumbprint of the key the session
// proves possession of (the value a DPoP-bound token's cnf.jkt holds), or
// "" when it has none. The key itself is never shown.
func (s *Session) DPoPThumbprint() string {
	return s.cfg.dp.thumbprint()
}

// SetDPoPNonce records nonce as the latest DPoP nonce (RFC 9449 §9) of the
// resource server at rawURL, for a program that sends its requests itself
// (with AuthHeader) and so reads the server's DPoP-Nonce header itself:
// the next proof for that server carries it. Client and Transport learn
// nonces from the responses without it. It fails when the session proves
// no key, and for a nonce that is empty, longer than 1024 bytes or not
// printable ASCII (RFC 9449's NQCHAR).
func (s *Session) SetDPoPNonce(rawURL, nonce string) error {
	if s.cfg.dp == nil {
		return errors.New("authloop: SetDPoPNonce: the session does not use DPoP (Config.DPoP is DPoPOff)")
	}
	u, err := url.Parse(rawURL)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("authloop: SetDPoPNonce: %q is not an absolute URL", urlrule.RedactURL(rawURL))
	}
	if nonce == "" || len(nonce) > maxNonce || strings.ContainsFunc(nonce, func(r rune) bool { return r < 0x21 || r > 0x7e || r == '"' || r == '\\' }) {
		return errors.New("authloop: SetDPoPNonce: the nonce is empty, longer than 1024 bytes, or not printable ASCII without quotes, spaces and backslashes (RFC 9449 §8); give the value of the server's DPoP-Nonce header")
	}
	s.cfg.dp.learn(rawURL, true, http.Header{"Dpop-Nonce": {nonce}})
	return nil
}

// isToken reports whether s is an RFC 9110 token, the syntax of a method.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= 0x20 || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}
