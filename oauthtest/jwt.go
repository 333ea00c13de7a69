package oauthtest

// JSON Web Tokens (RFC 7519) signed with JWS (RFC 7515, algorithms of
// RFC 7518 and RFC 8037): the server's own reading and checking of the
// JWTs clients and other issuers present (client assertions, JWT-bearer
// grants, ID-JAGs, its own ID tokens), and its own signing with ES256.
//
// oauthtest stands for a foreign authorization server, so it verifies
// with the standard library's crypto alone, never with the client-side
// code of authloop it is there to test.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"
)

// maxJWTSize bounds the compact JWTs the server reads.
const maxJWTSize = 16 << 10

// signingAlgs are the JWS algorithms the server verifies, for the
// metadata's *_signing_alg_values_supported.
var signingAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}

// jwt is a parsed, not yet verified, compact JWS whose payload is a JWT.
type jwt struct {
	alg, typ, kid string
	claims        map[string]any
	signed        []byte // the JWS signing input: header.payload
	sig           []byte
}

// parseJWT splits and decodes a compact JWT. It checks the form only: three
// base64url parts, a JSON object header with a string alg and no crit
// (no extension is understood), and a JSON object payload. The signature
// is checked by verify.
func parseJWT(s string) (*jwt, error) {
	if len(s) > maxJWTSize {
		return nil, fmt.Errorf("it is longer than %d bytes", maxJWTSize)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, errors.New("it is not a compact JWS of three dot-separated parts")
	}
	enc := base64.RawURLEncoding
	hb, err1 := enc.DecodeString(parts[0])
	pb, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, errors.New("a part is not unpadded base64url")
	}
	var h map[string]any
	if err := decodeObject(hb, &h); err != nil {
		return nil, fmt.Errorf("its header is not a JSON object: %v", err)
	}
	t := &jwt{signed: []byte(parts[0] + "." + parts[1]), sig: sig}
	var ok bool
	if t.alg, ok = h["alg"].(string); !ok || t.alg == "" {
		return nil, errors.New("its header has no alg")
	}
	if v, present := h["typ"]; present {
		if t.typ, ok = v.(string); !ok {
			return nil, errors.New("its header's typ is not a string")
		}
	}
	if v, present := h["kid"]; present {
		if t.kid, ok = v.(string); !ok {
			return nil, errors.New("its header's kid is not a string")
		}
	}
	if _, present := h["crit"]; present {
		return nil, errors.New("its header has crit, and no extension is understood here")
	}
	if err := decodeObject(pb, &t.claims); err != nil {
		return nil, fmt.Errorf("its payload is not a JSON object: %v", err)
	}
	return t, nil
}

// decodeObject decodes one JSON object, numbers as json.Number, and
// nothing after it.
func decodeObject(b []byte, v *map[string]any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if *v == nil {
		return errors.New("null")
	}
	if d.More() {
		return errors.New("data after the object")
	}
	return nil
}

// algOK reports whether alg is one the server verifies with key, and why
// not: "none" and the HMAC algorithms are never accepted (a public key is
// not a shared secret), and an algorithm must fit the key's type (and, for
// ECDSA, its curve).
func algOK(alg string, key crypto.PublicKey) error {
	if alg == "none" || strings.HasPrefix(alg, "HS") {
		return fmt.Errorf("alg %q is refused: sign with the asymmetric key registered for it", alg)
	}
	var fits bool
	switch k := key.(type) {
	case *rsa.PublicKey:
		fits = strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
		if fits && k.N.BitLen() < 2048 {
			return errors.New("the RSA key is shorter than 2048 bits")
		}
	case *ecdsa.PublicKey:
		fits = alg == ecdsaAlg(k.Curve)
	case ed25519.PublicKey:
		fits = alg == "EdDSA" || alg == "Ed25519"
	default:
		return fmt.Errorf("the registered key is a %T, which the server does not verify with", key)
	}
	if !fits || !slices.Contains(signingAlgs, alg) {
		return fmt.Errorf("alg %q does not fit the registered key (a %s key)", alg, keyKind(key))
	}
	return nil
}

// ecdsaAlg is the one JWS algorithm for an ECDSA curve (RFC 7518 §3.4).
func ecdsaAlg(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

func keyKind(key crypto.PublicKey) string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", key)
}

// hashFor returns the hash of an RS, PS or ES algorithm.
func hashFor(alg string) crypto.Hash {
	switch alg[2:] {
	case "384":
		return crypto.SHA384
	case "512":
		return crypto.SHA512
	}
	return crypto.SHA256
}

func digest(h crypto.Hash, b []byte) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384(b)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(b)
		return d[:]
	}
	d := sha256.Sum256(b)
	return d[:]
}

// verify checks t's algorithm against key (algOK) and its signature.
func (t *jwt) verify(key crypto.PublicKey) error {
	if err := algOK(t.alg, key); err != nil {
		return err
	}
	bad := errors.New("the signature does not verify with the registered key")
	switch k := key.(type) {
	case *rsa.PublicKey:
		h := hashFor(t.alg)
		var err error
		if t.alg[0] == 'P' {
			err = rsa.VerifyPSS(k, h, digest(h, t.signed), t.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(k, h, digest(h, t.signed), t.sig)
		}
		if err != nil {
			return bad
		}
	case *ecdsa.PublicKey:
		// RFC 7518 §3.4: R and S, each the curve's byte size, big-endian.
		n := (k.Curve.Params().BitSize + 7) / 8
		if len(t.sig) != 2*n {
			return bad
		}
		r := new(big.Int).SetBytes(t.sig[:n])
		s := new(big.Int).SetBytes(t.sig[n:])
		if !ecdsa.Verify(k, digest(hashFor(t.alg), t.signed), r, s) {
			return bad
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(k, t.signed, t.sig) {
			return bad
		}
	}
	return nil
}

// str returns a string claim, and whether it is one.
func (t *jwt) str(name string) (string, bool) {
	s, ok := t.claims[name].(string)
	return s, ok
}

// date returns a NumericDate claim (RFC 7519 §2): present reports whether
// the claim is there at all; err, whether it is not a number.
func (t *jwt) date(name string) (tm time.Time, present bool, err error) {
	v, present := t.claims[name]
	if !present {
		return time.Time{}, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, true, fmt.Errorf("%s is not a number", name)
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.Abs(f) > 1e11 {
		return time.Time{}, true, fmt.Errorf("%s is not a usable NumericDate", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// audiences returns the aud claim, a string or an array of strings
// (RFC 7519 §4.1.3); anything else gives none.
func (t *jwt) audiences() []string { return claimStrings(t.claims["aud"]) }

// signingKey is an ES256 key the server signs JWTs with, and its kid (its
// RFC 7638 thumbprint).
type signingKey struct {
	priv *ecdsa.PrivateKey
	kid  string
}

// newSigningKey makes a fresh P-256 key.
func newSigningKey() signingKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("oauthtest: cannot generate an ECDSA key: " + err.Error())
	}
	return signingKey{priv: priv, kid: ecThumbprint(&priv.PublicKey)}
}

// jwk returns the public key as a JWK (RFC 7517, RFC 7518 §6.2.1).
func (k signingKey) jwk() map[string]string {
	x, y := ecCoords(&k.priv.PublicKey)
	enc := base64.RawURLEncoding
	return map[string]string{"kty": "EC", "crv": "P-256", "x": enc.EncodeToString(x), "y": enc.EncodeToString(y),
		"kid": k.kid, "use": "sig", "alg": "ES256"}
}

// ecCoords returns a P-256 public key's coordinates, 32 bytes each.
func ecCoords(pub *ecdsa.PublicKey) (x, y []byte) {
	b, err := pub.Bytes() // uncompressed point: 0x04 || X || Y
	if err != nil {
		panic("oauthtest: " + err.Error())
	}
	return b[1:33], b[33:]
}

// ecThumbprint is the RFC 7638 thumbprint of a P-256 public key.
func ecThumbprint(pub *ecdsa.PublicKey) string {
	x, y := ecCoords(pub)
	enc := base64.RawURLEncoding
	// The required members in lexicographic order, no whitespace.
	canon := `{"crv":"P-256","kty":"EC","x":"` + enc.EncodeToString(x) + `","y":"` + enc.EncodeToString(y) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return enc.EncodeToString(sum[:])
}

// sign returns an ES256 compact JWT with the given typ and claims, and the
// key's kid.
func (k signingKey) sign(typ string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": typ, "kid": k.kid})
	c, err := json.Marshal(claims)
	if err != nil {
		panic("oauthtest: claims cannot be JSON: " + err.Error())
	}
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	d := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, d[:])
	if err != nil {
		panic("oauthtest: cannot sign: " + err.Error())
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + enc.EncodeToString(sig)
}
