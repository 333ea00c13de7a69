package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authloop/authloop/internal/jose"
)

// MaxProofSize is the largest proof Parse reads, in bytes; a longer one is
// refused before anything is decoded. A proof of this package is about
// 600 bytes.
const MaxProofSize = 8 << 10

// Proof is a DPoP proof whose syntax, header and signature Parse checked.
// Its claims say which request it was made for; Check compares them with
// the request it arrived with.
//
// Replay is the server's to stop: a proof passes Parse and Check as often
// as it is presented. A server keeps the JTI of every proof it accepted
// for as long as Check would accept it (Check.MaxAge plus a minute), per
// key if it likes, and refuses a JTI it has seen (RFC 9449 §11.1).
type Proof struct {
	// JTI is the proof's unique identifier (never empty).
	JTI string
	// HTM is the HTTP method the proof is for (never empty).
	HTM string
	// HTU is the absolute http or https URL the proof is for, as the
	// client wrote it.
	HTU string
	// IAT is when the client made the proof.
	IAT time.Time
	// Nonce is the server-provided nonce the proof carries, or "".
	Nonce string
	// ATH is the base64url SHA-256 of the access token the proof is bound
	// to, or "" (a proof for a token request).
	ATH string

	jkt string
}

// JKT returns the JWK SHA-256 thumbprint (RFC 7638) of the key that signed
// the proof: the value an access token bound to that key carries in
// cnf.jkt (RFC 9449 §6).
func (p *Proof) JKT() string { return p.jkt }

// privateJWKMembers are the members that carry private key material, in
// any key type (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// Parse checks a DPoP proof (the DPoP header's value) as RFC 9449 §4.3
// asks, for what the proof alone can tell: it is at most MaxProofSize
// bytes, a compact JWS of three strict base64url parts (no padding, no line
// breaks), whose header and claims are JSON objects without a repeated
// member; the header's typ is exactly "dpop+jwt", its alg exactly "ES256"
// ("none", HS256 and every other algorithm are refused), it has no crit, and
// its jwk is a public EC key on P-256 (a point on the curve) with no
// private member; the signature is 64 bytes and verifies with that key; the
// claims jti, htm, htu and iat are present (htu an absolute http or https
// URL), nonce and ath are strings when present.
//
// Every error matches ErrInvalidProof. What depends on the request and on
// the server's state (method, URL, age, nonce, access token, key binding)
// is Proof.Check's; replay is the caller's (see Proof).
func Parse(proof string) (*Proof, error) {
	if len(proof) > MaxProofSize {
		return nil, invalid("the proof is %d bytes, more than the %d this server reads", len(proof), MaxProofSize)
	}
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		return nil, invalid("the proof has %d parts, a compact JWS has 3 separated by dots", len(parts))
	}
	headerJSON, err := jose.Decode(parts[0])
	if err != nil {
		return nil, invalid("the header is not base64url without padding: %v", err)
	}
	claimsJSON, err := jose.Decode(parts[1])
	if err != nil {
		return nil, invalid("the claims are not base64url without padding: %v", err)
	}
	sig, err := jose.Decode(parts[2])
	if err != nil {
		return nil, invalid("the signature is not base64url without padding: %v", err)
	}

	header, err := jose.Object(headerJSON)
	if err != nil {
		return nil, invalid("header: %v", err)
	}
	if typ, _, err := jose.StringMember(header, "typ"); err != nil || typ != "dpop+jwt" {
		return nil, invalid(`the header's typ is not "dpop+jwt"`)
	}
	if alg, _, err := jose.StringMember(header, "alg"); err != nil || alg != "ES256" {
		return nil, invalid(`the header's alg is %.20q; only "ES256" is accepted`, alg)
	}
	if _, ok := header["crit"]; ok {
		return nil, invalid("the header has crit, and this server understands no extension")
	}
	rawJWK, ok := header["jwk"]
	if !ok {
		return nil, invalid("the header has no jwk")
	}
	pub, canonical, err := parseJWK(rawJWK)
	if err != nil {
		return nil, invalid("the header's jwk: %v", err)
	}

	if size := jose.ES256.SignatureSize(); len(sig) != size {
		return nil, invalid("the signature is %d bytes; an ES256 signature is %d (R and S, not ASN.1)", len(sig), size)
	}
	if !jose.Verify(pub, jose.ES256, proof[:len(parts[0])+1+len(parts[1])], sig) {
		return nil, invalid("the signature does not verify with the header's jwk")
	}

	c, err := jose.Object(claimsJSON)
	if err != nil {
		return nil, invalid("claims: %v", err)
	}
	p := &Proof{jkt: jose.Thumbprint(canonical)}
	for _, m := range []struct {
		name     string
		to       *string
		required bool
	}{
		{"jti", &p.JTI, true},
		{"htm", &p.HTM, true},
		{"htu", &p.HTU, true},
		{"nonce", &p.Nonce, false},
		{"ath", &p.ATH, false},
	} {
		v, _, err := jose.StringMember(c, m.name)
		if err != nil {
			return nil, invalid("claims: %v", err)
		}
		if m.required && v == "" {
			return nil, invalid("the claim %s is missing or empty", m.name)
		}
		*m.to = v
	}
	if !isToken(p.HTM) {
		return nil, invalid("htm %.40q is not an HTTP method", p.HTM)
	}
	if _, err := targetURI(p.HTU); err != nil {
		return nil, invalid("htu: %v", err)
	}
	if p.IAT, err = jose.NumericDate(c["iat"]); err != nil {
		return nil, invalid("iat: %v", err)
	}
	return p, nil
}

// parseJWK reads the header's jwk: a public EC key on P-256, with x and y of
// 32 bytes each that make a point on the curve, and no private member. It
// returns the key and its canonical form (the thumbprint's input).
func parseJWK(raw json.RawMessage) (*ecdsa.PublicKey, []byte, error) {
	m, err := jose.Object(raw)
	if err != nil {
		return nil, nil, err
	}
	for _, name := range privateJWKMembers {
		if _, ok := m[name]; ok {
			return nil, nil, fmt.Errorf("it has the private member %q: a proof carries the public key only", name)
		}
	}
	if kty, _, err := jose.StringMember(m, "kty"); err != nil || kty != "EC" {
		return nil, nil, errors.New(`kty is not "EC"`)
	}
	if crv, _, err := jose.StringMember(m, "crv"); err != nil || crv != "P-256" {
		return nil, nil, errors.New(`crv is not "P-256"`)
	}
	var xy [2][]byte
	for i, name := range []string{"x", "y"} {
		v, _, err := jose.StringMember(m, name)
		if err != nil {
			return nil, nil, err
		}
		b, err := jose.Decode(v)
		if err != nil || len(b) != 32 {
			return nil, nil, fmt.Errorf("%s is not 32 bytes of base64url", name)
		}
		xy[i] = b
	}
	point := append(append([]byte{4}, xy[0]...), xy[1]...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, nil, errors.New("x and y are not a point on P-256")
	}
	canonical, err := jose.PublicJWK(pub)
	if err != nil {
		return nil, nil, err
	}
	return pub, canonical, nil
}
