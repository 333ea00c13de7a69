package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// LegacyAuthServer finds the authorization server of an MCP server of the
// 2025-03-26 revision of the MCP specification, which publishes no
// protected resource metadata: the server's origin (scheme, host and port,
// such as https://mcp.example.com) is its authorization server. A caller
// uses it only once ProtectedResource found no document at all; metadata
// that exists but does not fit is no reason to fall back.
//
// It returns, in this order:
//   - the metadata AuthServer finds with origin as the issuer;
//   - else the document at origin's RFC 8414 URL
//     (/.well-known/oauth-authorization-server) even when its issuer is not
//     origin, which that revision allowed: its issuer is then the one to
//     check the iss of authorization responses against;
//   - else, when that URL answers 404, the revision's default endpoints at
//     origin: /authorize, /token and /register.
//
// Every request follows the rules of AuthServer (see the package
// documentation): no cookies, redirects only within the origin, a body over
// MaxBodySize refused, https only (http on a loopback host). A document
// without S256 in code_challenge_methods_supported fails with ErrNoS256, and
// one naming an endpoint or an issuer that is not an absolute https URL (or
// http on a loopback host) with ErrInvalidMetadata. Any other answer than
// 200 or 404 fails with a *FetchError.
func LegacyAuthServer(ctx context.Context, client *http.Client, origin string) (*AuthServerMetadata, error) {
	ou, err := parseIssuer(origin)
	if err != nil {
		return nil, err
	}
	if strings.Trim(ou.Path, "/") != "" {
		return nil, fmt.Errorf("discovery: %q is not an origin (it has a path); pass the MCP server's scheme, host and port only", origin)
	}
	origin = ou.Scheme + "://" + ou.Host
	md, err := AuthServer(ctx, client, origin)
	if err == nil || errors.Is(err, ErrNoS256) || ctx.Err() != nil {
		return md, err
	}
	mu := &url.URL{Scheme: ou.Scheme, Host: ou.Host, Path: "/.well-known/oauth-authorization-server"}
	body, fe := fetchJSON(ctx, fetchClient(client), mu)
	switch {
	case fe != nil && fe.Status == http.StatusNotFound:
		return defaultEndpoints(origin), nil
	case fe != nil:
		return nil, fmt.Errorf("discovery: the authorization server metadata at origin %s: %w", origin, fe)
	}
	md, err = DecodeAuthServerMetadata(body)
	if err != nil {
		return nil, fmt.Errorf("discovery: the authorization server metadata at %s: %w", mu, err)
	}
	if _, err := parseIssuer(md.Issuer); err != nil {
		return nil, fmt.Errorf("%w: the metadata at %s names issuer %s, which is not an https URL without query or fragment", ErrInvalidMetadata, mu, quoteShort(md.Issuer))
	}
	if p := insecureEndpoint(md); p != "" {
		return nil, fmt.Errorf("%w: the metadata at %s: %s", ErrInvalidMetadata, mu, p)
	}
	if md.AuthorizationEndpoint == "" || md.TokenEndpoint == "" {
		return nil, fmt.Errorf("%w: the metadata at %s names no authorization or token endpoint", ErrInvalidMetadata, mu)
	}
	if !md.SupportsS256() {
		return nil, fmt.Errorf("%w: the metadata at %s does not list S256 in code_challenge_methods_supported; authloop requires PKCE with S256 and will not log in to this server", ErrNoS256, mu)
	}
	return md, nil
}

// defaultEndpoints are the endpoints that a 2025-03-26 MCP server without
// metadata has at its origin.
func defaultEndpoints(origin string) *AuthServerMetadata {
	md := &AuthServerMetadata{
		Issuer:                        origin,
		AuthorizationEndpoint:         origin + "/authorize",
		TokenEndpoint:                 origin + "/token",
		RegistrationEndpoint:          origin + "/register",
		CodeChallengeMethodsSupported: []string{"S256"},
	}
	md.Raw, _ = json.Marshal(md)
	return md
}
