package assertion

// Client assertions: JWTs with which a client authenticates at a token
// endpoint, signed by its private key (RFC 7523 §2.2 and §3; OpenID
// Connect Core §9, private_key_jwt).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/authloop/authloop/internal/jose"
)

// AssertionLifetime is how long a client assertion is valid (exp - iat):
// short, because an assertion is made for one token request and a server
// keeps the jti of each it accepted only until its exp (RFC 7523 §3).
const AssertionLifetime = 60 * time.Second

// MinRSABits is the smallest RSA key NewSigner takes (RFC 7518 §3.3 asks
// for 2048 bits or more).
const MinRSABits = 2048

// jtiBytes is the number of random bytes in an assertion's jti.
const jtiBytes = 16

// Signer signs client assertions with one private key. It is immutable and
// safe for concurrent use when its crypto.Signer is (the standard
// library's keys are). Printing a Signer, with any fmt verb or through
// log/slog, shows its algorithm and kid only, never the key.
type Signer struct {
	key crypto.Signer
	pub crypto.PublicKey
	alg jose.Alg
	kid string
	jwk []byte // the public JWK with kid, alg and use
}

// NewSigner makes a Signer of key, whose algorithm follows from its public
// key: RSA of at least MinRSABits bits signs RS256, ECDSA on P-256 ES256,
// on P-384 ES384, on P-521 ES512, and Ed25519 EdDSA. Any other key is
// refused with an error naming what it is and what is accepted. key may be
// held elsewhere (a hardware module, a KMS): each signature is verified
// with its public key before an assertion is handed out.
//
// keyID is the kid of the assertions and of PublicJWK; "" means the key's
// JWK SHA-256 thumbprint (RFC 7638), the name a server computes itself.
func NewSigner(key crypto.Signer, keyID string) (*Signer, error) {
	s, err := newSigner(key, keyID)
	if err != nil {
		return nil, fmt.Errorf("assertion: NewSigner: %w", err)
	}
	return s, nil
}

// newSigner is NewSigner, with errors that do not name the function.
func newSigner(key crypto.Signer, keyID string) (*Signer, error) {
	if key == nil || isNilKey(key) {
		return nil, errors.New("the key is nil; pass a private key (ParsePrivateKey reads one from PEM or a JWK)")
	}
	pub := key.Public()
	alg, err := algorithmOf(pub)
	if err != nil {
		return nil, err
	}
	canonical, err := jose.PublicJWK(pub)
	if err != nil {
		return nil, fmt.Errorf("%v; use another key", err)
	}
	if keyID == "" {
		keyID = jose.Thumbprint(canonical)
	}
	if !utf8.ValidString(keyID) {
		return nil, errors.New("the key ID is not valid UTF-8; pass a kid of text, or \"\" for the key's thumbprint")
	}
	kid, err := json.Marshal(keyID)
	if err != nil {
		return nil, fmt.Errorf("the key ID: %w", err)
	}
	jwk := append(canonical[:len(canonical)-1:len(canonical)-1], `,"alg":"`+string(alg)+`","kid":`+string(kid)+`,"use":"sig"}`...)
	return &Signer{key: key, pub: pub, alg: alg, kid: keyID, jwk: jwk}, nil
}

// isNilKey reports a typed nil among the standard library's keys, whose
// Public would panic.
func isNilKey(key crypto.Signer) bool {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k == nil
	case *ecdsa.PrivateKey:
		return k == nil
	case ed25519.PrivateKey:
		return len(k) != ed25519.PrivateKeySize
	}
	return false
}

// accepted is what algorithmOf's errors list.
const accepted = "RSA of 2048 bits or more (RS256), ECDSA on P-256, P-384 or P-521 (ES256, ES384, ES512) or Ed25519 (EdDSA)"

// algorithmOf is the JWS algorithm a Signer uses for pub.
func algorithmOf(pub crypto.PublicKey) (jose.Alg, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pub == nil || pub.N == nil {
			return "", errors.New("the key's public key is a nil RSA key; pass a complete private key")
		}
		if bits := pub.N.BitLen(); bits < MinRSABits {
			return "", fmt.Errorf("the key is RSA of %d bits, fewer than %d; make a new key (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072) or use one of: %s", bits, MinRSABits, accepted)
		}
		return jose.RS256, nil
	case *ecdsa.PublicKey:
		if pub == nil || pub.Curve == nil {
			return "", errors.New("the key's public key is a nil ECDSA key; pass a complete private key")
		}
		switch name := pub.Curve.Params().Name; name {
		case "P-256":
			return jose.ES256, nil
		case "P-384":
			return jose.ES384, nil
		case "P-521":
			return jose.ES512, nil
		default:
			return "", fmt.Errorf("the key is ECDSA on %s; use one of: %s", name, accepted)
		}
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	}
	return "", fmt.Errorf("the key is a %T; use one of: %s", pub, accepted)
}

// Algorithm returns the JWS algorithm of the assertions: "RS256", "ES256",
// "ES384", "ES512" or "EdDSA".
func (s *Signer) Algorithm() string { return string(s.alg) }

// KeyID returns the kid of the assertions and of PublicJWK.
func (s *Signer) KeyID() string { return s.kid }

// PublicJWK returns the public key as a JWK JSON object with its kid, alg
// and use "sig", never a private member: what a client registers with its
// authorization server (a jwks or jwks_uri entry). The bytes are a copy.
func (s *Signer) PublicJWK() []byte { return append([]byte(nil), s.jwk...) }

// JWKS returns {"keys":[PublicJWK]}, a JWK Set (RFC 7517 §5) to register
// as the client's jwks or to serve at its jwks_uri.
func (s *Signer) JWKS() []byte {
	return append(append([]byte(`{"keys":[`), s.jwk...), "]}"...)
}

// header is an assertion's JOSE header, in the order it is written.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// claims are an assertion's claims (RFC 7523 §3), in the order written.
type claims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Jti string `json:"jti"`
}

// ClientAssertion returns a new client assertion: a compact JWS whose
// header is {"alg","kid","typ":"JWT"} and whose claims are iss and sub
// clientID, aud audience (the token endpoint's URL, or the issuer, as the
// server asks), iat now, exp now + AssertionLifetime, and a jti of 128
// random bits, new at each call (a server refuses a jti it has seen). Send
// it as client_assertion with client_assertion_type ClientAssertionType.
//
// now is in whole seconds; it must be between 1970 and 9999. An empty
// clientID or audience is refused. ClientAssertion blocks while the key
// signs (a hardware key may wait for a touch or a PIN), and refuses a
// signature that does not verify with the key's public key.
func (s *Signer) ClientAssertion(clientID, audience string, now time.Time) (string, error) {
	if s == nil || s.key == nil {
		return "", errors.New("assertion: ClientAssertion: the Signer is zero; make one with NewSigner or LoadSigner")
	}
	if clientID == "" || audience == "" {
		return "", errors.New("assertion: ClientAssertion: the client ID and the audience are required; pass the client_id and the token endpoint's URL (or the issuer)")
	}
	iat := now.Unix()
	if iat < 0 || iat > jose.MaxNumericDate-int64(AssertionLifetime/time.Second) {
		return "", fmt.Errorf("assertion: ClientAssertion: the time %v is not between 1970 and 9999; check the clock", now)
	}
	jti := make([]byte, jtiBytes)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("assertion: ClientAssertion: reading random bytes: %w", err)
	}
	h, err := json.Marshal(header{Alg: string(s.alg), Kid: s.kid, Typ: "JWT"})
	if err != nil {
		return "", fmt.Errorf("assertion: ClientAssertion: %w", err)
	}
	c, err := json.Marshal(claims{
		Iss: clientID, Sub: clientID, Aud: audience,
		Iat: iat, Exp: iat + int64(AssertionLifetime/time.Second), Jti: jose.Encode(jti),
	})
	if err != nil {
		return "", fmt.Errorf("assertion: ClientAssertion: %w", err)
	}
	input := jose.Encode(h) + "." + jose.Encode(c)
	sig, err := jose.Sign(s.key, s.alg, input)
	if err != nil {
		return "", fmt.Errorf("assertion: ClientAssertion: %w", err)
	}
	if !jose.Verify(s.pub, s.alg, input, sig) {
		return "", fmt.Errorf("assertion: ClientAssertion: the signature does not verify with the key's public key (%v): the signer signs with another key, or not with %s", s, s.alg)
	}
	return input + "." + jose.Encode(sig), nil
}

// String returns "assertion.Signer(ALG, kid KID)": never the key.
func (s Signer) String() string { return "assertion.Signer(" + string(s.alg) + ", kid " + s.kid + ")" }

// Format prints String for every verb (%v, %+v, %#v, %x, …), so that no
// verb reaches the key's fields.
func (s Signer) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue makes log/slog print String, never the key.
func (s Signer) LogValue() slog.Value { return slog.StringValue(s.String()) }
