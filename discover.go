// Where the endpoints come from: the configuration, or discovery (RFC
// 8414 and OpenID discovery from the issuer; for a protected resource, RFC
// 9728 first, and the 2025-03-26 MCP revision's fallback to the resource's
// origin), kept in the session's record. Every request for metadata in
// this package starts here: authServer, or discovery.LegacyAuthServer in
// discoverFromResource; the device flow and logout ask deviceEndpoint and
// revocationEndpoint.

package authloop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/internal/urlrule"
)

// needsDiscovery reports whether an endpoint must come from the issuer's
// metadata.
func (c *Config) needsDiscovery() bool {
	if c.Grant != nil {
		return c.OAuth2.Endpoint.TokenURL == "" // no authorization endpoint: no person signs in
	}
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
	md, err := c.authServer(ctx, c.Issuer, "finding the endpoints of issuer")
	if err != nil {
		return nil, nil, err
	}
	cc, err := c.resolveWith(md)
	return cc, md, err
}

// authServer fetches the metadata of issuer (RFC 8414, then OpenID
// discovery) under discovery's rules: no cookies, redirects only within the
// origin, an oversized body refused, the document's issuer the one asked
// for, S256 required. The error starts with "authloop: <what> <issuer>".
func (c *Config) authServer(ctx context.Context, issuer, what string) (*discovery.AuthServerMetadata, error) {
	md, err := discovery.AuthServer(ctx, c.httpClient(), issuer)
	if err != nil {
		return nil, fmt.Errorf("authloop: %s %q: %w", what, issuer, err)
	}
	return md, nil
}

// resolveWith completes c from the metadata md.
func (c *Config) resolveWith(md *discovery.AuthServerMetadata) (*Config, error) {
	cc := *c
	oc := *c.OAuth2
	if oc.Endpoint.AuthURL == "" {
		oc.Endpoint.AuthURL = md.AuthorizationEndpoint
	}
	fillTokenEndpoint(&oc, md)
	cc.OAuth2 = &oc
	cc.Issuer = md.Issuer
	cc.discovered = md
	if md.AuthorizationResponseIssParameterSupported {
		cc.RequireIssuer = true
	}
	if oc.Endpoint.TokenURL == "" || oc.Endpoint.AuthURL == "" && c.Grant == nil {
		return nil, fmt.Errorf("authloop: the metadata of issuer %q names no authorization or token endpoint; set Config.OAuth2.Endpoint", c.Issuer)
	}
	return &cc, nil
}

// fillTokenEndpoint completes oc from the metadata md: the token and
// device authorization endpoints left empty, and the client
// authentication the server lists when a secret's is left open.
func fillTokenEndpoint(oc *oauth2.Config, md *discovery.AuthServerMetadata) {
	if oc.Endpoint.TokenURL == "" {
		oc.Endpoint.TokenURL = md.TokenEndpoint
	}
	if oc.Endpoint.DeviceAuthURL == "" {
		oc.Endpoint.DeviceAuthURL = md.DeviceAuthorizationEndpoint
	}
	if oc.ClientSecret != "" && oc.Endpoint.AuthStyle == oauth2.AuthStyleAutoDetect {
		oc.Endpoint.AuthStyle = authStyleFor(md.TokenEndpointAuthMethodsSupported)
	}
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

// sessionMeta is what a session keeps of discovery in its record, so that
// a restarted process does not rediscover: the authorization server's
// metadata and, for a protected resource (an MCP server), its RFC 9728
// metadata.
type sessionMeta struct {
	AuthServer json.RawMessage `json:"authorization_server,omitempty"`
	Resource   json.RawMessage `json:"protected_resource,omitempty"`
}

func (s *Session) setMeta(md *discovery.AuthServerMetadata, prm *discovery.ResourceMetadata) {
	var m sessionMeta
	if md != nil {
		m.AuthServer = md.Raw
	}
	if prm != nil {
		m.Resource = prm.Raw
	}
	s.meta, _ = json.Marshal(m)
}

// authServerMeta decodes the kept authorization server metadata, or nil.
func (s *Session) authServerMeta() *discovery.AuthServerMetadata {
	if s.meta == nil {
		return nil
	}
	var m sessionMeta
	if json.Unmarshal(s.meta, &m) != nil || m.AuthServer == nil {
		return nil
	}
	md, err := discovery.DecodeAuthServerMetadata(m.AuthServer)
	if err != nil {
		return nil
	}
	return md
}

func (s *Session) resourceMeta() *discovery.ResourceMetadata {
	if s.meta == nil {
		return nil
	}
	var m sessionMeta
	if json.Unmarshal(s.meta, &m) != nil || m.Resource == nil {
		return nil
	}
	prm, err := discovery.DecodeResourceMetadata(m.Resource)
	if err != nil {
		return nil
	}
	return prm
}

// protectedResourceMode reports whether the configuration names only a
// protected resource (an MCP server): the authorization server is found
// through RFC 9728.
func (c *Config) protectedResourceMode() bool {
	return c.Issuer == "" && c.needsDiscovery() && c.Resource != ""
}

// endpoints returns the session's configuration with its endpoints known,
// discovering them on first use (or using what the record kept), and
// registering a client where none is configured. Only flights call it, one
// at a time.
func (s *Session) endpoints(ctx context.Context) (*Config, error) {
	if s.resolved != nil {
		return s.resolved, nil
	}
	if !s.cfg.needsDiscovery() {
		s.resolved = &s.cfg
		return s.resolved, nil
	}
	md := s.authServerMeta()
	prm := s.resourceMeta()
	if md != nil && !s.cfg.protectedResourceMode() && !urlrule.SameIssuer(md.Issuer, s.cfg.Issuer) {
		md = nil // kept for another issuer: never used
	}
	if md == nil || (s.cfg.protectedResourceMode() && prm == nil) {
		var err error
		if s.cfg.protectedResourceMode() {
			prm, md, err = s.discoverFromResource(ctx)
		} else {
			md, err = s.cfg.authServer(ctx, s.cfg.Issuer, "finding the endpoints of issuer")
		}
		if err != nil {
			return nil, err
		}
		s.setMeta(md, prm)
	}
	cfg, err := s.cfg.resolveWith(md)
	if err != nil {
		return nil, err
	}
	if prm != nil {
		// The resource parameter is the metadata's resource as stated
		// (RFC 9728 §2), never a canonical form: those are for comparing.
		cfg.Resource = prm.Resource
	}
	if cfg.OAuth2.ClientID == "" {
		if err := s.registerClient(ctx, cfg, md); err != nil {
			return nil, err
		}
	}
	s.resolved = cfg
	return cfg, nil
}

// forgetDiscovery makes the next flight discover again (a new login for a
// protected resource: its authorization server may have moved).
func (s *Session) forgetDiscovery() {
	s.resolved = nil
	if s.cfg.protectedResourceMode() {
		s.meta = nil
	}
}

// discoverFromResource finds the protected resource's metadata (RFC 9728:
// the resource_metadata URL of a 401's challenge, then the well-known
// URLs) and the metadata of its first authorization server. A server of
// the 2025-03-26 MCP revision publishes no resource metadata at all: then
// its origin serves the authorization server metadata, or failing that the
// default endpoints. Resource metadata that exists but does not fit (it
// names another resource, it is malformed) is an error, never a reason to
// fall back.
func (s *Session) discoverFromResource(ctx context.Context) (*discovery.ResourceMetadata, *discovery.AuthServerMetadata, error) {
	client := s.cfg.httpClient()
	s.mu.Lock()
	hint := s.hint
	s.mu.Unlock()
	prm, err := discovery.ProtectedResource(ctx, client, s.cfg.Resource, hint)
	if err != nil && hint != "" {
		// A challenge's URL that failed (or named a document for another
		// endpoint of the same server): the well-known URLs still require
		// a document for this resource.
		prm, err = discovery.ProtectedResource(ctx, client, s.cfg.Resource, "")
	}
	switch {
	case err == nil:
		issuer := prm.AuthorizationServer()
		md, err := s.cfg.authServer(ctx, issuer, "finding the endpoints of "+s.cfg.Resource+"'s authorization server")
		if err != nil {
			return nil, nil, err
		}
		return prm, md, nil
	case !absent(err):
		return nil, nil, fmt.Errorf("authloop: the protected resource metadata of %s is unusable: %w", s.cfg.Resource, err)
	}
	s.cfg.logger().Debug("authloop: no protected resource metadata; the 2025-03-26 way: the resource's origin is the authorization server", "resource", s.cfg.Resource)
	u, perr := url.Parse(s.cfg.Resource)
	if perr != nil || u.Host == "" {
		return nil, nil, fmt.Errorf("authloop: Config.Resource %q is not an absolute URL", s.cfg.Resource)
	}
	md, err := discovery.LegacyAuthServer(ctx, client, u.Scheme+"://"+u.Host)
	if err != nil {
		return nil, nil, fmt.Errorf("authloop: finding the authorization server of %s, which publishes no protected resource metadata: %w", s.cfg.Resource, err)
	}
	// The resource is sent as configured, byte for byte (RFC 8707): a
	// server may know it only with the slash that a canonical form drops.
	prm = &discovery.ResourceMetadata{Resource: s.cfg.Resource, AuthorizationServers: []string{md.Issuer}}
	prm.Raw, _ = json.Marshal(prm)
	return prm, md, nil
}

// absent reports whether a discovery error means "there is no such
// document" (every URL answered 404 or 410), as opposed to a document
// that exists but is wrong, or a server that failed.
func absent(err error) bool {
	var nf *discovery.NotFoundError
	if !errors.As(err, &nf) || len(nf.Tried) == 0 {
		return false
	}
	for _, f := range nf.Tried {
		if f.Status != http.StatusNotFound && f.Status != http.StatusGone {
			return false
		}
	}
	return true
}

// errNoDeviceEndpoint is returned by deviceEndpoint when the server
// offers no device authorization endpoint.
var errNoDeviceEndpoint = errors.New("authloop: the authorization server offers no device authorization endpoint (RFC 8628)")

// deviceEndpoint returns the device authorization endpoint: the configured
// one, or the one in the issuer's metadata (the metadata the endpoints
// were discovered from, else fetched now).
func (c *Config) deviceEndpoint(ctx context.Context) (string, error) {
	if ep := c.OAuth2.Endpoint.DeviceAuthURL; ep != "" {
		return ep, checkEndpoint("Config.OAuth2.Endpoint.DeviceAuthURL", ep)
	}
	md := c.discovered // resolveWith took DeviceAuthURL from it: none there
	if md == nil {
		if c.Issuer == "" {
			return "", errNoDeviceEndpoint
		}
		var err error
		if md, err = c.authServer(ctx, c.Issuer, "finding the device authorization endpoint of issuer"); err != nil {
			return "", err
		}
	}
	if md.DeviceAuthorizationEndpoint == "" {
		return "", errNoDeviceEndpoint
	}
	return md.DeviceAuthorizationEndpoint, nil
}

// revocationEndpoint returns the RFC 7009 endpoint that Logout revokes
// at, "" when none is known: Config.RevocationURL, else the one in the
// kept metadata; when the endpoints were configured rather than
// discovered, the issuer's metadata is fetched (and kept) to look for one.
// A failed fetch counts as no endpoint. Only a flight calls it (Logout).
func (s *Session) revocationEndpoint(ctx context.Context, cfg *Config) string {
	if cfg.RevocationURL != "" {
		return cfg.RevocationURL
	}
	if s.meta == nil && cfg.Issuer != "" {
		if md, err := cfg.authServer(ctx, cfg.Issuer, "finding the revocation endpoint of issuer"); err == nil {
			s.setMeta(md, nil)
		}
	}
	if md := s.authServerMeta(); md != nil {
		return md.RevocationEndpoint
	}
	return ""
}
