package assertion

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// fuzzSecrets are the base64url private parts of the seeds' keys, which no
// error may quote, even of an input mutated from a seed.
func fuzzSecrets(t testing.TB) []string {
	var s []string
	for _, alg := range algs {
		jwk := privateJWK(t, testKeys()[alg], nil)
		for _, name := range []string{"d", "p", "q"} {
			if v := jwkMember(t, jwk, name); v != "" {
				s = append(s, v)
			}
		}
		pem := string(pkcs8(t, testKeys()[alg]))
		s = append(s, pem[len("-----BEGIN PRIVATE KEY-----\n"):][:40])
	}
	return append(s, rfc8037D)
}

// FuzzParsePrivateKey feeds ParsePrivateKey any bytes: it never panics;
// what it accepts is a key NewSigner either takes (and then signs an
// assertion that verifies) or refuses with an error; a refusal is one line
// with the function's prefix, and quotes no 16 bytes of a seed key's
// private parts.
func FuzzParsePrivateKey(f *testing.F) {
	for _, alg := range algs {
		k := testKeys()[alg]
		f.Add(pkcs8(f, k))
		f.Add(privateJWK(f, k, map[string]string{"kid": "k", "alg": alg, "use": "sig"}))
		switch k := k.(type) {
		case *ecdsa.PrivateKey:
			f.Add(append([]byte(ecParameters), sec1(f, k)...))
		case *rsa.PrivateKey:
			f.Add(pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k)))
		}
	}
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","d":"` + rfc8037D + `","x":"` + rfc8037X + `"}]}`))
	f.Add(append(certPEM(f, testKeys()["ES256"]), publicPEM(f, testKeys()["ES256"])...))
	f.Add(block("ENCRYPTED PRIVATE KEY", nil))
	f.Add([]byte(""))
	secrets := fuzzSecrets(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		key, kid, err := ParsePrivateKey(data)
		if err != nil {
			msg := err.Error()
			if key != nil || kid != "" || !strings.HasPrefix(msg, "assertion: ParsePrivateKey: ") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("refusal %q with key %v kid %q", msg, key != nil, kid)
			}
			for _, s := range secrets {
				for i := 0; i+16 <= len(s); i += 8 {
					if strings.Contains(msg, s[i:i+16]) {
						t.Fatalf("the error quotes a private key: %q", msg)
					}
				}
			}
			return
		}
		if key == nil || len(data) > MaxKeySize {
			t.Fatalf("accepted %d bytes as %v", len(data), key)
		}
		switch key.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		default:
			t.Fatalf("accepted a %T", key)
		}
		s, err := NewSigner(key, kid)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "assertion: NewSigner: ") {
				t.Fatal(err)
			}
			return
		}
		jwt, err := s.ClientAssertion("c", "https://as.example/token", now)
		if err != nil {
			t.Fatalf("an accepted key does not sign: %v", err)
		}
		verifyJWS(t, jwt, key.Public(), s.Algorithm())
		verifyJWS(t, jwt, publicKeyOfJWK(t, s.PublicJWK()), s.Algorithm())
	})
}

// FuzzExpiry feeds Expiry any text: it never panics, and what it reads is
// what encoding/json reads as the claims' exp, of a JWT of at most
// MaxJWTSize bytes and three parts.
func FuzzExpiry(f *testing.F) {
	h := `{"alg":"RS256","kid":"k"}`
	for _, seed := range []string{
		jwtOf(h, `{"iss":"i","exp":1800000000}`, "c2ln"),
		jwtOf(h, `{"exp":1800000000.25,"iat":1}`, ""),
		jwtOf(h, `{"exp":1,"exp":2}`, "c2ln"),
		jwtOf(h, `{"exp":"1"}`, "c2ln"),
		jwtOf(h, `{"exp":253402300799}`, "c2ln"),
		jwtOf(h, `{"exp":2.5e9}`, "c2ln"),
		"", "..", "a.b.c",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, jwt string) {
		exp, ok := Expiry(jwt)
		if !ok {
			if !exp.IsZero() {
				t.Fatalf("not ok with %v", exp)
			}
			return
		}
		parts := strings.Split(jwt, ".")
		if len(jwt) > MaxJWTSize || len(parts) != 3 {
			t.Fatalf("read %d bytes, %d parts", len(jwt), len(parts))
		}
		var c struct{ Exp float64 }
		if err := json.Unmarshal(unb64(t, parts[1]), &c); err != nil {
			t.Fatalf("encoding/json cannot read claims Expiry read: %v", err)
		}
		if want := time.Unix(0, 0).Add(time.Duration(c.Exp * float64(time.Second))); c.Exp < 9e9 && exp.Sub(want).Abs() > time.Microsecond {
			t.Fatalf("Expiry %v, encoding/json's exp %v", exp, c.Exp)
		}
		if exp.Unix() != int64(c.Exp) || exp.Before(time.Unix(0, 0)) {
			t.Fatalf("Expiry %v, encoding/json's exp %v", exp, c.Exp)
		}
	})
}
