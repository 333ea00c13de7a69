// Where the endpoints come from: the configuration, or discovery (RFC
// 8414 and OpenID discovery from the issuer; for a protected resource, RFC
// 9728 first, and the 2025-03-26 MCP revision's fallback to the resource's
// origin), kept in the session's record. The device flow and logout still
// fetch the issuer's metadata on their own (device.go, logout.go).

package authloop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
			md, err = discovery.AuthServer(ctx, s.cfg.httpClient(), s.cfg.Issuer)
			if err != nil {
				err = fmt.Errorf("authloop: finding the endpoints of issuer %q: %w", s.cfg.Issuer, err)
			}
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
	case err == nil && len(prm.AuthorizationServers) == 0:
		return nil, nil, fmt.Errorf("authloop: the protected resource metadata of %s names no authorization server", s.cfg.Resource)
	case err == nil:
		issuer := prm.AuthorizationServers[0]
		md, err := discovery.AuthServer(ctx, client, issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("authloop: finding the authorization server %q of %s: %w", issuer, s.cfg.Resource, err)
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
	origin := u.Scheme + "://" + u.Host
	md, err := legacyAuthServer(ctx, client, origin)
	if err != nil {
		return nil, nil, err
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

// legacyAuthServer finds the authorization server of a 2025-03-26 MCP
// server: the metadata at its origin's RFC 8414 URL, whose issuer is then
// the one iss is checked against (the old revision let it differ from the
// origin), or, when the origin serves none, the default endpoints.
func legacyAuthServer(ctx context.Context, client *http.Client, origin string) (*discovery.AuthServerMetadata, error) {
	md, err := discovery.AuthServer(ctx, client, origin)
	if err == nil {
		return md, nil
	}
	if errors.Is(err, discovery.ErrNoS256) {
		return nil, err
	}
	req, rerr := http.NewRequestWithContext(ctx, http.MethodGet, origin+"/.well-known/oauth-authorization-server", nil)
	if rerr != nil {
		return nil, rerr
	}
	req.Header.Set("Accept", "application/json")
	resp, herr := client.Do(req)
	if herr != nil {
		return nil, fmt.Errorf("authloop: finding the authorization server at %s: %w", origin, urlrule.RedactURLError(herr))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return defaultEndpoints(origin), nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("authloop: the authorization server metadata at %s answered HTTP %d", origin, resp.StatusCode)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, discovery.MaxBodySize))
	md, derr := discovery.DecodeAuthServerMetadata(body)
	if derr != nil {
		return nil, fmt.Errorf("authloop: the authorization server metadata at %s: %w", origin, derr)
	}
	if !md.SupportsS256() {
		return nil, fmt.Errorf("authloop: the authorization server at %s: %w", origin, discovery.ErrNoS256)
	}
	for _, e := range []string{md.Issuer, md.AuthorizationEndpoint, md.TokenEndpoint} {
		if err := checkEndpoint("the metadata at "+origin, e); err != nil {
			return nil, err
		}
	}
	return md, nil
}

// defaultEndpoints are the endpoints a 2025-03-26 MCP server without
// metadata has at its origin.
func defaultEndpoints(origin string) *discovery.AuthServerMetadata {
	md := &discovery.AuthServerMetadata{
		Issuer:                        origin,
		AuthorizationEndpoint:         origin + "/authorize",
		TokenEndpoint:                 origin + "/token",
		RegistrationEndpoint:          origin + "/register",
		CodeChallengeMethodsSupported: []string{"S256"},
	}
	md.Raw, _ = json.Marshal(md)
	return md
}
