package dpop_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/authloop/authloop/dpop"
)

// A client signs one proof per request: at the token endpoint without an
// access token, at a resource with the token it sends (ath).
func ExampleKey_Proof() {
	key, err := dpop.GenerateKey()
	if err != nil {
		fmt.Println(err)
		return
	}
	// The key outlives the process: store it with the session it proves
	// for (MarshalPrivateKey), and restore it at the next start.
	der, err := dpop.MarshalPrivateKey(key)
	if err != nil {
		fmt.Println(err)
		return
	}
	key, err = dpop.ParsePrivateKey(der)
	if err != nil {
		fmt.Println(err)
		return
	}

	req, err := http.NewRequest("GET", "https://api.example.com/v1/items?page=2", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	const accessToken = "access-token-bound-to-the-key"
	proof, err := key.Proof(dpop.ProofParams{
		Method:      req.Method,
		URL:         req.URL.String(),
		AccessToken: accessToken,
		Nonce:       "", // the latest DPoP-Nonce this server sent, if any
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	req.Header.Set("Authorization", "DPoP "+accessToken)
	req.Header.Set("DPoP", proof)

	p, err := dpop.Parse(req.Header.Get("DPoP"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.Header.Get("Authorization"))
	fmt.Println(p.HTM, p.HTU, p.JKT() == key.Thumbprint())
	// Output:
	// DPoP access-token-bound-to-the-key
	// GET https://api.example.com/v1/items true
}

// A server checks the proof that came with a request: its form and
// signature (Parse), then that it is for this request, recent, bound to
// the token's key, and carries the nonce the server wants (Check). Replay
// is the server's to stop, with the set of the jtis it has seen.
func ExampleProof_Check() {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	client, _ := dpop.GenerateKey()
	// What the token endpoint recorded in the token (cnf.jkt).
	boundTo := client.Thumbprint()
	seen := map[string]bool{}

	check := func(proof string) {
		p, err := dpop.Parse(proof)
		if err == nil {
			err = p.Check(dpop.Check{
				Method:      "POST",
				URL:         "https://api.example.com/v1/items",
				Now:         now,
				Nonce:       "nonce-7",
				AccessToken: "at-1",
				JKT:         boundTo,
			})
		}
		switch {
		case errors.Is(err, dpop.ErrNonceRequired):
			fmt.Println("401 use_dpop_nonce, DPoP-Nonce: nonce-7")
		case err != nil:
			fmt.Println("401 invalid_dpop_proof")
		case seen[p.JTI]:
			fmt.Println("401 invalid_dpop_proof (replayed)")
		default:
			seen[p.JTI] = true
			fmt.Println("200")
		}
	}

	params := dpop.ProofParams{Method: "POST", URL: "https://api.example.com/v1/items", AccessToken: "at-1", Now: now}
	first, _ := client.Proof(params)
	check(first) // no nonce yet
	params.Nonce = "nonce-7"
	second, _ := client.Proof(params)
	check(second)
	check(second) // the same proof again

	thief, _ := dpop.GenerateKey() // the token without its key
	stolen, _ := thief.Proof(params)
	check(stolen)
	// Output:
	// 401 use_dpop_nonce, DPoP-Nonce: nonce-7
	// 200
	// 401 invalid_dpop_proof (replayed)
	// 401 invalid_dpop_proof
}
