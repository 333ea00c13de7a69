package assertion

// Private JWKs (RFC 7517; RFC 7518 §6.2.2 and §6.3.2; RFC 8037 §2).

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/authloop/authloop/internal/jose"
)

// maxRSABits bounds the RSA keys a JWK may hold, before any arithmetic.
const maxRSABits = 16384

// parseJWK reads a private JWK, or a JWK Set of one, and returns its key
// and kid.
func parseJWK(text []byte) (crypto.Signer, string, error) {
	m, err := jose.Object(text)
	if err != nil {
		return nil, "", fmt.Errorf("the JWK is not a JSON object (%v); pass one private JWK", err)
	}
	if raw, ok := m["keys"]; ok {
		var keys []json.RawMessage
		if err := json.Unmarshal(raw, &keys); err != nil {
			return nil, "", errors.New(`the JWK Set's "keys" is not an array; pass one private JWK`)
		}
		if len(keys) != 1 {
			return nil, "", fmt.Errorf("the JWK Set holds %d keys; keep the one to sign with, one key per file", len(keys))
		}
		if m, err = jose.Object(keys[0]); err != nil {
			return nil, "", fmt.Errorf("the JWK Set's key is not a JSON object (%v); pass one private JWK", err)
		}
	}
	kid, _, err := jose.StringMember(m, "kid")
	if err != nil {
		return nil, "", fmt.Errorf("the JWK's %v", err)
	}
	kty, _, err := jose.StringMember(m, "kty")
	if err != nil {
		return nil, "", fmt.Errorf("the JWK's %v", err)
	}
	if kty != "oct" {
		if _, ok := m["d"]; !ok {
			return nil, "", errors.New(`the JWK has no "d": it is a public key; pass the private JWK (with d) of the key`)
		}
	}
	var (
		key crypto.Signer
		alg jose.Alg
	)
	switch kty {
	case "RSA":
		key, err = rsaJWK(m)
		alg = jose.RS256
	case "EC":
		key, alg, err = ecJWK(m)
	case "OKP":
		key, err = okpJWK(m)
		alg = jose.EdDSA
	case "oct":
		return nil, "", errors.New("the JWK is a symmetric key (kty oct); private_key_jwt needs a private key of: " + accepted)
	default:
		return nil, "", fmt.Errorf("the JWK's kty is %.20q; use one of: %s", kty, accepted)
	}
	if err != nil {
		return nil, "", fmt.Errorf("the %s JWK: %w", kty, err)
	}
	if use, ok, err := jose.StringMember(m, "use"); err != nil || ok && use != "sig" {
		return nil, "", fmt.Errorf(`the JWK's use is %.20q, not "sig"; set it to "sig" or remove it`, use)
	}
	if a, ok, err := jose.StringMember(m, "alg"); err != nil || ok && a != string(alg) {
		return nil, "", fmt.Errorf("the JWK's alg is %.20q, and this key signs %s here; set alg to %s or remove it", a, alg, alg)
	}
	return key, kid, nil
}

// member returns the base64url member name of m; size > 0 requires that
// many bytes. Its errors name the member, never its value.
func member(m map[string]json.RawMessage, name string, size int) ([]byte, error) {
	s, ok, err := jose.StringMember(m, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%q is missing; export the whole private key", name)
	}
	b, err := jose.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not base64url without padding", name)
	}
	if size > 0 && len(b) != size {
		return nil, fmt.Errorf("%q is %d bytes, not %d", name, len(b), size)
	}
	return b, nil
}

// rsaJWK reads an RSA private JWK with its primes (RFC 7518 §6.3.2): n, e,
// d, p and q, and dp, dq and qi when present must agree with them.
func rsaJWK(m map[string]json.RawMessage) (crypto.Signer, error) {
	if _, ok := m["oth"]; ok {
		return nil, fmt.Errorf(`it has "oth" (more than two primes); use one of: %s`, accepted)
	}
	ints := map[string]*big.Int{}
	for _, name := range []string{"n", "e", "d", "p", "q"} {
		b, err := member(m, name, 0)
		if err != nil {
			return nil, err
		}
		ints[name] = new(big.Int).SetBytes(b)
	}
	if bits := ints["n"].BitLen(); bits > maxRSABits {
		return nil, fmt.Errorf("n is %d bits, more than %d; use a smaller key", bits, maxRSABits)
	}
	if e := ints["e"]; !e.IsInt64() || e.Int64() > 1<<31-1 {
		return nil, errors.New(`"e" is too large; the public exponent of a usable key is small (65537)`)
	}
	key := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: ints["n"], E: int(ints["e"].Int64())},
		D:         ints["d"],
		Primes:    []*big.Int{ints["p"], ints["q"]},
	}
	if err := key.Validate(); err != nil {
		return nil, errors.New("n, e, d, p and q do not make one RSA key; export the key again")
	}
	key.Precompute()
	for _, crt := range []struct {
		name string
		want *big.Int
	}{{"dp", key.Precomputed.Dp}, {"dq", key.Precomputed.Dq}, {"qi", key.Precomputed.Qinv}} {
		name, want := crt.name, crt.want
		if _, ok := m[name]; !ok {
			continue
		}
		b, err := member(m, name, 0)
		if err != nil {
			return nil, err
		}
		if want == nil || new(big.Int).SetBytes(b).Cmp(want) != 0 {
			return nil, fmt.Errorf("%q does not agree with p, q and d; export the key again", name)
		}
	}
	return key, nil
}

// ecJWK reads an EC private JWK (RFC 7518 §6.2): crv P-256, P-384 or P-521,
// x, y and d each of the curve's size, x and y the public point of d.
func ecJWK(m map[string]json.RawMessage) (crypto.Signer, jose.Alg, error) {
	crv, _, err := jose.StringMember(m, "crv")
	if err != nil {
		return nil, "", err
	}
	var (
		curve elliptic.Curve
		alg   jose.Alg
	)
	switch crv {
	case "P-256":
		curve, alg = elliptic.P256(), jose.ES256
	case "P-384":
		curve, alg = elliptic.P384(), jose.ES384
	case "P-521":
		curve, alg = elliptic.P521(), jose.ES512
	default:
		return nil, "", fmt.Errorf("crv is %.20q; use one of: %s", crv, accepted)
	}
	size := (curve.Params().BitSize + 7) / 8
	point := []byte{4}
	for _, name := range []string{"x", "y"} {
		b, err := member(m, name, size)
		if err != nil {
			return nil, "", err
		}
		point = append(point, b...)
	}
	d, err := member(m, "d", size)
	if err != nil {
		return nil, "", err
	}
	key, err := ecdsa.ParseRawPrivateKey(curve, d)
	if err != nil {
		return nil, "", fmt.Errorf(`"d" is not a private key on %s; export the key again`, crv)
	}
	if pub, err := key.PublicKey.Bytes(); err != nil || !bytes.Equal(pub, point) {
		return nil, "", errors.New(`"x" and "y" are not the public key of "d"; export the key again`)
	}
	return key, alg, nil
}

// okpJWK reads an Ed25519 private JWK (RFC 8037 §2): d the 32-byte seed, x
// its public key.
func okpJWK(m map[string]json.RawMessage) (crypto.Signer, error) {
	crv, _, err := jose.StringMember(m, "crv")
	if err != nil {
		return nil, err
	}
	if crv != "Ed25519" {
		return nil, fmt.Errorf("crv is %.20q; of OKP keys only Ed25519 signs here (use one of: %s)", crv, accepted)
	}
	x, err := member(m, "x", ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	d, err := member(m, "d", ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	key := ed25519.NewKeyFromSeed(d)
	if !bytes.Equal(key.Public().(ed25519.PublicKey), x) {
		return nil, errors.New(`"x" is not the public key of "d"; export the key again`)
	}
	return key, nil
}
