package oauthtest

import (
	"net/http"
	"strings"
)

// handleResource serves the protected API behind ResourceEndpoint.
func (s *Server) handleResource(x *exchange) {
	noStore(x.Header())
	challenge := `Bearer resource_metadata="` + s.ResourceMetadataURL() + `"`
	h := x.r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if h == "" || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		x.Header().Set("WWW-Authenticate", challenge)
		x.writeJSON(http.StatusUnauthorized, map[string]string{"error": "unauthorized", "error_description": "a Bearer access token is required"})
		return
	}
	s.mu.Lock()
	at := s.access[tok]
	ok := at != nil && at.validAt(s.clock.Now())
	var body map[string]any
	if ok {
		x.clientID = at.grant.clientID
		body = map[string]any{
			"sub":       at.grant.subject,
			"scope":     strings.Join(at.scopes, " "),
			"client_id": at.grant.clientID,
			"aud":       audClaim(at.aud),
		}
	}
	s.mu.Unlock()
	if !ok {
		x.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="the access token is invalid, expired or revoked", resource_metadata="`+s.ResourceMetadataURL()+`"`)
		x.errCode = "invalid_token"
		x.writeJSON(http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	x.writeJSON(http.StatusOK, body)
}
