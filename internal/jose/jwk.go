package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
)

// PublicJWK returns pub as the JWK with the required members only, in
// lexicographic order and without whitespace (RFC 7638 §3.2, §3.3): the
// input of the thumbprint, and a public key that carries no private part.
// It takes an RSA key, an ECDSA key on P-256, P-384 or P-521 (x and y
// left-padded to the curve's size, RFC 7518 §6.2.1.2) and an Ed25519 key
// (RFC 8037 §2); anything else is an error naming its type.
func PublicJWK(pub crypto.PublicKey) ([]byte, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pub == nil || pub.N == nil || pub.N.Sign() <= 0 || pub.E <= 0 {
			return nil, errors.New("the RSA public key is empty")
		}
		e := big.NewInt(int64(pub.E)).Bytes()
		return []byte(`{"e":"` + Encode(e) + `","kty":"RSA","n":"` + Encode(pub.N.Bytes()) + `"}`), nil
	case *ecdsa.PublicKey:
		if pub == nil || pub.Curve == nil {
			return nil, errors.New("the ECDSA public key is empty")
		}
		crv := pub.Curve.Params().Name
		if crv != "P-256" && crv != "P-384" && crv != "P-521" {
			return nil, fmt.Errorf("the ECDSA key is on %s, not P-256, P-384 or P-521", crv)
		}
		point, err := pointBytes(pub)
		if err != nil {
			return nil, fmt.Errorf("the public key is not a valid %s point", crv)
		}
		n := (len(point) - 1) / 2
		return []byte(`{"crv":"` + crv + `","kty":"EC","x":"` + Encode(point[1:1+n]) + `","y":"` + Encode(point[1+n:]) + `"}`), nil
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("the Ed25519 public key is %d bytes, not %d", len(pub), ed25519.PublicKeySize)
		}
		return []byte(`{"crv":"Ed25519","kty":"OKP","x":"` + Encode(pub) + `"}`), nil
	}
	return nil, fmt.Errorf("the public key is a %T, not RSA, ECDSA or Ed25519", pub)
}

// pointBytes is pub.Bytes, the uncompressed point, without the panic that
// a key with nil coordinates causes there (a foreign signer may return one).
func pointBytes(pub *ecdsa.PublicKey) (b []byte, err error) {
	defer func() {
		if recover() != nil {
			b, err = nil, errors.New("no coordinates")
		}
	}()
	return pub.Bytes()
}

// Thumbprint is the JWK SHA-256 thumbprint (RFC 7638) of a canonical JWK
// (PublicJWK's): base64url(SHA-256(jwk)).
func Thumbprint(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return Encode(sum[:])
}
