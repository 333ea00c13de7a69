package dpop

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/internal/jose"
)

// A server that sends a huge DPoP-Nonce (or a URL with a huge path) would
// have the client send a huge header on every request, which no checker
// reads (Parse stops at MaxProofSize). Proof makes no proof that Parse
// would refuse for its size.
func TestProofRefusesAProofParseWouldRefuse(t *testing.T) {
	k := fixedKey(t, 41)
	for name, p := range map[string]ProofParams{
		"huge nonce": {Method: "GET", URL: "https://rs.example/", Nonce: strings.Repeat("n", MaxProofSize)},
		"huge path":  {Method: "GET", URL: "https://rs.example/" + strings.Repeat("p", MaxProofSize)},
	} {
		proof, err := k.Proof(p)
		if err == nil || proof != "" {
			t.Errorf("%s: Proof made a proof of %d bytes", name, len(proof))
			continue
		}
		if !strings.Contains(err.Error(), "more than the 8192") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The longest nonce that fits makes a proof that Parse reads. A proof
	// grows with its nonce, so a binary search finds that nonce: the
	// longest length whose proof Proof makes (lo), the next one refused.
	proofOf := func(n int) (string, error) {
		return k.Proof(ProofParams{Method: "GET", URL: "https://rs.example/", Nonce: strings.Repeat("n", n)})
	}
	lo, hi := 0, MaxProofSize // Proof makes a proof with a nonce of lo bytes, refuses hi (above)
	if _, err := proofOf(lo); err != nil {
		t.Fatalf("a proof with an empty nonce: %v", err)
	}
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; func() bool { _, err := proofOf(mid); return err == nil }() {
			lo = mid
		} else {
			hi = mid
		}
	}
	proof, err := proofOf(lo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(proof); err != nil || len(proof) < MaxProofSize-4 {
		t.Fatalf("a proof of %d bytes: %v", len(proof), err)
	}
}

// iat must be a time Parse accepts: a clock before 1970 (or after 9999)
// is refused at the client, not by every server.
func TestProofRefusesAnIATParseWouldRefuse(t *testing.T) {
	k := fixedKey(t, 42)
	for _, now := range []time.Time{time.Unix(-1, 0), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		proof, err := k.Proof(ProofParams{Method: "GET", URL: "https://rs.example/", Now: now})
		if err == nil || !strings.Contains(err.Error(), "the clock") {
			t.Errorf("Now %v: Proof = %q, %v; want an error about the clock", now, proof, err)
		}
	}
	for _, now := range []time.Time{time.Unix(0, 0), time.Unix(jose.MaxNumericDate, 999_999_999)} {
		proof, err := k.Proof(ProofParams{Method: "GET", URL: "https://rs.example/", Now: now})
		if err != nil {
			t.Fatalf("Now %v: %v", now, err)
		}
		if _, err := Parse(proof); err != nil {
			t.Fatalf("Now %v: %v", now, err)
		}
	}
}

// The zero Key is not a key: Proof says so instead of panicking.
func TestZeroKeyRefusesToProve(t *testing.T) {
	for _, k := range []*Key{{}, nil} {
		proof, err := k.Proof(ProofParams{Method: "GET", URL: "https://rs.example/"})
		if err == nil || proof != "" || !strings.Contains(err.Error(), "GenerateKey") {
			t.Errorf("Proof of %#v = %q, %v; want an error", k, proof, err)
		}
	}
}

// One Key proves for many goroutines at once (run with -race).
func TestProofConcurrent(t *testing.T) {
	k := fixedKey(t, 43)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]bool{}
	)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				proof, err := k.Proof(ProofParams{Method: "POST", URL: "https://as.example/token"})
				if err != nil {
					t.Error(err)
					return
				}
				p, err := Parse(proof)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[p.JTI] {
					t.Errorf("jti %s twice", p.JTI)
				}
				seen[p.JTI] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
