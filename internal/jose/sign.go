package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // SHA-256 for crypto.Hash.New
	_ "crypto/sha512" // SHA-384 and SHA-512 for crypto.Hash.New
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// Alg is a JWS algorithm (the "alg" header, RFC 7518 §3.1; EdDSA RFC 8037
// §3.1) that authloop signs with.
type Alg string

// The algorithms Sign and Verify speak.
const (
	RS256 Alg = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256
	ES256 Alg = "ES256" // ECDSA on P-256 with SHA-256
	ES384 Alg = "ES384" // ECDSA on P-384 with SHA-384
	ES512 Alg = "ES512" // ECDSA on P-521 with SHA-512
	EdDSA Alg = "EdDSA" // Ed25519, which hashes the message itself
)

// hash is the digest the algorithm signs, or 0 for EdDSA (the message).
func (a Alg) hash() crypto.Hash {
	switch a {
	case RS256, ES256:
		return crypto.SHA256
	case ES384:
		return crypto.SHA384
	case ES512:
		return crypto.SHA512
	}
	return 0
}

// ecSize is the size of R and of S in an ECDSA algorithm's JWS signature
// (RFC 7518 §3.4), with its curve's name; 0 for the others.
func (a Alg) ecSize() (int, string) {
	switch a {
	case ES256:
		return 32, "P-256"
	case ES384:
		return 48, "P-384"
	case ES512:
		return 66, "P-521"
	}
	return 0, ""
}

// SignatureSize is the size of an ECDSA algorithm's JWS signature, R||S
// (64, 96 or 132 bytes); 0 for the others.
func (a Alg) SignatureSize() int {
	n, _ := a.ecSize()
	return 2 * n
}

// Sign signs the JWS signing input (base64url header "." base64url claims)
// with signer under alg and returns the signature in JWS form: an ECDSA
// signature as R||S, each left-padded to the curve's size (RFC 7518 §3.4),
// not the ASN.1 a crypto.Signer returns. The signer must hold a key of alg;
// Sign does not check that its signature verifies (Verify does). It blocks
// while the signer signs: a hardware key may wait for a touch or a PIN.
func Sign(signer crypto.Signer, alg Alg, input string) ([]byte, error) {
	msg := []byte(input)
	opts := crypto.SignerOpts(crypto.Hash(0))
	if h := alg.hash(); h != 0 {
		d := h.New()
		d.Write(msg)
		msg, opts = d.Sum(nil), h
	} else if alg != EdDSA {
		return nil, fmt.Errorf("the algorithm %q is not one this signs with", alg)
	}
	sig, err := signer.Sign(rand.Reader, msg, opts)
	if err != nil {
		return nil, fmt.Errorf("the key's signer failed: %w", err)
	}
	if n, crv := alg.ecSize(); n > 0 {
		return derToRaw(sig, n, crv)
	}
	return sig, nil
}

// derToRaw turns an ASN.1 DER ECDSA signature (what a crypto.Signer
// returns) into JWS's R||S, each left-padded to n bytes.
func derToRaw(der []byte, n int, crv string) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 {
		return nil, errors.New("the signer returned a signature that is not an ASN.1 ECDSA signature")
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || (sig.R.BitLen()+7)/8 > n || (sig.S.BitLen()+7)/8 > n {
		return nil, fmt.Errorf("the signer returned an ECDSA signature whose R or S does not fit %s", crv)
	}
	raw := make([]byte, 2*n)
	sig.R.FillBytes(raw[:n])
	sig.S.FillBytes(raw[n:])
	return raw, nil
}

// Verify reports whether sig is a valid JWS signature under alg of the
// signing input by pub: an RSA key for RS256, an ECDSA key on alg's curve
// with a signature of exactly SignatureSize bytes for ES*, an Ed25519 key
// for EdDSA. A key of another type or curve is false.
func Verify(pub crypto.PublicKey, alg Alg, input string, sig []byte) bool {
	msg := []byte(input)
	if h := alg.hash(); h != 0 {
		d := h.New()
		d.Write(msg)
		msg = d.Sum(nil)
	}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return alg == RS256 && rsa.VerifyPKCS1v15(pub, crypto.SHA256, msg, sig) == nil
	case *ecdsa.PublicKey:
		n, crv := alg.ecSize()
		if n == 0 || pub.Curve == nil || pub.Curve.Params().Name != crv || len(sig) != 2*n {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		return ecdsa.Verify(pub, msg, r, s)
	case ed25519.PublicKey:
		return alg == EdDSA && len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, sig)
	}
	return false
}
