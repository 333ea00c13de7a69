package assertion

import (
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
	"io"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
)

// testKeys are one key of each kind NewSigner takes, made once: an RSA key
// takes a while to generate.
var testKeys = sync.OnceValue(func() map[string]crypto.Signer {
	keys := map[string]crypto.Signer{}
	// A fixture: generating a 2048-bit RSA key costs the fast tier a
	// tenth of a second or more.
	pemBytes, err := os.ReadFile("testdata/rsa2048-test-key.pem")
	if err != nil {
		panic(err)
	}
	r, _, err := ParsePrivateKey(pemBytes)
	if err != nil {
		panic(err)
	}
	if k, ok := r.(*rsa.PrivateKey); !ok || k.N.BitLen() != 2048 {
		panic("testdata/rsa2048-test-key.pem is not a 2048-bit RSA key")
	}
	keys["RS256"] = r
	for alg, c := range map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			panic(err)
		}
		keys[alg] = k
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	keys["EdDSA"] = ed
	return keys
})

// algs are the algorithms in a fixed order, for tables.
var algs = []string{"RS256", "ES256", "ES384", "ES512", "EdDSA"}

// rfc8037Key is RFC 8037's example Ed25519 key (Appendix A.1), whose
// thumbprint is A.3's.
const (
	rfc8037D          = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
	rfc8037X          = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	rfc8037Thumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
)

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%q is not base64url: %v", s, err)
	}
	return b
}

// verifyJWS checks a compact JWS's signature with pub as RFC 7518 says,
// written here with the standard library alone (not through the package's
// code), and returns its header and claims as JSON texts.
func verifyJWS(t testing.TB, jws string, pub crypto.PublicKey, alg string) (header, claims string) {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts in %q", len(parts), jws)
	}
	input := []byte(parts[0] + "." + parts[1])
	sig := unb64(t, parts[2])
	ok := false
	switch alg {
	case "RS256":
		d := sha256.Sum256(input)
		ok = rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, d[:], sig) == nil
	case "ES256", "ES384", "ES512":
		var digest []byte
		size := map[string]int{"ES256": 32, "ES384": 48, "ES512": 66}[alg]
		switch alg {
		case "ES256":
			d := sha256.Sum256(input)
			digest = d[:]
		case "ES384":
			d := sha512.Sum384(input)
			digest = d[:]
		case "ES512":
			d := sha512.Sum512(input)
			digest = d[:]
		}
		if len(sig) != 2*size {
			t.Fatalf("%s signature of %d bytes, want %d (R||S)", alg, len(sig), 2*size)
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		ok = ecdsa.Verify(pub.(*ecdsa.PublicKey), digest, r, s)
	case "EdDSA":
		ok = ed25519.Verify(pub.(ed25519.PublicKey), input, sig)
	default:
		t.Fatalf("no verifier for %s", alg)
	}
	if !ok {
		t.Fatalf("the %s signature does not verify", alg)
	}
	return string(unb64(t, parts[0])), string(unb64(t, parts[1]))
}

// publicKeyOfJWK reads a public JWK as a server registering it would,
// with encoding/json and the standard library.
func publicKeyOfJWK(t testing.TB, jwk []byte) crypto.PublicKey {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(jwk, &m); err != nil {
		t.Fatalf("PublicJWK %s: %v", jwk, err)
	}
	switch m["kty"] {
	case "RSA":
		return &rsa.PublicKey{N: new(big.Int).SetBytes(unb64(t, m["n"])), E: int(new(big.Int).SetBytes(unb64(t, m["e"])).Int64())}
	case "EC":
		c := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[m["crv"]]
		point := append(append([]byte{4}, unb64(t, m["x"])...), unb64(t, m["y"])...)
		pub, err := ecdsa.ParseUncompressedPublicKey(c, point)
		if err != nil {
			t.Fatalf("PublicJWK %s: %v", jwk, err)
		}
		return pub
	case "OKP":
		return ed25519.PublicKey(unb64(t, m["x"]))
	}
	t.Fatalf("PublicJWK %s: kty %q", jwk, m["kty"])
	return nil
}

// privateJWK writes key as a private JWK with the given extra members,
// with encoding/json (not the package's code).
func privateJWK(t testing.TB, key crypto.Signer, extra map[string]string) []byte {
	t.Helper()
	b := func(x []byte) string { return base64.RawURLEncoding.EncodeToString(x) }
	m := map[string]string{}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		k.Precompute()
		m = map[string]string{"kty": "RSA", "n": b(k.N.Bytes()), "e": b(big.NewInt(int64(k.E)).Bytes()), "d": b(k.D.Bytes()),
			"p": b(k.Primes[0].Bytes()), "q": b(k.Primes[1].Bytes()),
			"dp": b(k.Precomputed.Dp.Bytes()), "dq": b(k.Precomputed.Dq.Bytes()), "qi": b(k.Precomputed.Qinv.Bytes())}
	case *ecdsa.PrivateKey:
		point, err := k.PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		d, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		n := (len(point) - 1) / 2
		m = map[string]string{"kty": "EC", "crv": k.Curve.Params().Name, "x": b(point[1 : 1+n]), "y": b(point[1+n:]), "d": b(d)}
	case ed25519.PrivateKey:
		m = map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b(k.Public().(ed25519.PublicKey)), "d": b(k.Seed())}
	default:
		t.Fatalf("no JWK for %T", key)
	}
	for name, v := range extra {
		if v == "" {
			delete(m, name)
		} else {
			m[name] = v
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// foreignSigner is a crypto.Signer that is not one of the standard
// library's keys, as a hardware or KMS key is. sign, when set, replaces its
// signature; pub, when set, its public key.
type foreignSigner struct {
	key  crypto.Signer
	pub  crypto.PublicKey
	sign func(digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

func (f *foreignSigner) Public() crypto.PublicKey {
	if f.pub != nil {
		return f.pub
	}
	return f.key.Public()
}

func (f *foreignSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if f.sign != nil {
		return f.sign(digest, opts)
	}
	return f.key.Sign(r, digest, opts)
}
