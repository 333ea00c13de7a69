package dpop

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop/internal/jose"
)

// A good proof's parts, for the tests that change one of them.
const (
	goodClaims = `{"jti":"0ZQlrMcmNg3YIvy8zUGXiw","htm":"POST","htu":"https://as.example/token","iat":1700000000}`
	goodX      = "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY" // of rawKey(1)
	goodY      = "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"
	goodJWK    = `{"kty":"EC","crv":"P-256","x":"` + goodX + `","y":"` + goodY + `"}`
	goodHeader = `{"typ":"dpop+jwt","alg":"ES256","jwk":` + goodJWK + `}`
)

func TestParseGood(t *testing.T) {
	k := rawKey(t, 1)
	p, err := Parse(signJWS(t, k, goodHeader, `{"jti":"j","htm":"POST","htu":"https://as.example/token","iat":1700000000.25,"nonce":"n","ath":"a","other":{"x":[1]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Proof{JTI: "j", HTM: "POST", HTU: "https://as.example/token", IAT: time.Unix(1700000000, 250_000_000).UTC(), Nonce: "n", ATH: "a", jkt: fixedKey(t, 1).Thumbprint()}
	if *p != want {
		t.Fatalf("Parse = %+v, want %+v", *p, want)
	}
	// Members of the header and the jwk this package does not use are
	// allowed.
	if _, err := Parse(signJWS(t, k, `{"kid":"k1","typ":"dpop+jwt","jwk":{"use":"sig","kty":"EC","crv":"P-256","x":"`+goodX+`","y":"`+goodY+`","alg":"ES256"},"alg":"ES256"}`, goodClaims)); err != nil {
		t.Fatal(err)
	}
}

// Each refusal of Parse, each on a proof that differs from a good one in
// that one place, and signed by the jwk it carries unless the signature is
// the point: remove a check, and its case passes Parse.
func TestParseRefuses(t *testing.T) {
	k := rawKey(t, 1)
	good := signJWS(t, k, goodHeader, goodClaims)
	withHeader := func(h string) string { return signJWS(t, k, h, goodClaims) }
	withJWK := func(jwk string) string {
		return signJWS(t, k, `{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`}`, goodClaims)
	}
	withClaims := func(c string) string { return signJWS(t, k, goodHeader, c) }
	parts := strings.Split(good, ".")
	input := parts[0] + "." + parts[1]
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	der, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	s.FillBytes(raw[32:])
	flipped := append([]byte(nil), raw...)
	flipped[40] ^= 1
	other := rawKey(t, 2)
	offCurveY := "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfQ" // goodY with its last bit cleared
	x31 := jose.Encode(mustB64(t, goodX)[1:])

	// The largest proof Parse reads, and one byte more: a good proof with
	// padding in an extra header member and an extra claim.
	sized := func(n int) string {
		t.Helper()
		for h := 0; h < 4; h++ {
			header := `{"typ":"dpop+jwt","alg":"ES256","kid":"` + strings.Repeat("k", h) + `","jwk":` + goodJWK + `}`
			for c := (n - 700) * 3 / 4; c < n; c++ {
				p := signJWS(t, k, header, `{"pad":"`+strings.Repeat("p", c)+`","jti":"j","htm":"POST","htu":"https://as.example/token","iat":1700000000}`)
				if len(p) == n {
					return p
				}
				if len(p) > n {
					break
				}
			}
		}
		t.Fatalf("cannot make a proof of %d bytes", n)
		return ""
	}
	if _, err := Parse(sized(MaxProofSize)); err != nil {
		t.Fatalf("a proof of exactly %d bytes: %v", MaxProofSize, err)
	}
	oversize := sized(MaxProofSize + 1)

	for _, tc := range []struct {
		name, proof, want string
	}{
		{"oversize", oversize, "more than the 8192"},
		{"two parts", input, "has 2 parts"},
		{"four parts", good + ".x", "has 4 parts"},
		{"padded header", parts[0] + "=." + parts[1] + "." + parts[2], "header is not base64url"},
		{"standard base64 header", strings.NewReplacer("-", "+", "_", "/").Replace(withHeader(`{"typ":"dpop+jwt","alg":"ES256","jwk":` + goodJWK + `,"z":"~~~~~~~~~~~~~~~>>>>>>>>???"}`)), "not base64url"},
		{"line break in the claims", parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], "claims are not base64url"},
		{"non-canonical base64 in the signature", input + "." + jose.Encode(raw)[:85] + "B", "signature is not base64url"},
		{"typ jwt", withHeader(`{"typ":"jwt","alg":"ES256","jwk":` + goodJWK + `}`), `typ is not "dpop+jwt"`},
		{"typ in upper case", withHeader(`{"typ":"DPOP+JWT","alg":"ES256","jwk":` + goodJWK + `}`), `typ is not "dpop+jwt"`},
		{"no typ", withHeader(`{"alg":"ES256","jwk":` + goodJWK + `}`), `typ is not "dpop+jwt"`},
		{"TYP for typ", withHeader(`{"TYP":"dpop+jwt","alg":"ES256","jwk":` + goodJWK + `}`), `typ is not "dpop+jwt"`},
		{"typ not a string", withHeader(`{"typ":["dpop+jwt"],"alg":"ES256","jwk":` + goodJWK + `}`), `typ is not "dpop+jwt"`},
		{"alg none", withHeader(`{"typ":"dpop+jwt","alg":"none","jwk":` + goodJWK + `}`), `alg is "none"`},
		{"alg none unsigned", jose.Encode([]byte(`{"typ":"dpop+jwt","alg":"none","jwk":`+goodJWK+`}`)) + "." + parts[1] + ".", `alg is "none"`},
		{"alg HS256", withHeader(`{"typ":"dpop+jwt","alg":"HS256","jwk":` + goodJWK + `}`), `alg is "HS256"`},
		{"alg ES384", withHeader(`{"typ":"dpop+jwt","alg":"ES384","jwk":` + goodJWK + `}`), `alg is "ES384"`},
		{"alg es256", withHeader(`{"typ":"dpop+jwt","alg":"es256","jwk":` + goodJWK + `}`), `alg is "es256"`},
		{"no alg", withHeader(`{"typ":"dpop+jwt","jwk":` + goodJWK + `}`), `alg is ""`},
		{"alg twice", withHeader(`{"typ":"dpop+jwt","alg":"none","alg":"ES256","jwk":` + goodJWK + `}`), `"alg" appears twice`},
		{"alg twice, escaped", withHeader(`{"typ":"dpop+jwt","alg":"ES256","\u0061lg":"ES256","jwk":` + goodJWK + `}`), `"alg" appears twice`},
		{"crit", withHeader(`{"typ":"dpop+jwt","alg":"ES256","crit":["exp"],"exp":1,"jwk":` + goodJWK + `}`), "crit"},
		{"header not an object", withHeader(`["typ","dpop+jwt"]`), "not a JSON object"},
		{"header with trailing data", withHeader(goodHeader + `{}`), "data after the JSON object"},
		{"header not JSON", withHeader(`{"typ":"dpop+jwt",`), "header: not JSON"},
		{"header not UTF-8", withHeader(`{"typ":"dpop+jwt","alg":"ES256","x":"` + "\xff" + `","jwk":` + goodJWK + `}`), "not valid UTF-8"},
		{"no jwk", withHeader(`{"typ":"dpop+jwt","alg":"ES256"}`), "no jwk"},
		{"jwk with d", withJWK(`{"kty":"EC","crv":"P-256","x":"` + goodX + `","y":"` + goodY + `","d":"` + jose.Encode(mustRaw(t, k)) + `"}`), `private member "d"`},
		{"jwk with k", withJWK(`{"kty":"EC","crv":"P-256","x":"` + goodX + `","y":"` + goodY + `","k":"AAAA"}`), `private member "k"`},
		{"jwk kty RSA", withJWK(`{"kty":"RSA","crv":"P-256","x":"` + goodX + `","y":"` + goodY + `"}`), `kty is not "EC"`},
		{"jwk crv P-384", withJWK(`{"kty":"EC","crv":"P-384","x":"` + goodX + `","y":"` + goodY + `"}`), `crv is not "P-256"`},
		{"jwk crv secp256k1", withJWK(`{"kty":"EC","crv":"secp256k1","x":"` + goodX + `","y":"` + goodY + `"}`), `crv is not "P-256"`},
		{"jwk off the curve", withJWK(`{"kty":"EC","crv":"P-256","x":"` + goodX + `","y":"` + offCurveY + `"}`), "not a point on P-256"},
		{"jwk x of 31 bytes", withJWK(`{"kty":"EC","crv":"P-256","x":"` + x31 + `","y":"` + goodY + `"}`), "x is not 32 bytes"},
		{"jwk y padded", withJWK(`{"kty":"EC","crv":"P-256","x":"` + goodX + `","y":"` + goodY + `="}`), "y is not 32 bytes"},
		{"jwk x a number", withJWK(`{"kty":"EC","crv":"P-256","x":1,"y":"` + goodY + `"}`), `"x" is not a string`},
		{"jwk not an object", withJWK(`"` + goodX + `"`), "jwk: not a JSON object"},
		{"jwk x twice", withJWK(`{"kty":"EC","crv":"P-256","x":"` + goodY + `","x":"` + goodX + `","y":"` + goodY + `"}`), `"x" appears twice`},
		{"another key's jwk", signJWS(t, other, goodHeader, goodClaims), "does not verify"},
		{"bad signature", input + "." + jose.Encode(flipped), "does not verify"},
		{"signature of another input", input + "." + strings.Split(withClaims(`{"jti":"other","htm":"POST","htu":"https://as.example/token","iat":1700000000}`), ".")[2], "does not verify"},
		{"signature of 63 bytes", input + "." + jose.Encode(raw[:63]), "signature is 63 bytes"},
		{"signature of 65 bytes", input + "." + jose.Encode(append(append([]byte(nil), raw...), 0)), "signature is 65 bytes"},
		{"ASN.1 signature", input + "." + jose.Encode(der), fmt.Sprintf("signature is %d bytes", len(der))},
		{"empty signature", input + ".", "signature is 0 bytes"},
		{"no jti", withClaims(`{"htm":"POST","htu":"https://as.example/token","iat":1700000000}`), "jti is missing"},
		{"empty jti", withClaims(`{"jti":"","htm":"POST","htu":"https://as.example/token","iat":1700000000}`), "jti is missing"},
		{"jti a number", withClaims(`{"jti":7,"htm":"POST","htu":"https://as.example/token","iat":1700000000}`), `"jti" is not a string`},
		{"jti null", withClaims(`{"jti":null,"htm":"POST","htu":"https://as.example/token","iat":1700000000}`), `"jti" is not a string`},
		{"no htm", withClaims(`{"jti":"j","htu":"https://as.example/token","iat":1700000000}`), "htm is missing"},
		{"htm not a method", withClaims(`{"jti":"j","htm":"PO ST","htu":"https://as.example/token","iat":1700000000}`), "not an HTTP method"},
		{"no htu", withClaims(`{"jti":"j","htm":"POST","iat":1700000000}`), "htu is missing"},
		{"htu relative", withClaims(`{"jti":"j","htm":"POST","htu":"/token","iat":1700000000}`), "htu: the URL is not an absolute"},
		{"htu ftp", withClaims(`{"jti":"j","htm":"POST","htu":"ftp://as.example/token","iat":1700000000}`), "htu: the URL is not an absolute"},
		{"no iat", withClaims(`{"jti":"j","htm":"POST","htu":"https://as.example/token"}`), "iat: missing"},
		{"iat a string", withClaims(`{"jti":"j","htm":"POST","htu":"https://as.example/token","iat":"1700000000"}`), "iat: not a number"},
		{"iat negative", withClaims(`{"jti":"j","htm":"POST","htu":"https://as.example/token","iat":-1}`), "iat: not a time"},
		{"iat huge", withClaims(`{"jti":"j","htm":"POST","htu":"https://as.example/token","iat":1e300}`), "iat: not a time"},
		{"nonce a number", withClaims(`{"jti":"j","htm":"POST","htu":"https://as.example/token","iat":1700000000,"nonce":1}`), `"nonce" is not a string`},
		{"ath an object", withClaims(`{"jti":"j","htm":"POST","htu":"https://as.example/token","iat":1700000000,"ath":{}}`), `"ath" is not a string`},
		{"htu twice", withClaims(`{"jti":"j","htm":"POST","htu":"https://evil.example/token","htu":"https://as.example/token","iat":1700000000}`), `"htu" appears twice`},
		{"claims not UTF-8", withClaims(`{"jti":"j` + "\xc3" + `","htm":"POST","htu":"https://as.example/token","iat":1700000000}`), "claims: not valid UTF-8"},
		{"claims an array", withClaims(`[]`), "claims: not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.proof)
			if err == nil || p != nil {
				t.Fatalf("Parse = %+v, %v; want an error", p, err)
			}
			if !errors.Is(err, ErrInvalidProof) || errors.Is(err, ErrNonceRequired) {
				t.Fatalf("error %q does not match ErrInvalidProof alone", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := jose.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRaw(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
