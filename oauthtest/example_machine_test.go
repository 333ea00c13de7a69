package oauthtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"golang.org/x/oauth2"
)

// postToken sends a token request and returns the decoded answer.
func postToken(endpoint string, form url.Values) map[string]any {
	resp, err := http.PostForm(endpoint, form)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body
}

// Workload identity: the server trusts a platform's issuer (here minted by
// an AssertionIssuer, as a Kubernetes cluster would sign a service
// account token), and a program trades the platform's token for an access
// token with the JWT-bearer grant (RFC 7523 §2.1). A token with a jti is
// taken once.
func Example_jwtBearer() {
	platform := oauthtest.NewAssertionIssuer("https://kubernetes.default.svc")
	srv := oauthtest.NewServer(oauthtest.Config{TrustedIssuers: []oauthtest.TrustedIssuer{platform.Trusted()}})
	defer srv.Close()

	claims := platform.Claims("system:serviceaccount:ci:builder", srv.Issuer(), time.Now(), time.Hour)
	claims["jti"] = "build-42"
	token := platform.Sign(claims)
	form := url.Values{"grant_type": {oauthtest.JWTBearerGrantType}, "assertion": {token}, "client_id": {srv.ClientID()}}
	first := postToken(srv.TokenEndpoint(), form)
	fmt.Println("access token:", srv.ValidAccessToken(first["access_token"].(string)), "refresh token:", first["refresh_token"] != nil)
	again := postToken(srv.TokenEndpoint(), form)
	fmt.Println(again["error"], "-", again["error_description"])
	fmt.Println("JWT-bearer requests:", srv.CountGrant(oauthtest.JWTBearerGrantType))
	// Output:
	// access token: true refresh token: false
	// invalid_grant - assertion: jti "build-42" already used: a JWT-bearer assertion is good for one request
	// JWT-bearer requests: 2
}

// Enterprise-managed authorization: one server is the identity provider
// (TokenExchange), another the MCP server's authorization server, which
// trusts it. The client signed in at the provider trades its ID token for
// an ID-JAG (RFC 8693 token exchange), then the ID-JAG for an access token
// (JWT-bearer grant), with no browser.
func Example_identityAssertion() {
	idp := oauthtest.NewServer(oauthtest.Config{TokenExchange: true})
	defer idp.Close()
	as := oauthtest.NewServer(oauthtest.Config{
		TrustedIssuers: []oauthtest.TrustedIssuer{idp.TrustedIssuer()},
		Clients:        []oauthtest.Client{{ID: idp.ClientID()}}, // the same client ID at both
	})
	defer as.Close()

	// The person's earlier sign-in at the provider (here without a
	// browser: Browse plays it) left an ID token.
	idToken, err := signIn(idp)
	if err != nil {
		fmt.Println(err)
		return
	}
	jag := postToken(idp.TokenEndpoint(), url.Values{
		"grant_type":           {oauthtest.TokenExchangeGrantType},
		"client_id":            {idp.ClientID()},
		"subject_token":        {idToken},
		"subject_token_type":   {oauthtest.IDTokenType},
		"requested_token_type": {oauthtest.IDJAGTokenType},
		"audience":             {as.Issuer()},
		"resource":             {as.ResourceEndpoint()},
		"scope":                {"read"},
	})
	fmt.Println("issued:", jag["issued_token_type"], jag["token_type"])
	tok := postToken(as.TokenEndpoint(), url.Values{
		"grant_type": {oauthtest.JWTBearerGrantType},
		"client_id":  {as.ClientID()},
		"assertion":  {jag["access_token"].(string)},
	})
	fmt.Println("access token:", as.ValidAccessToken(tok["access_token"].(string)), "scope:", tok["scope"])
	// Output:
	// issued: urn:ietf:params:oauth:token-type:id-jag N_A
	// access token: true scope: read
}

// signIn signs the default client in at srv with the openid scope, Browse
// in place of the person's browser, and returns the ID token.
func signIn(srv *oauthtest.Server) (string, error) {
	codes := make(chan string, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { codes <- r.FormValue("code") }))
	defer cb.Close()
	cfg := oauth2.Config{ClientID: srv.ClientID(), Endpoint: srv.Endpoint(), RedirectURL: cb.URL + "/callback", Scopes: []string{"openid"}}
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	if _, _, err := oauthtest.Browse(ctx, nil, cfg.AuthCodeURL("state", oauth2.S256ChallengeOption(verifier))); err != nil {
		return "", err
	}
	tok, err := cfg.Exchange(ctx, <-codes, oauth2.VerifierOption(verifier))
	if err != nil {
		return "", err
	}
	id, _ := tok.Extra("id_token").(string)
	return id, nil
}
