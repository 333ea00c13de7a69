package oauthtest

import "crypto"

// PublicKey returns the public half of the server's ES256 key (an
// *ecdsa.PublicKey on P-256), which signs its ID tokens and ID-JAGs. The
// key is made by NewServer and never changes; it is also served at
// JWKSURL with its kid (its RFC 7638 thumbprint).
func (s *Server) PublicKey() crypto.PublicKey { return &s.idKey.priv.PublicKey }

// KeyID returns the kid of the server's ES256 key, carried in the header
// of every ID token and ID-JAG it signs.
func (s *Server) KeyID() string { return s.idKey.kid }

// JWKSURL returns the URL of the server's JWK Set (the metadata's
// jwks_uri), which holds PublicKey.
func (s *Server) JWKSURL() string { return s.Issuer() + "/jwks" }

// TrustedIssuer returns this server as an issuer another Server can trust
// (Config.TrustedIssuers): its issuer and PublicKey. An authorization
// server given it takes this server's ID-JAGs as JWT-bearer grants.
func (s *Server) TrustedIssuer() TrustedIssuer {
	return TrustedIssuer{Issuer: s.Issuer(), Key: s.PublicKey()}
}

// CountGrant returns how many token requests with grant_type grantType
// ("authorization_code", "refresh_token", "client_credentials",
// JWTBearerGrantType, TokenExchangeGrantType, DeviceCodeGrantType...) the
// server has received so far, refused and faulted ones included. A request
// is counted as soon as its form is read.
func (s *Server) CountGrant(grantType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grantCounts[grantType]
}
