package authloop_test

import (
	"context"
	"log"
	"os"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/assertion"
)

// The README's "Programs with no person present": one configuration per
// grant. Each session obtains its token with no browser, before expiry,
// once per expiry across processes sharing its store.
// TestREADMEProgramsSnippet keeps the README's snippet identical to this
// body.
func Example_programs() {
	// A CI job: client credentials, the secret from the environment.
	ci := &authloop.Config{
		OAuth2: &oauth2.Config{ClientID: "deployer", ClientSecret: os.Getenv("DEPLOYER_SECRET")},
		Issuer: "https://auth.example.com",
		Grant:  authloop.ClientCredentials(),
	}

	// The same with a key instead of a secret (private_key_jwt); the server
	// knows its public half (assertion.Signer's JWKS).
	pem, err := os.ReadFile("/etc/deployer/key.pem")
	if err != nil {
		log.Fatal(err)
	}
	key, kid, err := assertion.ParsePrivateKey(pem)
	if err != nil {
		log.Fatal(err)
	}
	keyed := &authloop.Config{
		OAuth2:      &oauth2.Config{ClientID: "deployer"},
		Issuer:      "https://auth.example.com",
		Grant:       authloop.ClientCredentials(),
		ClientKey:   key,
		ClientKeyID: kid,
	}

	// A workload on Kubernetes: its projected service account token, read
	// again at every grant (the kubelet rotates it), for an MCP server.
	workload := &authloop.Config{
		OAuth2:   &oauth2.Config{ClientID: "billing-agent"},
		Resource: "https://mcp.example.com/mcp",
		Grant:    authloop.JWTBearer(authloop.AssertionFile("/var/run/secrets/tokens/mcp")),
	}

	// An employee's agent at the company's MCP server (enterprise-managed
	// authorization): the person's session at the identity provider gives
	// the ID token, exchanged there for an identity assertion.
	idp, err := authloop.NewSession(&authloop.Config{
		OAuth2:      &oauth2.Config{ClientID: "agent", Scopes: []string{"openid", "offline_access"}},
		Issuer:      "https://login.example.com",
		Interactive: true,
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer idp.Close()
	enterprise := &authloop.Config{
		OAuth2:   &oauth2.Config{ClientID: "agent", ClientSecret: os.Getenv("AGENT_SECRET")},
		Resource: "https://mcp.example.com/mcp",
		Grant:    authloop.IdentityAssertion(&authloop.Config{OAuth2: &oauth2.Config{ClientID: "agent"}, Issuer: "https://login.example.com"}, authloop.IDTokenOf(idp)),
	}

	for _, cfg := range []*authloop.Config{ci, keyed, workload, enterprise} {
		s, err := authloop.NewSession(cfg, nil)
		if err != nil {
			log.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Token(context.Background()); err != nil {
			log.Fatal(err) // a *authloop.GrantRefusedError when the server refuses the program
		}
	}
}
