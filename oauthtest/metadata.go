package oauthtest

import "net/http"

// metadata returns the authorization server metadata (RFC 8414), which
// also serves as an OpenID Provider configuration.
func (s *Server) metadata() map[string]any {
	methods := []string{AuthNone, AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT}
	grants := []string{"authorization_code", "refresh_token", "client_credentials", DeviceCodeGrantType}
	if len(s.cfg.TrustedIssuers) > 0 {
		grants = append(grants, JWTBearerGrantType)
	}
	if s.cfg.TokenExchange {
		grants = append(grants, TokenExchangeGrantType)
	}
	m := map[string]any{
		"issuer":                                                s.Issuer(),
		"authorization_endpoint":                                s.AuthorizationEndpoint(),
		"token_endpoint":                                        s.TokenEndpoint(),
		"registration_endpoint":                                 s.RegistrationEndpoint(),
		"revocation_endpoint":                                   s.RevocationEndpoint(),
		"device_authorization_endpoint":                         s.DeviceAuthorizationEndpoint(),
		"response_types_supported":                              []string{"code"},
		"response_modes_supported":                              []string{"query", "form_post"},
		"grant_types_supported":                                 grants,
		"code_challenge_methods_supported":                      []string{"S256"},
		"token_endpoint_auth_methods_supported":                 methods,
		"revocation_endpoint_auth_methods_supported":            methods,
		"token_endpoint_auth_signing_alg_values_supported":      signingAlgs,
		"revocation_endpoint_auth_signing_alg_values_supported": signingAlgs,
		"jwks_uri":         s.JWKSURL(),
		"scopes_supported": s.scopes,
		"authorization_response_iss_parameter_supported": !s.cfg.OmitIssuerInResponse,
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          []string{"ES256"},
	}
	if s.cfg.DPoP {
		m["dpop_signing_alg_values_supported"] = []string{dpopAlgs} // RFC 9449 §5.1
	}
	return m
}

func (s *Server) handleMetadata(x *exchange) {
	x.Header().Set("Cache-Control", "no-cache")
	x.writeJSON(http.StatusOK, s.metadata())
}

// handleResourceMetadata serves RFC 9728 protected resource metadata for the
// ResourceEndpoint, stating its ResourceIdentifier (and, with Config.DPoP,
// its DPoP algorithm and whether it takes DPoP-bound tokens only).
func (s *Server) handleResourceMetadata(x *exchange) {
	m := map[string]any{
		"resource":                 s.ResourceIdentifier(),
		"authorization_servers":    []string{s.Issuer()},
		"scopes_supported":         s.scopes,
		"bearer_methods_supported": []string{"header"},
	}
	if s.cfg.DPoP { // RFC 9728 §2
		m["dpop_signing_alg_values_supported"] = []string{dpopAlgs}
		m["dpop_bound_access_tokens_required"] = s.cfg.DPoPRequired
	}
	x.writeJSON(http.StatusOK, m)
}
