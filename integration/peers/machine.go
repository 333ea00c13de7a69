package peers

// Clients of programs with no person present (issue 18): the client
// credentials grant with a secret or with private_key_jwt, and the two
// clients of enterprise-managed authorization in oidc/idjag.mjs.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MachineScope is the scope the machine clients are registered with and
// ask for (a scope both peers know: oidc-provider's configuration lists it).
const MachineScope = "mcp:tools"

// The static clients of oidc/idjag.mjs (test configuration of ours):
// the enterprise's client at the identity provider, allowed the token
// exchange, and the agent's client at the authorization server, allowed
// the JWT bearer grant, whose access tokens live 4 seconds.
const (
	OIDCEnterpriseClientID     = "authloop-enterprise"
	OIDCEnterpriseClientSecret = "authloop-enterprise-secret-0123456789"
	OIDCAgentClientID          = "authloop-agent"
	OIDCAgentClientSecret      = "authloop-agent-secret-0123456789"
	OIDCAgentAccessTokenTTL    = 4 * time.Second
)

// MachineClientOptions describe a client of the client credentials grant.
type MachineClientOptions struct {
	// AuthMethod is token_endpoint_auth_method: client_secret_basic (""),
	// or private_key_jwt.
	AuthMethod string
	// JWKS is the client's public key set (a JSON object {"keys": [...]}),
	// for private_key_jwt.
	JWKS json.RawMessage
	// SigningAlg is token_endpoint_auth_signing_alg, for private_key_jwt:
	// Hydra takes only assertions signed with it (RS256 when unset).
	SigningAlg string
	// AccessTokenTTL is how long its access tokens live; 0 means the
	// server's default (an hour).
	AccessTokenTTL time.Duration
}

func (o MachineClientOptions) method() string {
	if o.AuthMethod == "" {
		return "client_secret_basic"
	}
	return o.AuthMethod
}

func (o MachineClientOptions) check() error {
	if o.method() == "private_key_jwt" && len(o.JWKS) == 0 {
		return errors.New("a private_key_jwt client needs its JWKS")
	}
	return nil
}

// NewMachineClient registers a fresh client of the client credentials
// grant only, with scope MachineScope, through the admin API.
func (h *Hydra) NewMachineClient(ctx context.Context, o MachineClientOptions) (Client, error) {
	if err := o.check(); err != nil {
		return Client{}, err
	}
	body := map[string]any{
		"client_name":                "authloop integration (machine)",
		"token_endpoint_auth_method": o.method(),
		"grant_types":                []string{"client_credentials"},
		"response_types":             []string{"token"},
		"scope":                      MachineScope,
	}
	if len(o.JWKS) > 0 {
		body["jwks"] = o.JWKS
	}
	if o.SigningAlg != "" {
		body["token_endpoint_auth_signing_alg"] = o.SigningAlg
	}
	var out struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := h.adminJSON(ctx, http.MethodPost, "/admin/clients", body, &out); err != nil {
		return Client{}, err
	}
	if out.ClientID == "" {
		return Client{}, errors.New("hydra: created client has no client_id")
	}
	c := Client{ID: out.ClientID}
	if o.method() == "client_secret_basic" {
		if out.ClientSecret == "" {
			return Client{}, errors.New("hydra: created client_secret_basic client has no client_secret")
		}
		c.Secret = out.ClientSecret
	}
	if o.AccessTokenTTL > 0 {
		ls := map[string]any{"client_credentials_grant_access_token_lifespan": o.AccessTokenTTL.String()}
		if err := h.adminJSON(ctx, http.MethodPut, "/admin/clients/"+url.PathEscape(c.ID)+"/lifespans", ls, nil); err != nil {
			return Client{}, err
		}
	}
	return c, nil
}

// NewMachineClient registers a fresh client of the client credentials
// grant only, with scope MachineScope, by dynamic registration (RFC 7591,
// at /reg): the harness's own request.
func (p *OIDCProvider) NewMachineClient(ctx context.Context, o MachineClientOptions) (Client, error) {
	if err := o.check(); err != nil {
		return Client{}, err
	}
	meta := map[string]any{
		"client_name":                "authloop integration (machine)",
		"token_endpoint_auth_method": o.method(),
		"grant_types":                []string{"client_credentials"},
		"response_types":             []string{},
		"redirect_uris":              []string{},
		"scope":                      MachineScope,
	}
	if len(o.JWKS) > 0 {
		meta["jwks"] = o.JWKS
	}
	if o.SigningAlg != "" {
		meta["token_endpoint_auth_signing_alg"] = o.SigningAlg
	}
	if o.AccessTokenTTL > 0 {
		meta["authloop_access_token_ttl"] = int(o.AccessTokenTTL / time.Second)
	}
	body, err := json.Marshal(meta)
	if err != nil {
		return Client{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Issuer+"/reg", bytes.NewReader(body))
	if err != nil {
		return Client{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	var out struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := doJSON(p.http, req, &out); err != nil {
		return Client{}, err
	}
	if out.ClientID == "" {
		return Client{}, errors.New("oidc-provider: registered client has no client_id")
	}
	c := Client{ID: out.ClientID}
	if o.method() == "client_secret_basic" {
		c.Secret = out.ClientSecret
	}
	return c, nil
}

// OIDCIntrospection is the part of oidc-provider's introspection answer
// the tests read.
type OIDCIntrospection struct {
	Active    bool   `json:"active"`
	ClientID  string `json:"client_id"`
	Sub       string `json:"sub"`
	Scope     string `json:"scope"`
	TokenType string `json:"token_type"`
}

// Introspect asks oidc-provider about a token (RFC 7662), as its static
// confidential client (client_secret_basic), which may introspect the
// tokens of every client.
func (p *OIDCProvider) Introspect(ctx context.Context, token string) (*OIDCIntrospection, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Issuer+"/token/introspection",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(OIDCConfidentialClientID), url.QueryEscape(OIDCConfidentialClientSecret))
	var out OIDCIntrospection
	if err := doJSON(p.http, req, &out); err != nil {
		return nil, fmt.Errorf("oidc-provider introspection: %w", err)
	}
	return &out, nil
}
