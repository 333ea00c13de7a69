package oauthtest

// The JWT-bearer authorization grant (RFC 7523 §2.1 and §3): a JWT signed
// by an issuer the server trusts (a workload platform, or an enterprise
// identity provider's ID-JAG, see idjag.go) is exchanged for an access
// token for its subject.

import (
	"crypto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// JWTBearerGrantType is the grant_type of the JWT-bearer grant (RFC 7523
// §2.1); the JWT goes in the assertion parameter.
const JWTBearerGrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// TrustedIssuer is an issuer whose JWTs the server takes as JWT-bearer
// grants: a workload platform (a Kubernetes service account issuer, a CI
// system's OIDC tokens) or an enterprise identity provider issuing
// ID-JAGs.
type TrustedIssuer struct {
	// Issuer is the iss the JWTs carry, compared byte for byte.
	Issuer string
	// Key verifies their signatures: an RSA, ECDSA or Ed25519 public key,
	// as Client.PublicKey.
	Key crypto.PublicKey
}

// trustedIssuer returns the trusted issuer named iss, or nil.
func (s *Server) trustedIssuer(iss string) *TrustedIssuer {
	for i := range s.cfg.TrustedIssuers {
		if s.cfg.TrustedIssuers[i].Issuer == iss {
			return &s.cfg.TrustedIssuers[i]
		}
	}
	return nil
}

// jwtBearerLocked runs the JWT-bearer grant for client, which may be a
// public client or one that authenticated. The assertion must be a JWT
// from one of Config.TrustedIssuers, signed by its key, whose aud names
// this server (Config.AssertionAudience; an ID-JAG's must be the issuer),
// whose exp is in the future and nbf, if any, has come, with a sub, and
// whose jti, if any (Config.RequireJTI: required), is new. An ID-JAG (typ
// oauth-id-jag+jwt) must also name client as its client_id, and its
// resource and scope bound the request's. The access token is for the sub,
// with no ID token; a refresh token only with Config.JWTBearerRefreshTokens.
// Refusals of the assertion are invalid_grant naming the check. The caller
// holds s.mu.
func (s *Server) jwtBearerLocked(client *Client, form url.Values, jkt string) (tokenSet, *oauthError) {
	refuse := func(desc string) (tokenSet, *oauthError) {
		return tokenSet{}, &oauthError{code: "invalid_grant", desc: "assertion: " + desc}
	}
	a := form.Get("assertion")
	if a == "" {
		return tokenSet{}, &oauthError{code: "invalid_request", desc: "assertion is missing: send the JWT as the assertion parameter"}
	}
	t, err := parseJWT(a)
	if err != nil {
		return refuse("not a JWT: " + err.Error())
	}
	iss, _ := t.str("iss")
	ti := s.trustedIssuer(iss)
	if ti == nil {
		return refuse("iss " + strconv.Quote(iss) + " is not a trusted issuer (Config.TrustedIssuers)")
	}
	if err := t.verify(ti.Key); err != nil {
		return refuse(err.Error())
	}
	idjag := isIDJAGTyp(t.typ)
	mode := s.cfg.AssertionAudience
	if idjag {
		mode = AudienceIssuer // the draft's rule: aud is the issuer
	}
	if desc := s.checkAudience(t, mode); desc != "" {
		return refuse(desc)
	}
	now := s.clock.Now()
	exp, desc := checkTimes(t, now)
	if desc != "" {
		return refuse(desc)
	}
	sub, _ := t.str("sub")
	if sub == "" {
		return refuse("sub is missing: it names the subject the token is for")
	}
	jti, _ := t.str("jti")
	if jti == "" && (s.cfg.RequireJTI || idjag) {
		return refuse("jti is missing: give every assertion a unique jti")
	}

	scopes, bad := checkScopes(form.Get("scope"), s.allowedScopes(client))
	if bad != "" {
		return tokenSet{}, &oauthError{code: "invalid_scope", desc: "scope " + bad + " is not allowed"}
	}
	g := &grant{clientID: client.ID, subject: sub, scopes: scopes, authTime: now, machine: true}
	if idjag {
		var oerr *oauthError
		if g.scopes, g.resources, oerr = s.idJAGGrant(t, client, form); oerr != nil {
			return tokenSet{}, oerr
		}
	}
	aud, oerr := s.resourcesFor(g, form, true)
	if oerr != nil {
		return tokenSet{}, oerr
	}
	if jti != "" && !s.rememberJTILocked("grant\x00"+iss+"\x00"+jti, exp, now) {
		return refuse("jti " + strconv.Quote(jti) + " already used: a JWT-bearer assertion is good for one request")
	}
	s.grants = append(s.grants, g)
	return s.issueLocked(g, g.scopes, aud, s.cfg.JWTBearerRefreshTokens && !s.cfg.DisableRefreshTokens, jkt), nil
}

// idJAGGrant checks an ID-JAG's own claims (draft-ietf-oauth-identity-
// assertion-authz-grant) against the request of client and returns the
// grant's scopes and resources: its client_id must be client's; its
// resource, if any, bounds the request's resources and is the grant's when
// the request names none; the request's scope must be within its scope
// (none asked: its scope, within what client may have).
func (s *Server) idJAGGrant(t *jwt, client *Client, form url.Values) ([]string, []string, *oauthError) {
	refuse := func(desc string) ([]string, []string, *oauthError) {
		return nil, nil, &oauthError{code: "invalid_grant", desc: "ID-JAG: " + desc}
	}
	if cid, _ := t.str("client_id"); cid != client.ID {
		return refuse("client_id " + strconv.Quote(cid) + " is not the requesting client " + strconv.Quote(client.ID))
	}
	resources := claimStrings(t.claims["resource"])
	if len(resources) > 0 {
		for _, r := range form["resource"] {
			if !slices.Contains(resources, r) {
				return refuse("the request's resource " + strconv.Quote(r) + " is not the ID-JAG's resource")
			}
		}
	}
	granted := strings.Fields(scopeClaim(t))
	asked, present := form["scope"]
	if !present {
		var scopes []string
		for _, sc := range granted {
			if slices.Contains(s.allowedScopes(client), sc) && !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
		return scopes, resources, nil
	}
	scopes, bad := checkScopes(asked[0], granted)
	if bad != "" {
		return nil, nil, &oauthError{code: "invalid_scope", desc: "scope " + bad + " is not in the ID-JAG's scope"}
	}
	return scopes, resources, nil
}

// scopeClaim returns the scope claim, a space-separated string, or "".
func scopeClaim(t *jwt) string {
	sc, _ := t.str("scope")
	return sc
}

// claimStrings returns a claim that is a string or an array of strings as a
// list.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
