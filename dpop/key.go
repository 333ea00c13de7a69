package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/authloop/authloop/internal/jose"
)

// Key is a DPoP key: an ES256 (ECDSA on P-256) signer and its public key.
// It signs proofs (Key.Proof) and names itself by its JWK thumbprint.
//
// A Key is immutable and safe for concurrent use when its crypto.Signer is
// (an *ecdsa.PrivateKey is). Printing a Key, with any fmt verb or through
// log/slog, shows only "dpop.Key(thumbprint …)", never private material.
type Key struct {
	signer crypto.Signer
	// priv is the signer when it is an in-memory *ecdsa.PrivateKey: only
	// such a key can be marshalled; nil for a foreign signer (hardware).
	priv *ecdsa.PrivateKey
	pub  *ecdsa.PublicKey
	// jwk is the public JWK with the members of RFC 7638 §3.2 in
	// lexicographic order; its SHA-256 is the thumbprint.
	jwk []byte
	jkt string
}

// NewKey wraps signer, whose public key must be an ECDSA key on P-256 (the
// only curve of ES256, the one algorithm this package speaks). signer may be
// an *ecdsa.PrivateKey or a key held elsewhere (a hardware module, an OS key
// store); Key.Proof checks each signature such a signer returns. Any other
// key is refused with an error naming what it is.
func NewKey(signer crypto.Signer) (*Key, error) {
	if signer == nil {
		return nil, errors.New("dpop: NewKey: the signer is nil; pass an ECDSA P-256 key (GenerateKey makes one)")
	}
	if p, ok := signer.(*ecdsa.PrivateKey); ok && p == nil {
		return nil, errors.New("dpop: NewKey: the signer is a nil *ecdsa.PrivateKey; pass an ECDSA P-256 key (GenerateKey makes one)")
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if ok && pub == nil {
		return nil, errors.New("dpop: NewKey: the signer's public key is a nil *ecdsa.PublicKey; pass a signer of an ECDSA P-256 key (GenerateKey makes one)")
	}
	if !ok {
		return nil, fmt.Errorf("dpop: NewKey: the signer's public key is %T; DPoP here needs ES256, an ECDSA key on P-256 (GenerateKey makes one)", signer.Public())
	}
	if pub.Curve != elliptic.P256() {
		name := "no curve"
		if pub.Curve != nil {
			name = pub.Curve.Params().Name
		}
		return nil, fmt.Errorf("dpop: NewKey: the signer's ECDSA key is on %s; DPoP here needs ES256, an ECDSA key on P-256 (GenerateKey makes one)", name)
	}
	jwk, err := jose.PublicJWK(pub)
	if err != nil {
		return nil, errors.New("dpop: NewKey: the signer's public key is not a valid P-256 point; use another key")
	}
	k := &Key{signer: signer, pub: pub, jwk: jwk, jkt: jose.Thumbprint(jwk)}
	if p, ok := signer.(*ecdsa.PrivateKey); ok {
		k.priv = p
	}
	return k, nil
}

// GenerateKey makes a fresh ES256 key (P-256) from crypto/rand.
func GenerateKey() (*Key, error) {
	p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dpop: generating a P-256 key: %w", err)
	}
	return NewKey(p)
}

// Thumbprint returns the key's JWK SHA-256 thumbprint (RFC 7638), base64url
// without padding: the value a server puts in an access token's cnf.jkt and a
// client may send as dpop_jkt (RFC 9449 §6 and §10).
func (k *Key) Thumbprint() string { return k.jkt }

// PublicJWK returns the public key as a JWK, the "jwk" header of every proof:
// {"crv":"P-256","kty":"EC","x":…,"y":…}, never a private member. The
// caller may keep or change the returned bytes: they are a copy.
func (k *Key) PublicJWK() json.RawMessage {
	return append(json.RawMessage(nil), k.jwk...)
}

// String returns "dpop.Key(thumbprint …)": a Key never prints its private
// part.
func (k Key) String() string { return "dpop.Key(thumbprint " + k.jkt + ")" }

// GoString is String, so that %#v prints no private material either.
func (k Key) GoString() string { return k.String() }

// Format prints String for every verb (%v, %+v, %#v, %s, %x, …), so that no
// verb reaches the private key's fields.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue makes log/slog print String, never the private key.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }
