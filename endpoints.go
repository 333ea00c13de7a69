package authloop

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/discovery"
)

// needsDiscovery reports whether an endpoint must come from the issuer's
// metadata.
func (c *Config) needsDiscovery() bool {
	return c.OAuth2.Endpoint.AuthURL == "" || c.OAuth2.Endpoint.TokenURL == ""
}

// resolve returns c itself when its endpoints are configured, and
// otherwise a copy completed from the issuer's metadata (RFC 8414, then
// OpenID discovery; fetched once per call, so a Session keeps the result):
// the missing endpoints, the client authentication the server lists when
// the configuration leaves it open, and iss required when the server
// promises it (RFC 9207). A server without PKCE S256 is refused.
func (c *Config) resolve(ctx context.Context) (*Config, *discovery.AuthServerMetadata, error) {
	if !c.needsDiscovery() {
		return c, nil, nil
	}
	md, err := discovery.AuthServer(ctx, c.httpClient(), c.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("authloop: finding the endpoints of issuer %q: %w", c.Issuer, err)
	}
	cc, err := c.resolveWith(md)
	return cc, md, err
}

// resolveWith completes c from the metadata md.
func (c *Config) resolveWith(md *discovery.AuthServerMetadata) (*Config, error) {
	cc := *c
	oc := *c.OAuth2
	if oc.Endpoint.AuthURL == "" {
		oc.Endpoint.AuthURL = md.AuthorizationEndpoint
	}
	if oc.Endpoint.TokenURL == "" {
		oc.Endpoint.TokenURL = md.TokenEndpoint
	}
	if oc.Endpoint.DeviceAuthURL == "" {
		oc.Endpoint.DeviceAuthURL = md.DeviceAuthorizationEndpoint
	}
	if oc.ClientSecret != "" && oc.Endpoint.AuthStyle == oauth2.AuthStyleAutoDetect {
		oc.Endpoint.AuthStyle = authStyleFor(md.TokenEndpointAuthMethodsSupported)
	}
	cc.OAuth2 = &oc
	cc.Issuer = md.Issuer
	if md.AuthorizationResponseIssParameterSupported {
		cc.RequireIssuer = true
	}
	if oc.Endpoint.AuthURL == "" || oc.Endpoint.TokenURL == "" {
		return nil, fmt.Errorf("authloop: the metadata of issuer %q names no authorization or token endpoint; set Config.OAuth2.Endpoint", c.Issuer)
	}
	return &cc, nil
}

// authStyleFor picks the client authentication from the methods a server
// lists: client_secret_basic when listed (or when the list is absent, as
// RFC 8414 makes basic the default), else client_secret_post.
func authStyleFor(methods []string) oauth2.AuthStyle {
	if len(methods) == 0 || slices.Contains(methods, "client_secret_basic") || !slices.Contains(methods, "client_secret_post") {
		return oauth2.AuthStyleInHeader
	}
	return oauth2.AuthStyleInParams
}
