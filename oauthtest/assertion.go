package oauthtest

// Client authentication with JWT assertions, private_key_jwt (RFC 7523 §2.2
// and §3, RFC 7521 §4.2), and the rules it shares with the JWT-bearer grant
// (jwtbearer.go): the audience, the times and the replay of a jti.

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// DefaultMaxAssertionLifetime is how far after its iat (or the server's
// now) a client assertion's exp may lie when Config.MaxAssertionLifetime is
// 0.
const DefaultMaxAssertionLifetime = 5 * time.Minute

// Values of Config.AssertionAudience.
const (
	// AudienceIssuer accepts only assertions whose aud names the issuer.
	AudienceIssuer = "issuer"
	// AudienceTokenEndpoint accepts only assertions whose aud names the
	// token endpoint's URL.
	AudienceTokenEndpoint = "token_endpoint"
)

// readAssertionCredentials reads a request's client assertion (RFC 7521
// §4.2): client_assertion_type and client_assertion go together, with no
// other authentication beside them. The client is the client_id parameter
// or, without one, the assertion's sub (read here without checking it;
// checkClientAssertionLocked checks it).
func readAssertionCredentials(r *http.Request, form url.Values, hasSecret bool) (clientCredentials, *oauthError) {
	var cc clientCredentials
	if hasSecret || r.Header.Get("Authorization") != "" {
		return cc, &oauthError{code: "invalid_request", desc: "more than one client authentication method used: send the client assertion alone"}
	}
	typ, a := form.Get("client_assertion_type"), form.Get("client_assertion")
	if typ == "" || a == "" {
		return cc, &oauthError{code: "invalid_request", desc: "client_assertion_type and client_assertion must be sent together"}
	}
	if typ != ClientAssertionType {
		return cc, &oauthError{code: "invalid_client", desc: "unsupported client_assertion_type " + strconv.Quote(typ) + ": use " + ClientAssertionType}
	}
	cc.method, cc.assertion, cc.id = AuthPrivateKeyJWT, a, form.Get("client_id")
	if cc.id == "" {
		t, err := parseJWT(a)
		if err != nil {
			return cc, &oauthError{code: "invalid_client", desc: "client_assertion is not a JWT: " + err.Error()}
		}
		if cc.id, _ = t.str("sub"); cc.id == "" {
			return cc, &oauthError{code: "invalid_client", desc: "client_assertion has no sub: it must be the client_id"}
		}
	}
	return cc, nil
}

// checkClientAssertionLocked checks a private_key_jwt client assertion for
// client c: a JWT whose alg fits c.PublicKey ("none" and HS* refused),
// whose signature verifies with it, whose iss and sub are both the
// client_id (and the client_id parameter, when sent, is that too: the
// caller looked the client up by it), whose aud names this server
// (Config.AssertionAudience), whose exp is in the future and at most
// Config.MaxAssertionLifetime after its iat and after now, whose nbf, if
// any, has come, and whose jti is new. The jti is then kept until the exp,
// so a replay is refused. Every refusal is invalid_client naming the
// check. The caller holds s.mu.
func (s *Server) checkClientAssertionLocked(c *Client, assertion string) *oauthError {
	refuse := func(desc string) *oauthError {
		return &oauthError{code: "invalid_client", desc: "client_assertion: " + desc}
	}
	if c.PublicKey == nil {
		return refuse("the client has no registered public key (Client.PublicKey) to verify it with")
	}
	t, err := parseJWT(assertion)
	if err != nil {
		return refuse("not a JWT: " + err.Error())
	}
	if err := t.verify(c.PublicKey); err != nil {
		return refuse(err.Error())
	}
	iss, _ := t.str("iss")
	sub, _ := t.str("sub")
	switch {
	case iss != c.ID:
		return refuse("iss " + strconv.Quote(iss) + " is not the client_id " + strconv.Quote(c.ID))
	case sub != c.ID:
		return refuse("sub " + strconv.Quote(sub) + " is not the client_id " + strconv.Quote(c.ID))
	}
	if desc := s.checkAudience(t, s.cfg.AssertionAudience); desc != "" {
		return refuse(desc)
	}
	now := s.clock.Now()
	exp, desc := checkTimes(t, now)
	if desc != "" {
		return refuse(desc)
	}
	limit := s.cfg.MaxAssertionLifetime
	if limit <= 0 {
		limit = DefaultMaxAssertionLifetime
	}
	if exp.Sub(now) > limit {
		return refuse("exp is more than " + limit.String() + " away: make short-lived assertions")
	}
	if iat, ok, _ := t.date("iat"); ok && exp.Sub(iat) > limit {
		return refuse("exp is more than " + limit.String() + " after iat: make short-lived assertions")
	}
	jti, _ := t.str("jti")
	if jti == "" {
		return refuse("jti is missing: give every assertion a unique jti")
	}
	if !s.rememberJTILocked("client\x00"+c.ID+"\x00"+jti, exp, now) {
		return refuse("jti " + strconv.Quote(jti) + " already used: make a new assertion for each request")
	}
	return nil
}

// checkAudience checks that t's aud names this server as mode asks: the
// issuer or the token endpoint for "", only one of them for
// AudienceIssuer or AudienceTokenEndpoint. It returns what is wrong, or "".
func (s *Server) checkAudience(t *jwt, mode string) string {
	var want []string
	switch mode {
	case AudienceIssuer:
		want = []string{s.Issuer()}
	case AudienceTokenEndpoint:
		want = []string{s.TokenEndpoint()}
	default:
		want = []string{s.Issuer(), s.TokenEndpoint()}
	}
	for _, a := range t.audiences() {
		if slices.Contains(want, a) {
			return ""
		}
	}
	if len(want) == 1 {
		return "aud does not name " + strconv.Quote(want[0])
	}
	return "aud names neither the issuer " + strconv.Quote(want[0]) + " nor the token endpoint " + strconv.Quote(want[1])
}

// checkTimes checks t's exp (required, after now) and nbf (if any, not
// after now), and returns the exp, or what is wrong.
func checkTimes(t *jwt, now time.Time) (time.Time, string) {
	exp, ok, err := t.date("exp")
	switch {
	case err != nil:
		return exp, err.Error()
	case !ok:
		return exp, "exp is missing"
	case !now.Before(exp):
		return exp, "expired (exp " + exp.UTC().Format(time.RFC3339) + " is not after now " + now.UTC().Format(time.RFC3339) + ")"
	}
	nbf, ok, err := t.date("nbf")
	switch {
	case err != nil:
		return exp, err.Error()
	case ok && now.Before(nbf):
		return exp, "not valid yet (nbf is after now)"
	}
	if _, _, err := t.date("iat"); err != nil {
		return exp, err.Error()
	}
	return exp, ""
}

// rememberJTILocked records key (a kind, an issuer and a jti) as used until
// until and reports whether it is new. Entries whose time has passed are
// dropped: their assertions have expired and are refused for that. The
// caller holds s.mu.
func (s *Server) rememberJTILocked(key string, until, now time.Time) bool {
	for k, t := range s.seenJTI {
		if !now.Before(t) {
			delete(s.seenJTI, k)
		}
	}
	if _, ok := s.seenJTI[key]; ok {
		return false
	}
	s.seenJTI[key] = until
	return true
}
