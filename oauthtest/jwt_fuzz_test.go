package oauthtest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"
)

// FuzzParseJWT feeds the server's JWT reader (client assertions, JWT-bearer
// grants, subject tokens: all untrusted) arbitrary input. It must never
// panic; what it accepts has an alg and an object of claims, whose reading
// (aud, dates) and checking (signature, times) must not panic either, and
// nothing it accepts verifies with a key that did not sign it. The seed
// corpus is in testdata/fuzz/FuzzParseJWT.
func FuzzParseJWT(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	signer := NewAssertionIssuer("https://issuer.example")
	f.Add(signer.Sign(map[string]any{"iss": "https://issuer.example", "aud": []string{"a", "b"}, "exp": 1.9e9}))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("e30.e30.")
	f.Add(`eyJhbGciOiJFUzI1NiIsImNyaXQiOlsiZXhwIl19.eyJleHAiOiIxIn0.AA`)
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := parseJWT(s)
		if err != nil {
			if tok != nil {
				t.Fatal("a token with an error")
			}
			return
		}
		if tok.alg == "" || tok.claims == nil || strings.Count(string(tok.signed), ".") != 1 {
			t.Fatalf("accepted %q with alg %q claims %v", s, tok.alg, tok.claims)
		}
		_ = tok.audiences()
		_, _ = checkTimes(tok, time.Unix(1_900_000_000, 0))
		if tok.verify(&ec.PublicKey) == nil || tok.verify(edPub) == nil {
			t.Fatalf("%q verifies with a key that never signed it", s)
		}
		_ = tok.verify(signer.Key())
	})
}
