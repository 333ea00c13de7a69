package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/assertion"
	"golang.org/x/oauth2"
)

// scenarioContext is MCP_CONFORMANCE_CONTEXT: the scenario's name and
// whatever the scenario hands its client. Fields a scenario does not give
// stay empty.
type scenarioContext struct {
	Name         string `json:"name"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`

	// auth/client-credentials-jwt: a PKCS#8 PEM key for private_key_jwt.
	PrivateKeyPEM    string `json:"private_key_pem"`
	SigningAlgorithm string `json:"signing_algorithm"`

	// auth/enterprise-managed-authorization: the enterprise identity
	// provider, its client (public: no secret) and an ID token it issued.
	IdPClientID      string `json:"idp_client_id"`
	IdPIDToken       string `json:"idp_id_token"`
	IdPIssuer        string `json:"idp_issuer"`
	IdPTokenEndpoint string `json:"idp_token_endpoint"`

	// auth/wif-jwt-bearer: the workload's token (the scenario also gives a
	// wrong-audience and an expired one, for clients meant to fail).
	ValidJWT string `json:"valid_jwt"`
}

// clientCredentialsBasic is the one scenario whose context (a client id
// and secret) cannot be told from auth/pre-registration's by its fields.
const clientCredentialsBasic = "auth/client-credentials-basic"

// machineGrant sets in cfg how the session gets tokens with no person
// present, from what the scenario's context gives, and returns the mode's
// name for the log; "" (cfg untouched) means a person's sign-in:
//
//   - idp_id_token: enterprise-managed authorization, the ID token
//     exchanged at the identity provider for an ID-JAG, and that sent as a
//     JWT-bearer grant with the client's secret;
//   - valid_jwt: workload identity, the token sent as a JWT-bearer grant;
//   - private_key_pem: client credentials with private_key_jwt;
//   - a client secret, in auth/client-credentials-basic: client
//     credentials with the secret.
func machineGrant(cfg *authloop.Config, sc scenarioContext) (string, error) {
	switch {
	case sc.IdPIDToken != "":
		if sc.IdPTokenEndpoint == "" && sc.IdPIssuer == "" {
			return "", errors.New("MCP_CONFORMANCE_CONTEXT: idp_id_token without idp_token_endpoint or idp_issuer")
		}
		idp := &authloop.Config{
			Issuer: sc.IdPIssuer,
			OAuth2: &oauth2.Config{ClientID: sc.IdPClientID, Endpoint: oauth2.Endpoint{TokenURL: sc.IdPTokenEndpoint}},
		}
		cfg.Grant = authloop.IdentityAssertion(idp, fixed(sc.IdPIDToken))
		return "enterprise-managed authorization", nil
	case sc.ValidJWT != "":
		cfg.Grant = authloop.JWTBearer(fixed(sc.ValidJWT))
		return "jwt-bearer (workload identity)", nil
	case sc.PrivateKeyPEM != "":
		key, kid, err := assertion.ParsePrivateKey([]byte(sc.PrivateKeyPEM))
		if err != nil {
			return "", fmt.Errorf("MCP_CONFORMANCE_CONTEXT: private_key_pem: %w", err)
		}
		if alg := sc.SigningAlgorithm; alg != "" {
			s, err := assertion.NewSigner(key, kid)
			if err != nil {
				return "", err
			}
			if s.Algorithm() != alg {
				return "", fmt.Errorf("MCP_CONFORMANCE_CONTEXT: signing_algorithm is %s, but private_key_pem is a %s key", alg, s.Algorithm())
			}
		}
		cfg.ClientKey, cfg.ClientKeyID = key, kid
		cfg.Grant = authloop.ClientCredentials()
		return "client credentials, private_key_jwt", nil
	case sc.Name == clientCredentialsBasic && sc.ClientSecret != "":
		cfg.Grant = authloop.ClientCredentials()
		return "client credentials, client secret", nil
	}
	return "", nil
}

// fixed is an assertion that the scenario gave once.
func fixed(token string) authloop.AssertionSource {
	return func(context.Context) (string, error) { return token, nil }
}
