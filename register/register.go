package register

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/authloop/authloop/internal/urlrule"
	"github.com/authloop/authloop/store"
)

// DefaultRedirectURI is the redirect URI a Request registers when it names
// none: the IPv4 loopback address without a port, on the path of authloop's
// callback listener (callback.DefaultPath). RFC 8252 §7.3 asks the server to
// accept it with whatever port the listener binds at login time, but many
// servers compare redirect URIs exactly: register the URI the listener
// binds, port included, where it is known (see the package documentation).
const DefaultRedirectURI = "http://127.0.0.1/callback"

// MaxBodySize is the largest registration response Dynamic reads, in bytes.
// A larger body is refused, not truncated.
const MaxBodySize = 1 << 20

// Client authentication methods at the token endpoint (RFC 7591 §2).
const (
	// AuthNone is a public client: it proves nothing but its client id,
	// and relies on PKCE. The default for native apps.
	AuthNone = "none"
	// AuthClientSecretBasic sends the client secret in HTTP Basic auth.
	AuthClientSecretBasic = "client_secret_basic"
	// AuthClientSecretPost sends the client secret in the request body.
	AuthClientSecretPost = "client_secret_post"
)

// Request describes the client to register: the client metadata of RFC 7591
// §2 that a native app needs. Its zero value registers a public native client
// (no secret) for the authorization code and refresh token grants, with
// DefaultRedirectURI.
//
// Fields left empty are left out of the registration, except where a default
// is documented.
type Request struct {
	// ClientName is the name shown to the person on the consent page.
	ClientName string
	// RedirectURIs are the redirect URIs to register, such as the one the
	// program's callback listener binds, port included. Default:
	// []string{DefaultRedirectURI}. See the package documentation.
	RedirectURIs []string
	// Scopes are the scopes the client may ask for, sent as the
	// space-separated scope field. Nil sends none: the server decides.
	Scopes []string
	// GrantTypes default to authorization_code and refresh_token.
	GrantTypes []string
	// TokenEndpointAuthMethod is how the client authenticates at the token
	// endpoint: AuthNone, AuthClientSecretBasic or AuthClientSecretPost.
	// Empty means AuthNone (a public native client), unless the server's
	// token_endpoint_auth_methods_supported lists methods and none of them
	// is "none"; then client_secret_basic, or client_secret_post, whichever
	// the server lists first in that order.
	TokenEndpointAuthMethod string
	// ApplicationType defaults to "native" (the MCP specification asks
	// native clients to say so; a server may then accept loopback redirect
	// URIs with any port).
	ApplicationType string
	// SoftwareID and SoftwareVersion identify the program across its
	// registrations (RFC 7591 §2).
	SoftwareID      string
	SoftwareVersion string
	// ClientURI and LogoURI are a web page about the program and its logo,
	// shown on the consent page by some servers.
	ClientURI string
	LogoURI   string
	// Contacts are e-mail addresses of the people responsible for the
	// program.
	Contacts []string
	// Extra holds more client metadata fields to send, by JSON name.
	// It cannot replace a field this type names.
	Extra map[string]any

	// InitialAccessToken, if set, is sent as a bearer token in the
	// Authorization header of the registration request, for servers that
	// accept registrations only from holders of one (RFC 7591 §3). It is a
	// secret: it is never sent anywhere else, nor printed.
	InitialAccessToken string
}

// String describes the request without the initial access token.
func (r Request) String() string {
	type plain Request // no String method
	p := plain(r)
	if p.InitialAccessToken != "" {
		p.InitialAccessToken = "[redacted]"
	}
	return fmt.Sprintf("%+v", p)
}

// Options says how Choose obtains a client.
type Options struct {
	// ClientID is the id of a pre-registered client. When set, it is used
	// and nothing is registered.
	ClientID string
	// ClientSecret is the pre-registered client's secret; empty for a
	// public client. It is a secret: never printed.
	ClientSecret string

	// MetadataDocumentURL is the https URL at which the program publishes
	// its Client ID Metadata Document (see MetadataDocument). When set and
	// the server advertises client_id_metadata_document_supported, it is
	// the client id.
	MetadataDocumentURL string

	// Registration is the client to register dynamically (RFC 7591) when
	// neither of the above applies, and the server has a registration
	// endpoint.
	Registration Request

	// DeferRegistration makes Choose send nothing: a caller that does not
	// know yet which redirect URI its login will use (it binds its
	// loopback port only when a login starts, and a refresh needs none)
	// takes a kept registration whatever redirect URIs it names, and
	// registers (or updates one) later, with the exact URI. See Choose.
	DeferRegistration bool
}

// String describes the options without the client secret or the initial
// access token.
func (o Options) String() string {
	secret := ""
	if o.ClientSecret != "" {
		secret = "[redacted]"
	}
	return fmt.Sprintf("{ClientID:%s ClientSecret:%s MetadataDocumentURL:%s Registration:%s DeferRegistration:%t}",
		o.ClientID, secret, o.MetadataDocumentURL, o.Registration, o.DeferRegistration)
}

// AuthMethod returns how c authenticates at the token endpoint: the
// token_endpoint_auth_method of its registration response (Client.Metadata)
// when there is one, else AuthClientSecretBasic for a client with a secret
// (the RFC 7591 default) and AuthNone for one without.
func AuthMethod(c *store.Client) string {
	if c == nil {
		return AuthNone
	}
	var m struct {
		Method string `json:"token_endpoint_auth_method"`
	}
	if len(c.Metadata) > 0 && json.Unmarshal(c.Metadata, &m) == nil && m.Method != "" {
		return m.Method
	}
	if c.ClientSecret != "" {
		return AuthClientSecretBasic
	}
	return AuthNone
}

// redirectURIs returns r's redirect URIs, or the default.
func (r *Request) redirectURIs() []string {
	if len(r.RedirectURIs) > 0 {
		return r.RedirectURIs
	}
	return []string{DefaultRedirectURI}
}

// grantTypes returns r's grant types, or the default.
func (r *Request) grantTypes() []string {
	if len(r.GrantTypes) > 0 {
		return r.GrantTypes
	}
	return []string{"authorization_code", "refresh_token"}
}

// fields returns the client metadata of r as a JSON object, with authMethod
// as its token_endpoint_auth_method. Extra goes in first, so the named
// fields win.
func (r *Request) fields(authMethod string) map[string]any {
	m := make(map[string]any, len(r.Extra)+12)
	for k, v := range r.Extra {
		m[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	m["redirect_uris"] = r.redirectURIs()
	gts := r.grantTypes()
	m["grant_types"] = gts
	for _, gt := range gts {
		if gt == "authorization_code" {
			m["response_types"] = []string{"code"}
		}
	}
	m["token_endpoint_auth_method"] = authMethod
	appType := r.ApplicationType
	if appType == "" {
		appType = "native"
	}
	m["application_type"] = appType
	set("client_name", r.ClientName)
	set("scope", strings.Join(r.Scopes, " "))
	set("software_id", r.SoftwareID)
	set("software_version", r.SoftwareVersion)
	set("client_uri", r.ClientURI)
	set("logo_uri", r.LogoURI)
	if len(r.Contacts) > 0 {
		m["contacts"] = r.Contacts
	}
	return m
}

// checkEndpoint parses an endpoint URL and refuses anything but https, or
// http on a loopback host.
func checkEndpoint(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("register: the %s %q is not an absolute URL: fix the authorization server's metadata", name, raw)
	}
	if urlrule.HTTPSOrLoopback(u) {
		return u, nil
	}
	return nil, fmt.Errorf("%w: the %s %s is not https (http is accepted only on a loopback host); the server must publish an https endpoint",
		ErrInsecureURL, name, u.Redacted())
}
