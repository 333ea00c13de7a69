package oauthtest

// The identity provider's side of enterprise-managed authorization (the
// MCP extension built on draft-ietf-oauth-identity-assertion-authz-grant):
// an RFC 8693 token exchange of an ID token this server issued for an
// Identity Assertion JWT Authorization Grant (ID-JAG), which the client
// then presents to the resource's authorization server as a JWT-bearer
// grant (jwtbearer.go).

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Token exchange (RFC 8693) identifiers.
const (
	// TokenExchangeGrantType is the grant_type of a token exchange.
	TokenExchangeGrantType = "urn:ietf:params:oauth:grant-type:token-exchange"
	// IDTokenType is the token type of an OpenID Connect ID token
	// (RFC 8693 §3), the subject_token_type the server exchanges.
	IDTokenType = "urn:ietf:params:oauth:token-type:id_token"
	// IDJAGTokenType is the token type of an ID-JAG, the
	// requested_token_type and issued_token_type of the exchange.
	IDJAGTokenType = "urn:ietf:params:oauth:token-type:id-jag"
	// IDJAGTyp is the JWT typ header of an ID-JAG.
	IDJAGTyp = "oauth-id-jag+jwt"
)

// IDJAGTTL is the lifetime of the ID-JAGs the server issues.
const IDJAGTTL = 5 * time.Minute

// isIDJAGTyp reports whether a typ header names an ID-JAG (RFC 7515 §4.1.9:
// compared without case, "application/" may be left out).
func isIDJAGTyp(typ string) bool {
	typ = strings.ToLower(typ)
	return strings.TrimPrefix(typ, "application/") == IDJAGTyp
}

// tokenExchangeLocked answers a token exchange (RFC 8693 §2.1) of an ID
// token for an ID-JAG, with Config.TokenExchange. The subject_token must be
// an ID token of this server (its signature, iss, not expired) issued to
// the requesting client (its aud); audience names the authorization server
// the ID-JAG is for. The answer (§2.2.1) carries the ID-JAG as
// access_token, issued_token_type IDJAGTokenType, token_type N_A, its
// lifetime and scope, and no refresh token. A bad request or subject token
// is invalid_request naming the check (§2.2.2). The caller holds s.mu.
func (s *Server) tokenExchangeLocked(client *Client, form url.Values) (map[string]any, *oauthError) {
	bad := func(desc string) (map[string]any, *oauthError) {
		return nil, &oauthError{code: "invalid_request", desc: desc}
	}
	if !s.cfg.TokenExchange {
		return nil, &oauthError{code: "unsupported_grant_type", desc: "token exchange is off at this server (Config.TokenExchange)"}
	}
	switch {
	case form.Get("subject_token_type") != IDTokenType:
		return bad("subject_token_type must be " + IDTokenType + ": only ID tokens are exchanged here")
	case form.Get("requested_token_type") != IDJAGTokenType:
		return bad("requested_token_type must be " + IDJAGTokenType + ": only ID-JAGs are issued here")
	case form.Get("subject_token") == "":
		return bad("subject_token is missing: send the ID token")
	case form.Get("audience") == "":
		return bad("audience is missing: name the issuer of the authorization server the ID-JAG is for")
	case form.Has("actor_token"):
		return bad("actor_token is not supported here")
	}
	refuse := func(desc string) (map[string]any, *oauthError) {
		return bad("subject_token: " + desc)
	}
	t, err := parseJWT(form.Get("subject_token"))
	if err != nil {
		return refuse("not a JWT: " + err.Error())
	}
	if err := t.verify(s.PublicKey()); err != nil {
		return refuse(err.Error() + " (it must be an ID token of this server)")
	}
	now := s.clock.Now()
	iss, _ := t.str("iss")
	sub, _ := t.str("sub")
	switch {
	case iss != s.Issuer():
		return refuse("iss " + strconv.Quote(iss) + " is not this server")
	case !slices.Contains(t.audiences(), client.ID):
		return refuse("it was issued to another client (its aud does not name " + strconv.Quote(client.ID) + ")")
	case sub == "":
		return refuse("sub is missing")
	}
	if _, desc := checkTimes(t, now); desc != "" {
		return refuse(desc + ": sign in again for a fresh ID token")
	}
	resources := dedupe(form["resource"])
	for _, r := range resources {
		if !validResource(r) {
			return nil, &oauthError{code: "invalid_target", desc: "resource must be an absolute URI without fragment"}
		}
	}
	clientID := client.ID
	if id, ok := s.cfg.IDJAGClientID[client.ID]; ok {
		clientID = id
	}
	claims := map[string]any{
		"iss":       s.Issuer(),
		"sub":       sub,
		"aud":       form.Get("audience"),
		"client_id": clientID,
		"jti":       randomToken(),
		"iat":       now.Unix(),
		"exp":       now.Add(IDJAGTTL).Unix(),
	}
	if len(resources) > 0 {
		claims["resource"] = audClaim(resources)
	}
	scope := strings.Join(dedupe(strings.Fields(form.Get("scope"))), " ")
	if scope != "" {
		claims["scope"] = scope
	}
	if at, ok, _ := t.date("auth_time"); ok {
		claims["auth_time"] = at.Unix()
	}
	body := map[string]any{
		"access_token":      s.idKey.sign(IDJAGTyp, claims),
		"issued_token_type": IDJAGTokenType,
		"token_type":        "N_A",
		"expires_in":        int64(IDJAGTTL / time.Second),
	}
	if scope != "" {
		body["scope"] = scope
	}
	return body, nil
}

// handleJWKS serves the server's public signing key as a JWK Set
// (RFC 7517 §5), the metadata's jwks_uri.
func (s *Server) handleJWKS(x *exchange) {
	x.Header().Set("Cache-Control", "no-cache")
	x.writeJSON(http.StatusOK, map[string]any{"keys": []map[string]string{s.idKey.jwk()}})
}
