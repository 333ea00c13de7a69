package authloop

import (
	"context"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/register"
	"github.com/authloop/authloop/store"
)

// registerClient gives cfg a client when the configuration names none, in
// the MCP spec's order (register.Choose): a Client ID Metadata Document
// when Config.ClientMetadataURL is set and the server supports them, else
// dynamic registration (RFC 7591: a native public client with the refresh
// grant). A registration is kept in the record, reused only with the
// issuer that made it, and renewed when the server answers invalid_client.
func (s *Session) registerClient(ctx context.Context, cfg *Config, md *discovery.AuthServerMetadata) error {
	name := s.cfg.ClientName
	if name == "" {
		name = s.cfg.AppName
	}
	if name == "" {
		name = "authloop"
	}
	redirect := register.DefaultRedirectURI
	if s.cfg.OAuth2.RedirectURL != "" {
		redirect = s.cfg.OAuth2.RedirectURL
	}
	opts := register.Options{
		MetadataDocumentURL: s.cfg.ClientMetadataURL,
		Registration: register.Request{
			ClientName:   name,
			RedirectURIs: []string{redirect},
			Scopes:       s.cfg.OAuth2.Scopes,
		},
	}
	c, fresh, err := register.Choose(ctx, cfg.httpClient(), md, opts, s.client)
	if err != nil {
		return fmt.Errorf("authloop: no client for %s: %w (or set Config.OAuth2.ClientID to a pre-registered client)", md.Issuer, err)
	}
	if fresh {
		s.cfg.logger().Debug("authloop: registered a client", "issuer", md.Issuer, "client_id", c.ClientID)
	}
	s.client = c
	applyClient(cfg, c)
	return nil
}

// applyClient puts a registered client into cfg.
func applyClient(cfg *Config, c *store.Client) {
	oc := *cfg.OAuth2
	oc.ClientID = c.ClientID
	oc.ClientSecret = c.ClientSecret
	switch register.AuthMethod(c) {
	case register.AuthClientSecretPost:
		oc.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	case register.AuthClientSecretBasic:
		oc.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	}
	cfg.OAuth2 = &oc
}

// dropRegistration forgets a registered client the server refused
// (invalid_client), and reports whether there was one to forget: the next
// flight registers anew.
func (s *Session) dropRegistration(err error) bool {
	if s.cfg.OAuth2.ClientID != "" || s.client == nil || !register.IsInvalidClient(err) {
		return false
	}
	s.cfg.logger().Debug("authloop: the server no longer knows the registered client; registering anew", "client_id", s.client.ClientID)
	s.client = nil
	s.resolved = nil
	return true
}
