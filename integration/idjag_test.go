package integration_test

// Enterprise-managed authorization (issue 18): authloop.IdentityAssertion
// at oidc-provider, whose token exchange and JWT bearer grant are our test
// configuration (integration/oidc/idjag.mjs; oidc-provider 9.13.3 has
// neither, but takes a configuration's grant types through
// registerGrantType).

import (
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/integration/peers"
	"github.com/authloop/authloop/store"
)

const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	grantJWTBearer     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// TestIdentityAssertionOIDCProvider: a person signs in (headless) at the
// identity provider with the enterprise's client; a program's Session with
// Config.Grant = IdentityAssertion(the enterprise's client,
// IDTokenOf(that session)) gets an access token at the authorization
// server for the agent's client: one token exchange (RFC 8693, the ID
// token for an ID-JAG, authenticated with the enterprise's secret) and one
// JWT bearer grant per token, for rounds of 8 callers, across an expiry of
// the agent's 4-second tokens and a Refresh. Every token is the person's at
// the provider's userinfo (the same sub as the ID token) and the agent's
// at its introspection. An identity provider client not allowed the
// exchange is a *GrantRefusedError for the token exchange, and no JWT
// bearer grant is sent.
func TestIdentityAssertionOIDCProvider(t *testing.T) {
	oidcServer.start(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("oidc-provider's log (tail):\n%s", tail(oidc.Output(), 3000))
		}
	})
	ctx := t.Context()
	meta := mustMetadata(t, oidc.Issuer)
	log := &tokenLog{tokenURL: meta.TokenEndpoint, next: transport}
	newStore := func() store.Store {
		st, err := store.NewFile(filepath.Join(t.TempDir(), "store"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	enterprise := &oauth2.Config{
		ClientID:     peers.OIDCEnterpriseClientID,
		ClientSecret: peers.OIDCEnterpriseClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   meta.AuthorizationEndpoint,
			TokenURL:  meta.TokenEndpoint,
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		Scopes: []string{"openid", "offline_access"},
	}
	idp, idpTok := headlessSignIn(ctx, t, &authloop.Config{
		OAuth2:     enterprise,
		Issuer:     oidc.Issuer,
		Store:      newStore(),
		HTTPClient: log.client(),
	})
	idToken, _ := idpTok.Extra("id_token").(string)
	if idToken == "" {
		t.Fatal("the sign-in at the identity provider gave no ID token")
	}
	person, _ := jwtClaims(t, idToken)["sub"].(string)

	// The identity provider as IdentityAssertion sees it: the enterprise's
	// client and the token endpoint.
	idpClient := func(id, secret string) *authloop.Config {
		oc := *enterprise
		oc.ClientID, oc.ClientSecret = id, secret
		return &authloop.Config{OAuth2: &oc, Issuer: oidc.Issuer, HTTPClient: log.client(), Prompt: io.Discard}
	}
	program := func(idc *authloop.Config) *authloop.Session {
		return newSession(t, &authloop.Config{
			OAuth2: &oauth2.Config{
				ClientID:     peers.OIDCAgentClientID,
				ClientSecret: peers.OIDCAgentClientSecret,
				Endpoint:     oauth2.Endpoint{TokenURL: meta.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader},
				Scopes:       []string{"openid"},
			},
			Issuer:     oidc.Issuer,
			Grant:      authloop.IdentityAssertion(idc, authloop.IDTokenOf(idp)),
			Store:      newStore(),
			HTTPClient: log.client(),
			Prompt:     io.Discard,
			// Our JWT bearer grant issues bearer tokens only.
			DPoP:               authloop.DPoPOff,
			DisableAutoRefresh: true,
			RefreshBuffer:      authloop.NoRefreshBuffer,
		}, nil)
	}
	check := func(step string, tok *oauth2.Token, n int) {
		t.Helper()
		if got, want := [2]int{log.count(grantTokenExchange), log.count(grantJWTBearer)}, [2]int{n, n}; got != want {
			t.Fatalf("%s: %d token exchanges and %d JWT bearer grants; want %d of each (one chain per token)", step, got[0], got[1], n)
		}
		status, sub, err := userinfo(ctx, &fixture{meta: meta}, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusOK || sub != person {
			t.Fatalf("%s: userinfo with the program's token: %d, sub %q; want 200 and the person's sub %q", step, status, sub, person)
		}
		in, err := oidc.Introspect(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if !in.Active || in.ClientID != peers.OIDCAgentClientID || in.Sub != person {
			t.Fatalf("%s: introspection: %+v; want active, the agent's client, the person's sub", step, in)
		}
	}

	s := program(idpClient(peers.OIDCEnterpriseClientID, peers.OIDCEnterpriseClientSecret))
	tok := tokenRound(t, s, 8)
	if again := tokenRound(t, s, 8); again.AccessToken != tok.AccessToken {
		t.Fatal("a second round got another token although the first had not expired")
	}
	check("first token", tok, 1)
	if left := time.Until(tok.Expiry); left <= 0 || left > peers.OIDCAgentAccessTokenTTL+time.Second {
		t.Fatalf("the access token expires in %v; want about %v", left, peers.OIDCAgentAccessTokenTTL)
	}
	time.Sleep(time.Until(tok.Expiry) + 100*time.Millisecond)
	next := tokenRound(t, s, 8)
	if next.AccessToken == tok.AccessToken {
		t.Fatal("the expired token was handed out again")
	}
	check("after the expiry", next, 2)
	forced, err := s.Refresh(ctx)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if forced.AccessToken == next.AccessToken {
		t.Fatal("Refresh handed out the token it was to replace")
	}
	check("Refresh", forced, 3)
	for i, r := range log.all() {
		if r.status != http.StatusOK || r.auth != "client_secret_basic" {
			t.Errorf("token request %d: %+v; want answered 200, client_secret_basic", i+1, r)
		}
	}
	if n := log.count("authorization_code"); n != 1 {
		t.Errorf("%d code exchanges; want the person's one sign-in", n)
	}

	// A client of the identity provider that may not exchange tokens.
	before := log.count(grantJWTBearer)
	refused := program(idpClient(peers.OIDCConfidentialClientID, peers.OIDCConfidentialClientSecret))
	_, err = refused.Token(ctx)
	var gr *authloop.GrantRefusedError
	if !errors.As(err, &gr) || gr.Grant != grantTokenExchange || errors.Is(err, authloop.ErrLoginRequired) {
		t.Fatalf("Token with an identity provider client not allowed the exchange: %v; want a *GrantRefusedError of the token exchange", err)
	}
	if n := log.count(grantJWTBearer); n != before {
		t.Errorf("%d JWT bearer grants sent after the exchange was refused; want none", n-before)
	}
	t.Logf("oidc-provider %s, enterprise-managed authorization: 3 chains (exchange + JWT bearer), each token the person's at userinfo; refused exchange: %v", oidc.Version, err)
}
