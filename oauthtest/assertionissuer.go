package oauthtest

import (
	"crypto"
	"time"
)

// AssertionIssuer mints JWTs as a workload platform would (a Kubernetes
// service account issuer, a CI system's OIDC provider), for tests of the
// JWT-bearer grant: give its Trusted() to Config.TrustedIssuers and present
// what Sign returns as the assertion. Its key is a fresh ES256 (P-256)
// key. It is safe for concurrent use.
type AssertionIssuer struct {
	issuer string
	key    signingKey
}

// NewAssertionIssuer returns an issuer named issuer (the iss of its JWTs)
// with a fresh key.
func NewAssertionIssuer(issuer string) *AssertionIssuer {
	return &AssertionIssuer{issuer: issuer, key: newSigningKey()}
}

// Issuer returns the issuer's name.
func (a *AssertionIssuer) Issuer() string { return a.issuer }

// Key returns the issuer's public key (an *ecdsa.PublicKey on P-256).
func (a *AssertionIssuer) Key() crypto.PublicKey { return &a.key.priv.PublicKey }

// Trusted returns the issuer as a Config.TrustedIssuers entry.
func (a *AssertionIssuer) Trusted() TrustedIssuer {
	return TrustedIssuer{Issuer: a.issuer, Key: a.Key()}
}

// Sign returns an ES256 JWT (typ "JWT", with the issuer's kid) of exactly
// the claims given, so that a test can leave any out; see Claims for a
// complete set. It panics if the claims cannot be encoded as JSON.
func (a *AssertionIssuer) Sign(claims map[string]any) string {
	return a.key.sign("JWT", claims)
}

// SignTyped is Sign with the typ header given, such as IDJAGTyp for an
// ID-JAG.
func (a *AssertionIssuer) SignTyped(typ string, claims map[string]any) string {
	return a.key.sign(typ, claims)
}

// Claims returns a complete set of claims for a workload token: iss (the
// issuer), sub, aud, iat (now), exp (now plus ttl) and a jti unique to the
// call. Change or delete entries before Sign to break a rule.
func (a *AssertionIssuer) Claims(sub, aud string, now time.Time, ttl time.Duration) map[string]any {
	return map[string]any{
		"iss": a.issuer,
		"sub": sub,
		"aud": aud,
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
		"jti": randomToken(),
	}
}
