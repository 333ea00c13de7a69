package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/authloop/authloop/internal/jose"
)

// rawKey returns the P-256 key whose private scalar is d (big-endian, left
// padded): a fixed key, so that a test can name its public part.
func rawKey(t testing.TB, d uint16) *ecdsa.PrivateKey {
	t.Helper()
	b := make([]byte, 32)
	b[30], b[31] = byte(d>>8), byte(d)
	p, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fixedKey is the Key of rawKey(d).
func fixedKey(t testing.TB, d uint16) *Key {
	t.Helper()
	k, err := NewKey(rawKey(t, d))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signJWS signs header and claims (JSON texts, used as they are) with priv
// into a compact JWS with an R||S signature, so that a test can build any
// proof: one that differs from a good one in one place only.
func signJWS(t testing.TB, priv *ecdsa.PrivateKey, header, claims string) string {
	t.Helper()
	input := jose.Encode([]byte(header)) + "." + jose.Encode([]byte(claims))
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + jose.Encode(sig)
}

// foreignSigner is a crypto.Signer that is not an *ecdsa.PrivateKey, as a
// hardware key would be. sign, when set, replaces its signature.
type foreignSigner struct {
	priv *ecdsa.PrivateKey
	pub  crypto.PublicKey
	sign func(digest []byte) ([]byte, error)
}

func (f *foreignSigner) Public() crypto.PublicKey {
	if f.pub != nil {
		return f.pub
	}
	return &f.priv.PublicKey
}

func (f *foreignSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if f.sign != nil {
		return f.sign(digest)
	}
	return f.priv.Sign(r, digest, opts)
}

// stdB64 is standard base64 with padding.
func stdB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// rsaKey is a 2048-bit RSA key read from testdata (made once, for these
// tests only: it signs nothing), so that the tests of the keys a DPoP key
// cannot be do not generate one at every run (0.1 s apiece).
func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "rsa2048-test-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("testdata/rsa2048-test-key.pem holds no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok || rk.N.BitLen() != 2048 {
		t.Fatalf("testdata/rsa2048-test-key.pem holds a %T, want a 2048-bit RSA key", k)
	}
	return rk
}
