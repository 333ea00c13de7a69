// Client registration for the Session: the kept client, or one registered
// by register.Choose (Client ID Metadata Document, RFC 7591 dynamic
// registration, RFC 7592 update) for the exact loopback redirect URI a login
// listens on.

package authloop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/callback"
	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/register"
	"github.com/authloop/authloop/store"
)

// registerClient gives cfg a client when the configuration names none, in
// the MCP spec's order (register.Choose): a Client ID Metadata Document
// when Config.ClientMetadataURL is set and the server supports them, else
// the dynamic registration (RFC 7591) kept in the record for this issuer.
// It registers nothing: a refresh needs no redirect URI, and a login
// registers the exact one it listens on (registrar.forRedirect), so that
// servers that compare redirect URIs exactly accept it. cfg gets a
// registrar for that, and no client id when none is kept yet.
func (s *Session) registerClient(ctx context.Context, cfg *Config, md *discovery.AuthServerMetadata) error {
	opts := s.registerOptions(nil)
	opts.DeferRegistration = true
	c, fresh, err := register.Choose(ctx, cfg.httpClient(), md, opts, s.client)
	if err != nil {
		return fmt.Errorf("authloop: no client for %s: %w (or set Config.OAuth2.ClientID to a pre-registered client)", md.Issuer, err)
	}
	cfg.registrar = &registrar{s: s, md: md}
	if c == nil {
		return nil
	}
	if fresh {
		s.cfg.logger().Debug("authloop: using a client", "issuer", md.Issuer, "client_id", c.ClientID)
	}
	s.client = c
	applyClient(cfg, c)
	return nil
}

// registerOptions are the session's options for register.Choose, with
// redirect as the redirect URIs to register.
func (s *Session) registerOptions(redirect []string) register.Options {
	return register.Options{
		MetadataDocumentURL: s.cfg.ClientMetadataURL,
		Registration: register.Request{
			ClientName:   s.cfg.clientName(),
			RedirectURIs: redirect,
			Scopes:       s.cfg.OAuth2.Scopes,
		},
	}
}

// registrar gets a login the client registered for the redirect URI it
// will use. A Session whose configuration names no client puts one in the
// configuration it resolves (Config.registrar); only flights use it, and
// each login attempt its own copy (forLogin), which carries the client
// registered anew for it, if any, until the login ends.
type registrar struct {
	s  *Session
	md *discovery.AuthServerMetadata
	// registered is a client registered anew (another client id) for the
	// login this registrar serves. It replaces the session's client, in
	// memory and in the record, only together with a token issued to it
	// (signedIn): the record's refresh token was issued to the kept client
	// and is refused when presented as another one (invalid_grant, which
	// drops the grant), and the login may yet fail.
	registered *store.Client
}

// forLogin returns a copy of r for one login attempt; nil when r is.
func (r *registrar) forLogin() *registrar {
	if r == nil {
		return nil
	}
	return &registrar{s: r.s, md: r.md}
}

// signedIn makes the client registered anew for the login r served, if
// any, the session's client: the login's token was issued to it, and the
// record gets both at the login's save. Call it when the login succeeded.
func (r *registrar) signedIn() {
	if r == nil || r.registered == nil {
		return
	}
	r.s.client = r.registered
	r.s.resolved = nil // the next flight resolves with the new client
	r.registered = nil
}

// preferredAddr returns the loopback address to listen on first: the host
// and port of the kept registration's redirect URI on cc's host and path,
// when cc leaves the port free. Listening there, the login needs no new
// registration; "" when there is none.
func (r *registrar) preferredAddr(cc callback.Config) string {
	host, port := "127.0.0.1", "0"
	if cc.Addr != "" {
		h, p, err := net.SplitHostPort(cc.Addr)
		if err != nil {
			h, p = strings.Trim(cc.Addr, "[]"), "0"
		}
		host, port = h, p
	}
	if port != "0" && port != "" {
		return "" // Config.OAuth2.RedirectURL fixes the port
	}
	path := cc.Path
	if path == "" {
		path = callback.DefaultPath
	}
	for _, ru := range register.RedirectURIs(r.s.client) {
		u, err := url.Parse(ru)
		if err != nil || u.Scheme != "http" || u.Port() == "" || u.Port() == "0" || u.RawQuery != "" || u.Path != path || !strings.EqualFold(u.Hostname(), host) {
			continue
		}
		return net.JoinHostPort(u.Hostname(), u.Port())
	}
	return ""
}

// forRedirect returns cfg with the client registered for exactly
// redirectURI, the one the login sends: the kept registration when it names
// that URI (or the Client ID Metadata Document client, whose redirect URIs
// are the document's business); else the kept registration updated to it
// (RFC 7592) where the server offers that, which is written into the record
// at once, since the server now holds the registration so (its redirect
// URI, and a registration access token or client secret it may have
// rotated); else a new registration, which stays with this login
// (r.registered) and enters the session and the record only with the token
// the login obtains with it (signedIn): until then the record's refresh
// token, issued to the kept client, keeps being presented as that client,
// here and in every process sharing the record. So the record keeps one
// registration per issuer: the one its token goes with.
func (r *registrar) forRedirect(ctx context.Context, cfg *Config, redirectURI string) (*Config, error) {
	s := r.s
	r.registered = nil // only the client this call returns is the login's
	c, fresh, err := register.Choose(ctx, cfg.httpClient(), r.md, s.registerOptions([]string{redirectURI}), s.client)
	if err != nil {
		return nil, fmt.Errorf("authloop: no client for %s: %w (or set Config.OAuth2.ClientID to a pre-registered client)", r.md.Issuer, err)
	}
	switch {
	case !fresh:
	case s.client != nil && s.client.ClientID == c.ClientID:
		s.cfg.logger().Debug("authloop: updated the client's registration", "issuer", r.md.Issuer, "client_id", c.ClientID, "redirect_uri", redirectURI)
		s.client = c
		s.resolved = nil // the next flight resolves with the updated client
		s.keepClient(ctx)
	default:
		s.cfg.logger().Debug("authloop: registered a client for this login", "issuer", r.md.Issuer, "client_id", c.ClientID, "redirect_uri", redirectURI)
		r.registered = c
	}
	lc := *cfg
	applyClient(&lc, c)
	return &lc, nil
}

// keepClient writes the session's client, just updated (RFC 7592), into
// the record, under the record's refresh lock, when there is a record: a
// login that fails after the registration changed must not leave the
// record naming a redirect URI (or a registration access token, or a
// client secret) the server no longer has. A record made by the login
// itself gets the client with its token.
func (s *Session) keepClient(ctx context.Context) {
	// Kept even when Close came meanwhile: the server has changed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	ctx, unlock, err := s.lockRecord(ctx, "refresh")
	if err == nil {
		defer unlock()
		var rec *store.Record
		if rec, err = s.store.Load(ctx, s.key); err == nil {
			rec.Client = s.client
			_, err = s.store.Save(ctx, rec)
		}
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.cfg.logger().Debug("authloop: could not keep the new registration in the record before the login ends", "key", s.key.String(), "error", err.Error())
	}
}

// adoptClient takes the registration another session saved in the record
// rec (it registered again, its port being taken, or updated the
// registration and got a new secret): the record's token was issued to
// that client, and is presented only as it. A registration the server
// refused this session (dropRegistration) is not taken again; nor is the
// registration of a record older than the token whose save is pending
// (knownStale): that token, which the session presents, may have been
// issued to a client registered anew for its login, which the record
// gets only with it.
func (s *Session) adoptClient(rec *store.Record) {
	if s.cfg.OAuth2.ClientID != "" || rec == nil || rec.Client == nil || rec.Client.ClientID == "" ||
		sameRegistration(s.client, rec.Client) || sameRegistration(s.refusedClient, rec.Client) {
		return
	}
	if rec.Token != nil && s.knownStale(fromStored(rec.Token)) {
		return
	}
	s.client = rec.Client
	s.resolved = nil
}

// registrationChanged reports, after a refresh of base was refused with
// err, whether that was invalid_client for the registered client while
// the record, read again, names the same refresh token with another
// registration: another process updated the registration meanwhile (RFC
// 7592, which may issue a new client secret and refuse the old one) after
// this refresh had read the record. The session then holds the record's
// registration, and the refresh is worth sending once more as it: the
// server refused the client, not the refresh token. The refresh lock is
// held.
func (s *Session) registrationChanged(ctx context.Context, err error, base *oauth2.Token) bool {
	presented := s.client
	if s.cfg.OAuth2.ClientID != "" || presented == nil || !register.IsInvalidClient(err) {
		return false
	}
	rec, lerr := s.load(ctx) // takes the record's registration (adoptClient)
	if lerr != nil || rec == nil || rec.Token == nil || rec.Token.RefreshToken != base.RefreshToken ||
		s.client == nil || sameRegistration(s.client, presented) {
		// The registration refused is the one presented (dropRegistration
		// forgets it); a record with another grant goes with its own
		// registration, which the next read of it takes.
		s.client = presented
		return false
	}
	s.cfg.logger().Debug("authloop: the registered client was refused, and the record names it anew (another process updated the registration); refreshing once more as it", "client_id", s.client.ClientID)
	return true
}

// sameRegistration reports whether a and b are the same registration in
// the same state.
func sameRegistration(a, b *store.Client) bool {
	return a != nil && b != nil && a.Issuer == b.Issuer && a.ClientID == b.ClientID && a.ClientSecret == b.ClientSecret &&
		a.RegistrationAccessToken == b.RegistrationAccessToken && a.RegistrationClientURI == b.RegistrationClientURI &&
		string(a.Metadata) == string(b.Metadata)
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

// dropRefused handles a login refused with err, reporting whether a new
// attempt may help: when the server refused, with invalid_client, the
// client registered anew for this login, that registration is dropped and
// the kept one stays (it was not presented); otherwise as
// dropRegistration. nil r (a configured client) never retries.
func (r *registrar) dropRefused(err error) bool {
	if r == nil {
		return false
	}
	if r.registered != nil && register.IsInvalidClient(err) {
		r.s.cfg.logger().Debug("authloop: the server refused the client registered for this login (invalid_client); trying once more", "client_id", r.registered.ClientID)
		r.registered = nil
		return true
	}
	return r.s.dropRegistration(err)
}

// dropRegistration forgets a registered client the server refused
// (invalid_client), and reports whether there was one to forget: this
// session no longer presents it, nor takes it from the record again
// (adoptClient), and its next login registers anew. The record is left
// as it is: invalid_client does not say whether the server no longer
// knows the client (its refresh token then went with it) or only refuses
// its credentials (another process updated the registration, RFC 7592,
// and got a new secret it has yet to write into the record), so the
// refresh token stays for any process that can present it.
func (s *Session) dropRegistration(err error) bool {
	if s.cfg.OAuth2.ClientID != "" || s.client == nil || !register.IsInvalidClient(err) {
		return false
	}
	s.cfg.logger().Debug("authloop: the server refused the registered client (invalid_client); a new login registers anew", "client_id", s.client.ClientID)
	s.refusedClient = s.client
	s.client = nil
	s.resolved = nil
	return true
}
