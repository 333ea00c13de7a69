package dpop

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop/internal/jose"
)

// checkAccepted asserts what holds of every proof Parse accepts: it is no
// larger than MaxProofSize, Parse is deterministic, the proof names a key
// by a thumbprint of 43 characters, and it passes Check against its own
// claims (so Parse accepts no htm or htu that Check cannot compare).
func checkAccepted(t *testing.T, proof string, p *Proof) {
	t.Helper()
	if len(proof) > MaxProofSize {
		t.Fatalf("accepted a proof of %d bytes", len(proof))
	}
	again, err := Parse(proof)
	if err != nil || !reflect.DeepEqual(p, again) {
		t.Fatalf("Parse is not deterministic: %+v, then %+v, %v", p, again, err)
	}
	if len(p.JKT()) != 43 || p.JTI == "" || p.HTM == "" || p.HTU == "" {
		t.Fatalf("accepted %+v", p)
	}
	if err := p.Check(Check{Method: p.HTM, URL: p.HTU, Now: p.IAT, Nonce: p.Nonce, JKT: p.JKT()}); err != nil {
		t.Fatalf("an accepted proof fails Check against its own claims: %v (%+v)", err, p)
	}
}

// checkRefused asserts that a refusal matches ErrInvalidProof and says so
// in one line.
func checkRefused(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrInvalidProof) || errors.Is(err, ErrNonceRequired) {
		t.Fatalf("Parse's error %q does not match ErrInvalidProof alone", err)
	}
	if !strings.HasPrefix(err.Error(), "dpop: ") || strings.ContainsAny(err.Error(), "\n\r") {
		t.Fatalf("Parse's error %q is not one line starting with dpop:", err)
	}
}

// FuzzParse feeds Parse any text: it never panics, refuses with
// ErrInvalidProof, and what it accepts re-checks consistently. Each input
// is also signed again with rawKey(1), the key of the seeds' jwk, so that
// changes to the header and claims of a seed reach the checks after the
// signature, which a fuzzer cannot forge its way to.
func FuzzParse(f *testing.F) {
	k := rawKey(f, 1)
	for _, seed := range []string{
		signJWS(f, k, goodHeader, goodClaims),
		signJWS(f, k, goodHeader, `{"jti":"j","htm":"GET","htu":"https://rs.example:443/a%7e?q#f","iat":1700000000.5,"nonce":"n","ath":"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"}`),
		signJWS(f, k, `{"typ":"dpop+jwt","alg":"none","jwk":`+goodJWK+`}`, goodClaims),
		signJWS(f, k, `{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":`+goodJWK+`}`, goodClaims),
		"", ".", "..", "a.b.c",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, proof string) {
		p, err := Parse(proof)
		if err != nil {
			checkRefused(t, err)
		} else {
			checkAccepted(t, proof, p)
		}
		parts := strings.Split(proof, ".")
		if len(parts) != 3 || len(proof) > 2*MaxProofSize {
			return
		}
		header, err1 := jose.Decode(parts[0])
		claims, err2 := jose.Decode(parts[1])
		if err1 != nil || err2 != nil {
			return
		}
		resigned := signJWS(t, k, string(header), string(claims))
		p, err = Parse(resigned)
		if err != nil {
			checkRefused(t, err)
		} else {
			checkAccepted(t, resigned, p)
		}
	})
}

// FuzzProofRoundTrip: whatever request Proof makes a proof for, the proof
// parses (Proof makes none that Parse refuses, not even for its size or
// its iat) and passes Check for that request, with its nonce, access token
// and key; and what Proof refuses, it refuses with an error.
func FuzzProofRoundTrip(f *testing.F) {
	k := fixedKey(f, 379)
	f.Add("POST", "https://as.example/token", "", "", int64(1700000000))
	f.Add("GET", "https://user@RS.example:443/a%7e/b%2F?q=1#frag", "eyJ7S_zG.eyJH0-Z", "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU", int64(0))
	f.Add("PATCH", "http://[fe80::1%25en0]:8080", "<&>\u2028", "tok\x00en", int64(-5))
	f.Add("get", "HTTP://x:80/%41%2f;p?#", "n", "t", int64(253402300799))
	f.Fuzz(func(t *testing.T, method, url, nonce, token string, iat int64) {
		now := time.Unix(iat, 0)
		proof, err := k.Proof(ProofParams{Method: method, URL: url, Nonce: nonce, AccessToken: token, Now: now})
		if err != nil {
			if proof != "" || !strings.HasPrefix(err.Error(), "dpop: Proof: ") {
				t.Fatalf("Proof = %q, %v", proof, err)
			}
			return
		}
		p, err := Parse(proof)
		if err != nil {
			t.Fatalf("Parse of a proof Proof made: %v", err)
		}
		checkAccepted(t, proof, p)
		if p.HTM != method || p.Nonce != nonce || !p.IAT.Equal(now) || p.JKT() != k.Thumbprint() || (p.ATH == "") != (token == "") {
			t.Fatalf("parsed %+v from a proof for %q %q nonce %q at %v", p, method, url, nonce, now)
		}
		if strings.ContainsAny(p.HTU, "?#") {
			t.Fatalf("htu %q keeps a query or fragment of %q", p.HTU, url)
		}
		if err := p.Check(Check{Method: method, URL: url, Now: now, Nonce: nonce, AccessToken: token, JKT: k.Thumbprint()}); err != nil {
			t.Fatalf("a proof for %q %q fails Check for it: %v", method, url, err)
		}
	})
}

// The committed seeds of FuzzParse are what their names say: valid-* pass
// Parse, miss-* (near misses) do not.
func TestFuzzParseCorpusNames(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var valid, miss int
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "string(") {
			t.Fatalf("%s is not a corpus file of one string", e.Name())
		}
		proof, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		_, err = Parse(proof)
		switch {
		case strings.HasPrefix(e.Name(), "valid-"):
			valid++
			if err != nil {
				t.Errorf("%s: %v", e.Name(), err)
			}
		case strings.HasPrefix(e.Name(), "miss-"):
			miss++
			if err == nil {
				t.Errorf("%s passes Parse", e.Name())
			}
		}
	}
	if valid < 3 || miss < 10 {
		t.Fatalf("%d valid seeds and %d near misses; the corpus lost its named seeds", valid, miss)
	}
}
