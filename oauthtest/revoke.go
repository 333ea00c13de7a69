package oauthtest

import "net/http"

// handleRevoke serves token revocation (RFC 7009). The client authenticates
// as at the token endpoint. Revoking a refresh token revokes its whole grant
// (every access and refresh token from it), unless it was rotated away and
// Config.RevokeRotatedIgnored; revoking an access token revokes that token.
// An unknown token, or one of another client, is answered 200 and left
// alone, so the answer tells nothing about other clients' tokens.
func (s *Server) handleRevoke(x *exchange) {
	noStore(x.Header())
	form, cc, ok := x.clientForm()
	if !ok {
		return
	}
	tok := form.Get("token")

	s.mu.Lock()
	client, oerr := s.authenticateLocked(cc)
	if oerr == nil && tok != "" {
		if rt := s.refresh[tok]; rt != nil && rt.grant.clientID == client.ID && !(rt.rotated && s.cfg.RevokeRotatedIgnored) {
			rt.grant.revoked = true
		}
		if at := s.access[tok]; at != nil && at.grant.clientID == client.ID {
			at.revoked = true
		}
	}
	s.mu.Unlock()

	switch {
	case oerr != nil:
		x.writeError(oerr, false)
	case tok == "":
		x.writeError(&oauthError{code: "invalid_request", desc: "token is missing"}, false)
	default:
		x.WriteHeader(http.StatusOK)
	}
}
