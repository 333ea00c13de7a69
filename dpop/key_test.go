package dpop

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"

	"github.com/authloop/authloop/internal/jose"
)

// The thumbprint follows RFC 7638 §3: SHA-256 over the required members in
// lexicographic order without whitespace, x and y as 32 bytes each.
func TestThumbprintComputedIndependently(t *testing.T) {
	for i := 0; i < 20; i++ {
		k, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		p := k.priv
		x, y := make([]byte, 32), make([]byte, 32)
		p.X.FillBytes(x)
		p.Y.FillBytes(y)
		enc := func(b []byte) string {
			return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(stdB64(b)), "=")
		}
		jwk := fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, enc(x), enc(y))
		sum := sha256.Sum256([]byte(jwk))
		if want := enc(sum[:]); k.Thumbprint() != want {
			t.Fatalf("Thumbprint() = %s, want %s (of %s)", k.Thumbprint(), want, jwk)
		}
		if got := string(k.PublicJWK()); got != jwk {
			t.Fatalf("PublicJWK() = %s, want %s", got, jwk)
		}
	}
}

// Fixed vectors, computed outside Go (P-256 arithmetic in a few lines of
// Python, SHA-256 and base64url by openssl) from the rules of RFC 7638: the
// generator (d=1), and d=379, whose x begins with a zero byte and must be
// written as 32 bytes, not 31.
func TestThumbprintKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		d        uint16
		jwk, jkt string
	}{
		{1, `{"crv":"P-256","kty":"EC","x":"axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY","y":"T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"}`,
			"xx0BcA-wMohw8atYDJOe6peGModklG2wRHBlXHMvl0M"},
		{379, `{"crv":"P-256","kty":"EC","x":"AFVDiUrz0A7X10Cr29dclrBod7eH219w7qeLkKjXwAo","y":"u0yFo9jqKe-q-iRAaRLdhNWxTcMr9lbvbGvVil2UP5I"}`,
			"7Yxe6c_3bAa6kiaK1G-BZmi9EeNsUmlcbdnrtLeuK4E"},
	} {
		k := fixedKey(t, tc.d)
		if got := string(k.PublicJWK()); got != tc.jwk {
			t.Errorf("d=%d: PublicJWK() = %s, want %s", tc.d, got, tc.jwk)
		}
		if got := k.Thumbprint(); got != tc.jkt {
			t.Errorf("d=%d: Thumbprint() = %s, want %s", tc.d, got, tc.jkt)
		}
	}
}

// RFC 9449's example key (§4.1, its members in another order) has the
// thumbprint of its examples of bound tokens (§6.1).
func TestThumbprintRFC9449Example(t *testing.T) {
	pub, canonical, err := parseJWK(json.RawMessage(`{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}`))
	if err != nil || pub == nil {
		t.Fatal(err)
	}
	if got, want := jose.Thumbprint(canonical), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"; got != want {
		t.Fatalf("thumbprint = %s, want %s", got, want)
	}
}

func TestPublicJWKIsACopyWithoutD(t *testing.T) {
	k := fixedKey(t, 7)
	j := k.PublicJWK()
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 4 || m["d"] != nil {
		t.Fatalf("PublicJWK has members %v, want crv, kty, x, y", m)
	}
	j[0] = 'X'
	if k.PublicJWK()[0] != '{' {
		t.Fatal("changing PublicJWK's result changed the key")
	}
}

func TestNewKeyRefuses(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := rawKey(t, 5)
	for name, tc := range map[string]struct {
		signer crypto.Signer
		want   string
	}{
		"nil":        {nil, "the signer is nil"},
		"typed nil":  {(*ecdsa.PrivateKey)(nil), "nil *ecdsa.PrivateKey"},
		"rsa":        {rsaKey(t), "*rsa.PublicKey"},
		"p384":       {p384, "P-384"},
		"ed25519":    {edKey, "ed25519.PublicKey"},
		"off curve":  {&foreignSigner{priv: good, pub: &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}}, "not a valid P-256 point"}, //lint:ignore SA1019 a broken key on purpose
		"no point":   {&foreignSigner{priv: good, pub: &ecdsa.PublicKey{Curve: elliptic.P256()}}, "not a valid P-256 point"},
		"no curve":   {&foreignSigner{priv: good, pub: &ecdsa.PublicKey{}}, "on no curve"},
		"nil pubkey": {&foreignSigner{priv: good, pub: (*ecdsa.PublicKey)(nil)}, "is a nil *ecdsa.PublicKey"},
	} {
		t.Run(name, func(t *testing.T) {
			k, err := NewKey(tc.signer)
			if err == nil || k != nil {
				t.Fatalf("NewKey = %v, %v; want an error", k, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "P-256") {
				t.Fatalf("error %q does not say %q and what is needed", err, tc.want)
			}
		})
	}
}

func TestGenerateKeyIsFresh(t *testing.T) {
	a, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if a.Thumbprint() == b.Thumbprint() {
		t.Fatal("two generated keys are the same")
	}
}

// Printing a Key in any way shows its thumbprint and nothing private.
func TestKeyPrintsNoPrivateMaterial(t *testing.T) {
	// A key of full size: the decimal form of a tiny d (1234) turns up by
	// chance in slog's timestamps.
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv := k.priv
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	d, err := priv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{
		priv.D.String(), //lint:ignore SA1019 the secret to look for
		priv.D.Text(16), //lint:ignore SA1019 the secret to look for
		fmt.Sprintf("%x", d), jose.Encode(d), stdB64(d), fmt.Sprintf("%x", der), stdB64(der),
	}
	want := "dpop.Key(thumbprint " + k.Thumbprint() + ")"
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, k), fmt.Sprintf(verb, *k))
	}
	outs = append(outs, k.GoString(), k.String(), fmt.Sprint(k), fmt.Sprintln(*k), fmt.Sprintf("%+v", struct{ K *Key }{k}), fmt.Sprintf("%+v", []Key{*k}))
	for _, o := range outs {
		if !strings.Contains(o, want) {
			t.Errorf("printed %q, want it to contain %q", o, want)
		}
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		slog.New(h).Info("key", "k", k, "v", *k, slog.Any("a", k), slog.Group("g", "k", k))
	}
	if got := strings.Count(buf.String(), want); got != 8 {
		t.Errorf("slog wrote the thumbprint form %d times, want 8:\n%s", got, buf.String())
	}
	outs = append(outs, buf.String(), fmt.Sprintf("%+v", struct{ k Key }{*k}))
	for _, o := range outs {
		for _, s := range secrets {
			if strings.Contains(o, s) {
				t.Fatalf("%q reveals the private key", o)
			}
		}
	}
}

func TestMarshalParseRoundTrip(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := MarshalPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	if back.Thumbprint() != k.Thumbprint() {
		t.Fatalf("thumbprint %s after the round trip, was %s", back.Thumbprint(), k.Thumbprint())
	}
	proof, err := back.Proof(ProofParams{Method: "POST", URL: "https://as.example/token"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(proof)
	if err != nil {
		t.Fatal(err)
	}
	if p.JKT() != k.Thumbprint() {
		t.Fatal("the parsed key signs as another key")
	}
}

func TestMarshalRefusesAForeignSigner(t *testing.T) {
	k, err := NewKey(&foreignSigner{priv: rawKey(t, 9)})
	if err != nil {
		t.Fatal(err)
	}
	der, err := MarshalPrivateKey(k)
	if err == nil || der != nil {
		t.Fatalf("MarshalPrivateKey of a foreign signer = %d bytes, %v; want an error", len(der), err)
	}
	for _, want := range []string{"cannot read", "NewKey at every start", k.Thumbprint()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := MarshalPrivateKey(nil); err == nil {
		t.Error("MarshalPrivateKey(nil) succeeded")
	}
}

func TestParsePrivateKeyRefuses(t *testing.T) {
	rsaDER, err := x509.MarshalPKCS8PrivateKey(rsaKey(t))
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef-secret-material")
	for name, tc := range map[string]struct {
		der  []byte
		want string
	}{
		"garbage": {secret, "not a PKCS#8 private key"},
		"empty":   {nil, "not a PKCS#8 private key"},
		"rsa":     {rsaDER, "*rsa.PrivateKey"},
		"p384":    {p384DER, "P-384; a DPoP key is ECDSA P-256 (delete it"},
	} {
		t.Run(name, func(t *testing.T) {
			k, err := ParsePrivateKey(tc.der)
			if err == nil || k != nil {
				t.Fatalf("ParsePrivateKey = %v, %v; want an error", k, err)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret-material") {
				t.Fatalf("error %q: want %q and no input bytes", err, tc.want)
			}
		})
	}
}
