package oauthtest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// codeTTL is how long an authorization code can be exchanged.
const codeTTL = 60 * time.Second

// grant is one authorization: what a user (or a client, for
// client_credentials) allowed a client. Every token issued from it belongs
// to it; revoking it revokes them all (the refresh token "family").
type grant struct {
	clientID  string
	subject   string
	scopes    []string
	resources []string
	nonce     string
	authTime  time.Time
	machine   bool // client_credentials, JWT bearer: no sign-in here, no ID token
	revoked   bool
}

// authCode is an authorization code waiting to be exchanged.
type authCode struct {
	clientID      string
	redirectParam string // redirect_uri as sent in the authorization request ("" if absent)
	challenge     string
	scopes        []string
	resources     []string
	nonce         string
	dpopJKT       string // dpop_jkt of the request (RFC 9449 §10), with Config.DPoP
	expires       time.Time
	authTime      time.Time
	used          bool
	grant         *grant // set once exchanged, to revoke on reuse
}

type accessToken struct {
	grant   *grant
	scopes  []string
	aud     []string
	expires time.Time
	revoked bool
	jkt     string // the DPoP key's thumbprint (cnf.jkt), "" for a bearer token
}

type refreshToken struct {
	grant   *grant
	expires time.Time // zero: never
	rotated bool      // replaced by a newer one; presenting it again is reuse
	jkt     string    // the DPoP key it is bound to (RFC 9449 §5), or ""
}

func (at *accessToken) validAt(now time.Time) bool {
	return !at.revoked && !at.grant.revoked && now.Before(at.expires)
}

// ValidAccessToken reports whether tok is an access token this server
// issued that has neither expired (by the Clock) nor been revoked.
func (s *Server) ValidAccessToken(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.access[tok]
	return at != nil && at.validAt(s.clock.Now())
}

// RevokeAll revokes every grant, and with them every access and refresh
// token issued so far: the next refresh gets invalid_grant. Authorization
// codes not yet exchanged stay usable.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.grants {
		g.revoked = true
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand docs)
	return b
}

// randomToken returns 32 random bytes, base64url-encoded (43 characters).
func randomToken() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

// tokenSet is what one token response carries.
type tokenSet struct {
	access     string
	accessTTL  time.Duration
	scopes     []string
	refresh    string
	refreshTTL time.Duration // remaining lifetime of the refresh token in use, 0 = none
	idToken    string
	jkt        string // the DPoP key the tokens are bound to, or "" (bearer)
}

// issueLocked creates an access token (and, when withRefresh, a new refresh
// token) for g, bound to the DPoP key whose thumbprint is jkt, or bearer
// tokens when jkt is "". The caller holds s.mu.
func (s *Server) issueLocked(g *grant, scopes, aud []string, withRefresh bool, jkt string) tokenSet {
	now := s.clock.Now()
	ts := tokenSet{accessTTL: s.cfg.AccessTokenTTL, scopes: scopes, jkt: jkt}
	if len(aud) == 0 {
		aud = []string{g.clientID}
	}
	at := &accessToken{grant: g, scopes: scopes, aud: aud, expires: now.Add(s.cfg.AccessTokenTTL), jkt: jkt}
	if s.cfg.JWTAccessTokens {
		claims := map[string]any{
			"iss":       s.Issuer(),
			"sub":       g.subject,
			"aud":       audClaim(aud),
			"exp":       at.expires.Unix(),
			"iat":       now.Unix(),
			"jti":       randomToken(),
			"client_id": g.clientID,
		}
		if len(scopes) > 0 {
			claims["scope"] = strings.Join(scopes, " ")
		}
		if jkt != "" {
			claims["cnf"] = map[string]string{"jkt": jkt} // RFC 9449 §6.1
		}
		ts.access = s.signJWT("at+jwt", claims)
	} else {
		ts.access = randomToken()
	}
	s.access[ts.access] = at
	if withRefresh {
		ts.refresh = randomToken()
		rt := &refreshToken{grant: g, jkt: jkt}
		if s.cfg.RefreshTokenTTL > 0 {
			rt.expires = now.Add(s.cfg.RefreshTokenTTL)
			ts.refreshTTL = s.cfg.RefreshTokenTTL
		}
		s.refresh[ts.refresh] = rt
	}
	if slices.Contains(g.scopes, "openid") && !g.machine {
		claims := map[string]any{
			"iss":       s.Issuer(),
			"sub":       g.subject,
			"aud":       g.clientID,
			"exp":       at.expires.Unix(),
			"iat":       now.Unix(),
			"auth_time": g.authTime.Unix(),
		}
		if g.nonce != "" {
			claims["nonce"] = g.nonce
		}
		ts.idToken = s.idKey.sign("JWT", claims) // ES256 with a kid, so an ID token can be checked with PublicKey alone
	}
	return ts
}

func audClaim(aud []string) any {
	if len(aud) == 1 {
		return aud[0]
	}
	return aud
}

// signJWT returns an HS256 JWT with the given typ header and claims.
func (s *Server) signJWT(typ string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": typ})
	c, _ := json.Marshal(claims)
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// tokenResponse renders ts as a token response body, with the configured
// quirks.
func (s *Server) tokenResponse(ts tokenSet) map[string]any {
	m := map[string]any{
		"access_token": ts.access,
		"token_type":   s.cfg.TokenType,
	}
	if ts.jkt != "" {
		m["token_type"] = "DPoP" // RFC 9449 §5
	}
	secs := int64(ts.accessTTL / time.Second)
	switch {
	case s.cfg.OmitExpiresIn:
	case s.cfg.ExpiresInAsString:
		m["expires_in"] = strconv.FormatInt(secs, 10)
	default:
		m["expires_in"] = secs
	}
	if len(ts.scopes) > 0 {
		m["scope"] = strings.Join(ts.scopes, " ")
	}
	if ts.refresh != "" {
		m["refresh_token"] = ts.refresh
	}
	if f := s.cfg.RefreshTokenExpiresInField; f != "" && ts.refreshTTL > 0 {
		m[f] = int64(ts.refreshTTL / time.Second)
	}
	if ts.idToken != "" {
		m["id_token"] = ts.idToken
	}
	return m
}
