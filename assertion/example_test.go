package assertion_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log"
	"net/url"
	"time"

	"github.com/authloop/authloop/assertion"
)

// A client authenticates at a token endpoint with private_key_jwt: it
// registers Signer.JWKS with its authorization server once, then sends a
// new assertion with each token request. (LoadSigner reads the key from a
// file instead; any crypto.Signer, such as a KMS key, works.)
func Example() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := assertion.NewSigner(key, "ci-key-1")
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) // time.Now() in a program
	jwt, err := signer.ClientAssertion("ci-job", "https://as.example.com/token", now)
	if err != nil {
		log.Fatal(err)
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {assertion.ClientAssertionType},
		"client_assertion":      {jwt},
	}
	exp, _ := assertion.Expiry(jwt)
	fmt.Println(signer.Algorithm(), signer.KeyID())
	fmt.Println(form.Get("client_assertion_type"))
	fmt.Println("valid for", exp.Sub(now))
	// Output:
	// ES256 ci-key-1
	// urn:ietf:params:oauth:client-assertion-type:jwt-bearer
	// valid for 1m0s
}
