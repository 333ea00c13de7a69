package oauthtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
)

// The tests' own JWT signing and checking, written apart from jwt.go so
// that a mistake there is not repeated here: a client's keys and
// assertions, and a check of the server's ES256 tokens.

// testKey is a client's or an issuer's key with the JWS algorithm it signs
// with.
type testKey struct {
	alg  string
	priv crypto.Signer
}

func (k testKey) public() crypto.PublicKey { return k.priv.Public() }

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// newTestKey returns a fresh key for alg (RS*, PS*, ES256/384/512, EdDSA);
// the RSA key is made once per test binary, as making one is slow.
func newTestKey(t *testing.T, alg string) testKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch {
	case alg == "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case alg == "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case alg == "ES512":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case alg == "EdDSA" || alg == "Ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS"):
		// A fixture: generating a 2048-bit key costs the fast tier a tenth
		// of a second or more.
		rsaOnce.Do(func() {
			var b []byte
			if b, err = os.ReadFile("testdata/rsa2048-test-key.pem"); err != nil {
				return
			}
			blk, _ := pem.Decode(b)
			if blk == nil {
				err = errors.New("testdata/rsa2048-test-key.pem holds no PEM block")
				return
			}
			var k any
			if k, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
				rsaKey, _ = k.(*rsa.PrivateKey)
			}
		})
		if err == nil && rsaKey == nil {
			t.Fatal("testdata/rsa2048-test-key.pem is not an RSA key")
		}
		priv = rsaKey
	default:
		t.Fatalf("no test key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return testKey{alg: alg, priv: priv}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign returns a compact JWT of claims signed with k, under a header of
// alg (k's unless header sets another) and the header's other members.
func (k testKey) sign(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": k.alg, "typ": "JWT"}
	for name, v := range header {
		h[name] = v
	}
	input := b64(mustJSON(t, h)) + "." + b64(mustJSON(t, claims))
	return input + "." + b64(k.signature(t, h["alg"].(string), []byte(input)))
}

// signature signs input with k as alg says (alg need not fit k: a test of
// a refused alg signs with the wrong one).
func (k testKey) signature(t *testing.T, alg string, input []byte) []byte {
	t.Helper()
	hash, sum := crypto.SHA256, sha256.Sum256(input)
	digest := sum[:]
	if strings.HasSuffix(alg, "384") {
		s := sha512.Sum384(input)
		hash, digest = crypto.SHA384, s[:]
	} else if strings.HasSuffix(alg, "512") {
		s := sha512.Sum512(input)
		hash, digest = crypto.SHA512, s[:]
	}
	switch p := k.priv.(type) {
	case *rsa.PrivateKey:
		var sig []byte
		var err error
		if alg[0] == 'P' {
			sig, err = rsa.SignPSS(rand.Reader, p, hash, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, p, hash, digest)
		}
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, p, digest)
		if err != nil {
			t.Fatal(err)
		}
		n := (p.Curve.Params().BitSize + 7) / 8
		sig := make([]byte, 2*n)
		r.FillBytes(sig[:n])
		s.FillBytes(sig[n:])
		return sig
	case ed25519.PrivateKey:
		return ed25519.Sign(p, input)
	}
	t.Fatalf("cannot sign with %T", k.priv)
	return nil
}

// hs256 returns a JWT signed with HMAC-SHA256 under key, as an attacker
// who knows a public key would try.
func hs256(t *testing.T, key []byte, claims map[string]any) string {
	t.Helper()
	input := b64(mustJSON(t, map[string]any{"alg": "HS256", "typ": "JWT"})) + "." + b64(mustJSON(t, claims))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}

// decodeES256 checks an ES256 JWT of s (an ID token, an ID-JAG) with
// s.PublicKey and returns its header and claims.
func decodeES256(t *testing.T, s *Server, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("bad ES256 signature encoding")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	pub := s.PublicKey().(*ecdsa.PublicKey)
	if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Fatal("the ES256 signature does not verify with Server.PublicKey")
	}
	var h, c map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(hb, &h) != nil || json.Unmarshal(cb, &c) != nil {
		t.Fatal("bad JWT JSON")
	}
	return h, c
}
