package oauthtest

import (
	"net/http"
	"strings"
)

// handleResource serves the protected API behind ResourceEndpoint.
func (s *Server) handleResource(x *exchange) {
	noStore(x.Header())
	s.dpopNonceHeader(x)
	h := x.r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if s.cfg.DPoP && strings.EqualFold(scheme, "DPoP") && tok != "" {
		s.handleResourceDPoP(x, tok)
		return
	}
	if h == "" || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		x.Header().Set("WWW-Authenticate", s.bearerChallenge("", ""))
		x.writeJSON(http.StatusUnauthorized, map[string]string{"error": "unauthorized", "error_description": "a Bearer access token is required"})
		return
	}
	s.mu.Lock()
	at := s.access[tok]
	ok := at != nil && at.validAt(s.clock.Now())
	bound := ok && at.jkt != ""
	var body map[string]any
	if ok && !bound {
		x.clientID = at.grant.clientID
		body = resourceBody(at)
	}
	s.mu.Unlock()
	switch {
	case bound:
		// RFC 9449 §7.2: a DPoP-bound token is no bearer token.
		const desc = "the access token is DPoP-bound; send it with the DPoP scheme and a DPoP proof"
		x.Header().Set("WWW-Authenticate", s.dpopChallenge("invalid_token", desc))
		x.errCode = "invalid_token"
		x.writeJSON(http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": desc})
	case !ok:
		x.Header().Set("WWW-Authenticate", s.bearerChallenge("invalid_token", "the access token is invalid, expired or revoked"))
		x.errCode = "invalid_token"
		x.writeJSON(http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
	default:
		x.writeJSON(http.StatusOK, body)
	}
}

// resourceBody is the resource's answer to a valid token: who and what it
// is for, and the key it is bound to (cnf.jkt), if any.
func resourceBody(at *accessToken) map[string]any {
	body := map[string]any{
		"sub":       at.grant.subject,
		"scope":     strings.Join(at.scopes, " "),
		"client_id": at.grant.clientID,
		"aud":       audClaim(at.aud),
	}
	if at.jkt != "" {
		body["cnf"] = map[string]string{"jkt": at.jkt}
	}
	return body
}

// bearerChallenge is the resource's challenge to a request without a DPoP
// token: Bearer, with the error when code is set, and the resource_metadata
// URL (RFC 9728). With Config.DPoP the DPoP scheme is offered beside it
// (RFC 9449 §7.2), alone with Config.DPoPRequired when there is no error.
func (s *Server) bearerChallenge(code, desc string) string {
	meta := `resource_metadata="` + s.ResourceMetadataURL() + `"`
	switch {
	case !s.cfg.DPoP && code == "":
		return "Bearer " + meta
	case !s.cfg.DPoP:
		return `Bearer error="` + code + `", error_description="` + quoteParam(desc) + `", ` + meta
	case code == "" && s.cfg.DPoPRequired:
		return s.dpopChallenge("", "")
	case code == "":
		return "Bearer " + meta + ", " + s.dpopChallenge("", "")
	}
	return `Bearer error="` + code + `", error_description="` + quoteParam(desc) + `", ` + meta + ", " + s.dpopChallenge("", "")
}
