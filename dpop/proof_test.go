package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop/internal/jose"
)

// decodeProof splits a proof into its header and claims (as JSON texts)
// and its signature bytes.
func decodeProof(t *testing.T, proof string) (header, claims string, sig []byte) {
	t.Helper()
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		t.Fatalf("proof has %d parts", len(parts))
	}
	var raw [3][]byte
	for i, p := range parts {
		b, err := jose.Decode(p)
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		raw[i] = b
	}
	return string(raw[0]), string(raw[1]), raw[2]
}

func TestProofShape(t *testing.T) {
	k := fixedKey(t, 1)
	now := time.Unix(1562262616, 700_000_000)
	proof, err := k.Proof(ProofParams{
		Method:      "GET",
		URL:         "https://user:pw@Resource.example.org:8443/protected/a%2Fb?q=secret#frag",
		Nonce:       "eyJ7S_zG.eyJH0-Z.HX4w-7v",
		AccessToken: "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU",
		Now:         now,
	})
	if err != nil {
		t.Fatal(err)
	}
	header, claims, sig := decodeProof(t, proof)
	if want := `{"typ":"dpop+jwt","alg":"ES256","jwk":` + string(k.PublicJWK()) + `}`; header != want {
		t.Errorf("header %s, want %s", header, want)
	}
	if len(sig) != 64 {
		t.Errorf("signature is %d bytes, want 64", len(sig))
	}
	var c map[string]any
	if err := json.Unmarshal([]byte(claims), &c); err != nil {
		t.Fatal(err)
	}
	jti, _ := c["jti"].(string)
	if b, err := jose.Decode(jti); err != nil || len(b) < 16 {
		t.Errorf("jti %q is not 128 random bits in base64url", jti)
	}
	for name, want := range map[string]any{
		"htm":   "GET",
		"htu":   "https://Resource.example.org:8443/protected/a%2Fb",
		"iat":   float64(1562262616),
		"nonce": "eyJ7S_zG.eyJH0-Z.HX4w-7v",
		// RFC 9449 §7.1's example token and its ath.
		"ath": "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo",
	} {
		if c[name] != want {
			t.Errorf("claim %s = %v, want %v", name, c[name], want)
		}
	}
	if len(c) != 6 {
		t.Errorf("claims %v, want jti htm htu iat nonce ath", c)
	}
	if strings.Contains(proof, "secret") || strings.Contains(claims, "pw") || strings.Contains(claims, "frag") {
		t.Errorf("the proof carries the URL's query, userinfo or fragment: %s", claims)
	}
}

func TestProofOmitsEmptyNonceAndAth(t *testing.T) {
	k := fixedKey(t, 2)
	before := time.Now().Unix()
	proof, err := k.Proof(ProofParams{Method: "POST", URL: "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().Unix()
	_, claims, _ := decodeProof(t, proof)
	var c map[string]any
	if err := json.Unmarshal([]byte(claims), &c); err != nil {
		t.Fatal(err)
	}
	if _, ok := c["nonce"]; ok {
		t.Error("a nonce claim without a nonce")
	}
	if _, ok := c["ath"]; ok {
		t.Error("an ath claim without an access token")
	}
	if iat := int64(c["iat"].(float64)); iat < before || iat > after {
		t.Errorf("iat %d is not the time of the call (zero Now means now): %d..%d", iat, before, after)
	}
	if c["htu"] != "http://127.0.0.1:8080" {
		t.Errorf("htu %v", c["htu"])
	}
}

func TestProofJTIsAreUnique(t *testing.T) {
	k := fixedKey(t, 3)
	seen := map[string]bool{}
	for i := 0; i < 500; i++ {
		proof, err := k.Proof(ProofParams{Method: "GET", URL: "https://r.example/"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(proof)
		if err != nil {
			t.Fatal(err)
		}
		if seen[p.JTI] {
			t.Fatalf("jti %s made twice", p.JTI)
		}
		seen[p.JTI] = true
	}
}

func TestProofRefuses(t *testing.T) {
	k := fixedKey(t, 4)
	for name, tc := range map[string]struct {
		p    ProofParams
		want string
	}{
		"empty method":     {ProofParams{URL: "https://r.example/"}, "not an HTTP method"},
		"method with 0x20": {ProofParams{Method: "GET /", URL: "https://r.example/"}, "not an HTTP method"},
		"method with LF":   {ProofParams{Method: "GE\nT", URL: "https://r.example/"}, "not an HTTP method"},
		"empty URL":        {ProofParams{Method: "GET"}, "not an absolute http or https URL"},
		"relative URL":     {ProofParams{Method: "GET", URL: "/token"}, "not an absolute http or https URL"},
		"no host":          {ProofParams{Method: "GET", URL: "https:///token"}, "not an absolute http or https URL"},
		"opaque":           {ProofParams{Method: "GET", URL: "https:r.example"}, "not an absolute http or https URL"},
		"ftp":              {ProofParams{Method: "GET", URL: "ftp://r.example/x"}, "not an absolute http or https URL"},
		"unparsable":       {ProofParams{Method: "GET", URL: "https://r.example/%zz?code=s3cr3t"}, "does not parse"},
		"nonce with NUL":   {ProofParams{Method: "GET", URL: "https://r.example/", Nonce: "a\x00b"}, "DPoP-Nonce"},
		"nonce not UTF-8":  {ProofParams{Method: "GET", URL: "https://r.example/", Nonce: "a\xffb"}, "DPoP-Nonce"},
	} {
		t.Run(name, func(t *testing.T) {
			proof, err := k.Proof(tc.p)
			if err == nil || proof != "" {
				t.Fatalf("Proof = %q, %v; want an error", proof, err)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("error %q: want %q and no part of the URL", err, tc.want)
			}
		})
	}
}

// A signer returns ASN.1 DER, whose R and S are as short as their values;
// JWS wants each as 32 bytes. About one signature in 128 has an R or S
// shorter than 32 bytes: this signer returns only those.
func TestProofPadsShortRAndS(t *testing.T) {
	priv := rawKey(t, 11)
	var shortR, shortS int
	signer := &foreignSigner{priv: priv, sign: func(digest []byte) ([]byte, error) {
		for {
			der, err := ecdsa.SignASN1(rand.Reader, priv, digest)
			if err != nil {
				return nil, err
			}
			var rs struct{ R, S *big.Int }
			if _, err := asn1.Unmarshal(der, &rs); err != nil {
				return nil, err
			}
			short := func(v *big.Int) bool { return len(v.Bytes()) < 32 }
			// Short R and short S in turn; a signature with both short
			// counts for the one whose turn it is.
			switch {
			case short(rs.R) && shortR <= shortS:
				shortR++
				return der, nil
			case short(rs.S) && shortS < shortR:
				shortS++
				return der, nil
			}
		}
	}}
	k, err := NewKey(signer)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		proof, err := k.Proof(ProofParams{Method: "GET", URL: "https://r.example/"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, sig := decodeProof(t, proof); len(sig) != 64 {
			t.Fatalf("signature of %d bytes", len(sig))
		}
		if _, err := Parse(proof); err != nil {
			t.Fatalf("a proof with a short R or S: %v", err)
		}
	}
	if shortR < 2 || shortS < 2 {
		t.Fatalf("short R %d times, short S %d times; want both", shortR, shortS)
	}
}

func TestProofWithAForeignSigner(t *testing.T) {
	priv := rawKey(t, 12)
	k, err := NewKey(&foreignSigner{priv: priv})
	if err != nil {
		t.Fatal(err)
	}
	if k.Thumbprint() != fixedKey(t, 12).Thumbprint() {
		t.Fatal("a foreign signer of a key has another thumbprint than the key")
	}
	proof, err := k.Proof(ProofParams{Method: "GET", URL: "https://r.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := Parse(proof); err != nil || p.JKT() != k.Thumbprint() {
		t.Fatalf("Parse = %v, %v", p, err)
	}
}

func TestProofRefusesABadSigner(t *testing.T) {
	priv, other := rawKey(t, 13), rawKey(t, 14)
	huge := new(big.Int).Lsh(big.NewInt(1), 256)
	derOf := func(r, s *big.Int) []byte {
		b, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, tc := range map[string]struct {
		sign func(digest []byte) ([]byte, error)
		want string
	}{
		"fails": {func([]byte) ([]byte, error) { return nil, errors.New("token removed") }, "the key's signer failed: token removed"},
		"another key": {func(d []byte) ([]byte, error) {
			return other.Sign(rand.Reader, d, crypto.SHA256)
		}, "signs with another key"},
		"raw R||S": {func(d []byte) ([]byte, error) {
			r, s, err := ecdsa.Sign(rand.Reader, priv, d)
			raw := make([]byte, 64)
			r.FillBytes(raw[:32])
			s.FillBytes(raw[32:])
			return raw, err
		}, "not an ASN.1 ECDSA signature"},
		"trailing bytes": {func(d []byte) ([]byte, error) {
			der, err := priv.Sign(rand.Reader, d, crypto.SHA256)
			return append(der, 0), err
		}, "not an ASN.1 ECDSA signature"},
		"R too large":  {func([]byte) ([]byte, error) { return derOf(huge, big.NewInt(1)), nil }, "does not fit P-256"},
		"S zero":       {func([]byte) ([]byte, error) { return derOf(big.NewInt(1), big.NewInt(0)), nil }, "does not fit P-256"},
		"R negative":   {func([]byte) ([]byte, error) { return derOf(big.NewInt(-1), big.NewInt(1)), nil }, "does not fit P-256"},
		"not verified": {func([]byte) ([]byte, error) { return derOf(big.NewInt(1), big.NewInt(1)), nil }, "signs with another key"},
	} {
		t.Run(name, func(t *testing.T) {
			k, err := NewKey(&foreignSigner{priv: priv, sign: tc.sign})
			if err != nil {
				t.Fatal(err)
			}
			proof, err := k.Proof(ProofParams{Method: "GET", URL: "https://r.example/"})
			if err == nil || proof != "" {
				t.Fatalf("Proof = %q, %v; want an error", proof, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
