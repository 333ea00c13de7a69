package oauthtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/authloop/authloop/dpop"
	"github.com/authloop/authloop/oauthtest"
)

// A server with DPoP (RFC 9449) and nonces: the token request's first
// proof is answered use_dpop_nonce with the nonce to use, the retry gets
// a token bound to the client's key, which the resource takes with the
// DPoP scheme and a proof, and refuses as a bearer token.
func Example_dpop() {
	srv := oauthtest.NewServer(oauthtest.Config{
		DPoPNonce: true, // implies DPoP
		Clients:   []oauthtest.Client{{ID: "svc", Secret: "svc-secret", AuthMethod: oauthtest.AuthClientSecretPost}},
	})
	defer srv.Close()
	key, err := dpop.GenerateKey()
	if err != nil {
		fmt.Println(err)
		return
	}

	// post sends a token request with a proof carrying nonce.
	post := func(nonce string) (*http.Response, map[string]any) {
		p, err := key.Proof(dpop.ProofParams{Method: "POST", URL: srv.TokenEndpoint(), Nonce: nonce})
		if err != nil {
			panic(err)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"svc-secret"}}
		req, _ := http.NewRequest("POST", srv.TokenEndpoint(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", p)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}
	resp, body := post("")
	fmt.Println(resp.StatusCode, body["error"])
	nonce := resp.Header.Get("DPoP-Nonce")
	resp, body = post(nonce)
	at, _ := body["access_token"].(string)
	fmt.Println(resp.StatusCode, body["token_type"], srv.TokenBinding(at) == key.Thumbprint())

	// call calls the resource with at under scheme, with a proof.
	call := func(scheme string) int {
		p, err := key.Proof(dpop.ProofParams{Method: "GET", URL: srv.ResourceEndpoint(), AccessToken: at, Nonce: nonce})
		if err != nil {
			panic(err)
		}
		req, _ := http.NewRequest("GET", srv.ResourceEndpoint(), nil)
		req.Header.Set("Authorization", scheme+" "+at)
		req.Header.Set("DPoP", p)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println("DPoP:", call("DPoP"), "Bearer:", call("Bearer"))
	// Output:
	// 400 use_dpop_nonce
	// 200 DPoP true
	// DPoP: 200 Bearer: 401
}
