package assertion

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

var now = time.Unix(1_800_000_000, 0)

// Each algorithm's assertion verifies with the key, and with the key a
// server reads from PublicJWK; its header and claims are exactly RFC 7523's.
func TestClientAssertionEachAlgorithm(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			key := testKeys()[alg]
			s, err := NewSigner(key, "key-1")
			if err != nil {
				t.Fatal(err)
			}
			if s.Algorithm() != alg || s.KeyID() != "key-1" {
				t.Fatalf("Algorithm %q KeyID %q, want %s key-1", s.Algorithm(), s.KeyID(), alg)
			}
			jwt, err := s.ClientAssertion("client-a", "https://as.example/token", now.Add(900*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			verifyJWS(t, jwt, publicKeyOfJWK(t, s.PublicJWK()), alg)
			header, claims := verifyJWS(t, jwt, key.Public(), alg)
			if want := `{"alg":"` + alg + `","kid":"key-1","typ":"JWT"}`; header != want {
				t.Errorf("header %s, want %s", header, want)
			}
			var c struct{ Jti string }
			if err := json.Unmarshal([]byte(claims), &c); err != nil || len(unb64(t, c.Jti)) != 16 {
				t.Fatalf("jti of claims %s is not 16 bytes of base64url (%v)", claims, err)
			}
			want := `{"iss":"client-a","sub":"client-a","aud":"https://as.example/token","iat":1800000000,"exp":1800000060,"jti":"` + c.Jti + `"}`
			if claims != want {
				t.Errorf("claims %s, want %s", claims, want)
			}
			if exp, ok := Expiry(jwt); !ok || !exp.Equal(now.Add(AssertionLifetime)) {
				t.Errorf("Expiry = %v, %v; want %v", exp, ok, now.Add(AssertionLifetime))
			}
		})
	}
}

func TestAssertionLifetimeIsShort(t *testing.T) {
	if AssertionLifetime != 60*time.Second {
		t.Fatalf("AssertionLifetime = %v, want 60s", AssertionLifetime)
	}
}

// A foreign signer (an HSM, a KMS) works, and gets the digest and the
// options its algorithm asks for.
func TestClientAssertionForeignSigner(t *testing.T) {
	for _, alg := range algs {
		key := testKeys()[alg]
		var gotOpts crypto.SignerOpts
		f := &foreignSigner{key: key}
		f.sign = func(digest []byte, opts crypto.SignerOpts) ([]byte, error) {
			gotOpts = opts
			return key.Sign(rand.Reader, digest, opts)
		}
		s, err := NewSigner(f, "")
		if err != nil {
			t.Fatal(err)
		}
		jwt, err := s.ClientAssertion("c", "https://as.example", now)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		verifyJWS(t, jwt, key.Public(), alg)
		want := map[string]crypto.Hash{"RS256": crypto.SHA256, "ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512, "EdDSA": 0}[alg]
		if gotOpts.HashFunc() != want {
			t.Errorf("%s: signer asked with hash %v, want %v", alg, gotOpts.HashFunc(), want)
		}
	}
}

func TestJTIUnique(t *testing.T) {
	s, err := NewSigner(testKeys()["ES256"], "")
	if err != nil {
		t.Fatal(err)
	}
	n := 2000
	if testing.Short() {
		n = 200 // a jti made twice shows in far fewer
	}
	seen := map[string]bool{}
	for range n {
		jwt, err := s.ClientAssertion("c", "https://as.example", now)
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ Jti string }
		if err := json.Unmarshal(unb64(t, strings.Split(jwt, ".")[1]), &c); err != nil {
			t.Fatal(err)
		}
		if seen[c.Jti] {
			t.Fatalf("jti %s made twice", c.Jti)
		}
		seen[c.Jti] = true
	}
}

// A Signer is used from many goroutines at once (run with -race).
func TestSignerConcurrentUse(t *testing.T) {
	s, err := NewSigner(testKeys()["EdDSA"], "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	jwts := make([]string, 16)
	for i := range jwts {
		wg.Go(func() {
			jwts[i], _ = s.ClientAssertion(fmt.Sprint("c", i), "https://as.example", now)
		})
	}
	wg.Wait()
	for i, jwt := range jwts {
		_, claims := verifyJWS(t, jwt, s.pub, "EdDSA")
		if !strings.Contains(claims, fmt.Sprintf(`"iss":"c%d"`, i)) {
			t.Fatalf("goroutine %d got claims %s", i, claims)
		}
	}
}

// An ECDSA signature whose R or S is shorter than the curve's size is
// left-padded with zeros to the fixed size (RFC 7518 §3.4), not sent
// short: the signer here signs until it gets such a signature.
func TestECDSAShortRorSPadded(t *testing.T) {
	for _, tc := range []struct {
		alg   string
		which string
	}{{"ES256", "R"}, {"ES256", "S"}, {"ES512", "R"}, {"ES512", "S"}} {
		key := testKeys()[tc.alg].(*ecdsa.PrivateKey)
		size := (key.Curve.Params().BitSize + 7) / 8
		var short *big.Int
		f := &foreignSigner{key: key, sign: func(digest []byte, _ crypto.SignerOpts) ([]byte, error) {
			for {
				r, s, err := ecdsa.Sign(rand.Reader, key, digest)
				if err != nil {
					return nil, err
				}
				v := r
				if tc.which == "S" {
					v = s
				}
				if (v.BitLen()+7)/8 < size {
					short = v
					return asn1.Marshal(struct{ R, S *big.Int }{r, s})
				}
			}
		}}
		s, err := NewSigner(f, "")
		if err != nil {
			t.Fatal(err)
		}
		jwt, err := s.ClientAssertion("c", "https://as.example", now)
		if err != nil {
			t.Fatal(err)
		}
		verifyJWS(t, jwt, key.Public(), tc.alg) // checks 2*size bytes
		sig := unb64(t, strings.Split(jwt, ".")[2])
		half := sig[:size]
		if tc.which == "S" {
			half = sig[size:]
		}
		if half[0] != 0 || new(big.Int).SetBytes(half).Cmp(short) != 0 {
			t.Fatalf("%s short %s not left-padded: %x", tc.alg, tc.which, half)
		}
	}
}

type notAKey struct{}

// foreignPub is a signer whose public key is of a type NewSigner does not
// know.
func foreignPub(pub crypto.PublicKey) crypto.Signer {
	return &foreignSigner{pub: pub, sign: func([]byte, crypto.SignerOpts) ([]byte, error) { return nil, errors.New("unused") }}
}

func TestNewSignerRefuses(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		key  crypto.Signer
		want string
	}{
		"nil":                      {nil, "the key is nil"},
		"nil *rsa.PrivateKey":      {(*rsa.PrivateKey)(nil), "the key is nil"},
		"nil *ecdsa.PrivateKey":    {(*ecdsa.PrivateKey)(nil), "the key is nil"},
		"empty Ed25519":            {ed25519.PrivateKey(nil), "the key is nil"},
		"RSA 1024":                 {small, "the key is RSA of 1024 bits, fewer than 2048"},
		"ECDSA P-224":              {p224, "the key is ECDSA on P-224"},
		"X25519 public key":        {foreignPub(x.PublicKey()), "the key is a *ecdh.PublicKey"},
		"unknown type":             {foreignPub(notAKey{}), "the key is a assertion.notAKey"},
		"nil RSA public key":       {foreignPub((*rsa.PublicKey)(nil)), "nil RSA key"},
		"nil ECDSA public key":     {foreignPub((*ecdsa.PublicKey)(nil)), "nil ECDSA key"},
		"ECDSA without a point":    {foreignPub(&ecdsa.PublicKey{Curve: elliptic.P256()}), "not a valid P-256 point"},
		"Ed25519 of 31 bytes":      {foreignPub(ed25519.PublicKey(make([]byte, 31))), "31 bytes"},
		"RSA public key without n": {foreignPub(&rsa.PublicKey{}), "nil RSA key"},
	} {
		s, err := NewSigner(tc.key, "")
		if err == nil || s != nil {
			t.Errorf("%s: NewSigner = %v, nil", name, s)
			continue
		}
		if !strings.HasPrefix(err.Error(), "assertion: NewSigner: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want it to contain %q", name, err, tc.want)
		}
		if strings.Contains(tc.want, "the key is ") && !strings.Contains(err.Error(), "nil") && !strings.Contains(err.Error(), accepted) {
			t.Errorf("%s: error %q does not say what is accepted", name, err)
		}
	}
	if _, err := NewSigner(testKeys()["ES256"], "\xff"); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("a kid that is not UTF-8: %v", err)
	}
}

// RFC 8037's example key has A.3's thumbprint as its default kid, and a
// PublicJWK of its public members, alg, kid and use only.
func TestKeyIDThumbprintAndPublicJWK(t *testing.T) {
	key := ed25519.NewKeyFromSeed(unb64(t, rfc8037D))
	s, err := NewSigner(key, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID() != rfc8037Thumbprint {
		t.Fatalf("KeyID %s, want RFC 8037's thumbprint %s", s.KeyID(), rfc8037Thumbprint)
	}
	want := `{"crv":"Ed25519","kty":"OKP","x":"` + rfc8037X + `","alg":"EdDSA","kid":"` + rfc8037Thumbprint + `","use":"sig"}`
	if got := string(s.PublicJWK()); got != want {
		t.Fatalf("PublicJWK %s, want %s", got, want)
	}
	if got := string(s.JWKS()); got != `{"keys":[`+want+`]}` {
		t.Fatalf("JWKS %s", got)
	}
	j := s.PublicJWK()
	j[0] = 'X'
	if s.PublicJWK()[0] != '{' {
		t.Fatal("PublicJWK returned the Signer's own bytes")
	}
	// Each kind of key: a JSON object without private members, a kid that
	// needs escaping escaped.
	for _, alg := range algs {
		s, err := NewSigner(testKeys()[alg], `k"1`)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(s.PublicJWK(), &m); err != nil {
			t.Fatalf("%s: %s: %v", alg, s.PublicJWK(), err)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := m[private]; ok {
				t.Fatalf("%s: PublicJWK has %q", alg, private)
			}
		}
		if m["alg"] != alg || m["kid"] != `k"1` || m["use"] != "sig" {
			t.Fatalf("%s: PublicJWK %s", alg, s.PublicJWK())
		}
		var set struct{ Keys []json.RawMessage }
		if err := json.Unmarshal(s.JWKS(), &set); err != nil || len(set.Keys) != 1 || !bytes.Equal(set.Keys[0], s.PublicJWK()) {
			t.Fatalf("%s: JWKS %s", alg, s.JWKS())
		}
	}
}

func TestClientAssertionRefuses(t *testing.T) {
	key := testKeys()["ES256"].(*ecdsa.PrivateKey)
	s, err := NewSigner(key, "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	liar, err := NewSigner(&foreignSigner{key: other, pub: &key.PublicKey}, "")
	if err != nil {
		t.Fatal(err)
	}
	failing, err := NewSigner(&foreignSigner{key: key, sign: func([]byte, crypto.SignerOpts) ([]byte, error) {
		return nil, errors.New("token removed")
	}}, "")
	if err != nil {
		t.Fatal(err)
	}
	garbage, err := NewSigner(&foreignSigner{key: key, sign: func([]byte, crypto.SignerOpts) ([]byte, error) {
		return []byte("not DER"), nil
	}}, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		s       *Signer
		id, aud string
		at      time.Time
		want    string
	}{
		"zero Signer":         {&Signer{}, "c", "a", now, "the Signer is zero"},
		"nil Signer":          {nil, "c", "a", now, "the Signer is zero"},
		"no client ID":        {s, "", "a", now, "the client ID and the audience are required"},
		"no audience":         {s, "c", "", now, "the client ID and the audience are required"},
		"before 1970":         {s, "c", "a", time.Unix(-1, 0), "not between 1970 and 9999"},
		"exp after 9999":      {s, "c", "a", time.Date(9999, 12, 31, 23, 59, 30, 0, time.UTC), "not between 1970 and 9999"},
		"signer fails":        {failing, "c", "a", now, "the key's signer failed: token removed"},
		"signer not DER":      {garbage, "c", "a", now, "not an ASN.1 ECDSA signature"},
		"signer with another": {liar, "c", "a", now, "does not verify with the key's public key"},
	} {
		jwt, err := tc.s.ClientAssertion(tc.id, tc.aud, tc.at)
		if err == nil || jwt != "" {
			t.Errorf("%s: made %q", name, jwt)
			continue
		}
		if !strings.HasPrefix(err.Error(), "assertion: ClientAssertion: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want %q", name, err, tc.want)
		}
	}
	if _, err := s.ClientAssertion("c", "a", time.Date(9999, 12, 31, 23, 58, 59, 0, time.UTC)); err != nil {
		t.Errorf("the last minute whose exp fits: %v", err)
	}
}

// No fmt verb nor slog prints the key.
func TestSignerPrintsNoKey(t *testing.T) {
	key := testKeys()["ES256"].(*ecdsa.PrivateKey)
	s, err := NewSigner(key, "kid-9")
	if err != nil {
		t.Fatal(err)
	}
	d, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := "assertion.Signer(ES256, kid kid-9)"
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "signer", s)
	for _, got := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), fmt.Sprintf("%v", *s), fmt.Sprintf("%x", s), logged.String()} {
		if !strings.Contains(got, want) || strings.Contains(got, new(big.Int).SetBytes(d).String()) || strings.Contains(got, fmt.Sprintf("%x", d)) {
			t.Errorf("printed %q", got)
		}
	}
}
