// Config: one OAuth client of one authorization server and the session's
// policy, and its checks before anything is sent.

package authloop

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/callback"
	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/internal/urlrule"
	"github.com/authloop/authloop/store"
)

// Config describes one OAuth client of one authorization server, and how to
// talk to the person who signs in. The zero value of every field but OAuth2
// is useful.
type Config struct {
	// OAuth2 is the client as golang.org/x/oauth2 describes it: ClientID,
	// ClientSecret (empty for a public client), Endpoint.AuthURL and
	// Endpoint.TokenURL, and Scopes. Endpoints left empty are discovered
	// from Issuer's metadata (RFC 8414 or OpenID discovery), once per Login
	// and once per Session. Endpoint.AuthStyle chooses the client
	// authentication: AuthStyleInParams is client_secret_post, anything else
	// with a secret is client_secret_basic, unless the discovered metadata
	// lists only client_secret_post; it is never auto-detected by trial. RedirectURL, when set, must be a loopback http URL
	// (http://127.0.0.1:8085/callback): its port and path fix the callback
	// listener's; otherwise the path is /callback and the port is the one
	// the client's dynamic registration names, when it is free, else one
	// the OS picks.
	OAuth2 *oauth2.Config

	// Issuer is the authorization server's issuer identifier. When set, an
	// authorization response whose iss parameter (RFC 9207) names another
	// server is refused. RequireIssuer makes an absent iss an error too.
	Issuer        string
	RequireIssuer bool

	// Resource is the protected resource the tokens are for (RFC 8707),
	// sent in the authorization, device authorization and token requests
	// when set, exactly as given (a server that knows
	// "https://api.example.com/" refuses "https://api.example.com"). With
	// the endpoints left to discovery and no Issuer, the resource's
	// metadata (RFC 9728) is found from it, and the resource that metadata
	// states is sent instead, as stated. The record's key holds its
	// canonical form (discovery.CanonicalResource), which is never sent.
	Resource string

	// DPoP chooses when the session binds its tokens to a key that it
	// proves possession of with each request (RFC 9449), so that a copied
	// token is worth nothing without the key: DPoPAuto (the zero value)
	// when the authorization server's metadata offers ES256, DPoPOn
	// always, DPoPOff never. The key (ECDSA P-256) is made at the first
	// such sign-in and kept in the session's record with the tokens bound
	// to it, so every process sharing the store, and a restarted one,
	// proves with the same key; it is never printed or logged. Token
	// requests then carry a DPoP proof, and Session.Transport sends
	// "Authorization: DPoP" with a fresh proof per request. A server that
	// answers with a bearer token despite the proof gives a bearer
	// session. Package-level Login, which keeps nothing, proves only with
	// DPoPKey.
	DPoP DPoPMode

	// DPoPKey, when set, is the key to prove with instead of one that
	// authloop makes and stores: an ECDSA P-256 crypto.Signer (ES256), such
	// as a key held by a hardware module. It is never stored: every process
	// sharing the session must be given the same key. Setting it asks for
	// DPoP unless DPoP is DPoPOff.
	DPoPKey crypto.Signer

	// Grant, when set, is how the session gets tokens for a program with
	// no person present: ClientCredentials, JWTBearer (a workload's
	// platform-issued token), IdentityAssertion (enterprise-managed
	// authorization), or a program's own. The session runs it wherever a
	// person's session would sign in (no token, no refresh token or a dead
	// one, Session.Login), with a refresh's lifecycle, and never opens a
	// browser: a refusal is a *GrantRefusedError. Interactive must be
	// false, OAuth2.ClientID set, and only the token endpoint is needed
	// (OAuth2.Endpoint.TokenURL, or Issuer or Resource to discover it).
	// The record's key names the grant (store.Key.Grant): a program's
	// tokens never mix with a person's.
	Grant Grant

	// ClientKey, when set, authenticates the client with a JWT it signs
	// (private_key_jwt, RFC 7523 §2.2) at every token, device
	// authorization and revocation request, instead of a secret: RSA of
	// 2048 bits or more (RS256), ECDSA P-256, P-384 or P-521 (ES256,
	// ES384, ES512) or Ed25519 (EdDSA), as any crypto.Signer (a key in a
	// hardware module too); assertion.ParsePrivateKey reads a key file.
	// Each assertion is new (its own jti) and short-lived (a minute). It
	// is never stored, logged or printed. The client must be registered
	// with its public key (assertion.Signer's JWKS); OAuth2.ClientSecret
	// must then be empty.
	ClientKey crypto.Signer
	// ClientKeyID is the kid of the assertions' header, the key's id in
	// the client's registered JWK set; empty means the key's RFC 7638
	// thumbprint.
	ClientKeyID string
	// ClientKeyAudience is the aud of the assertions. Empty means the
	// authorization server's issuer (as configured or discovered), as
	// draft-ietf-oauth-rfc7523bis asks and the MCP conformance suite
	// checks, or the token endpoint when no issuer is known. Servers that
	// want the token endpoint's URL instead (Ory Hydra) are given it here.
	ClientKeyAudience string

	// ClientName names the client in a dynamic registration (RFC 7591),
	// made when OAuth2.ClientID is empty and the endpoints are discovered:
	// at a login, for the exact redirect URI it listens on (port included,
	// since many servers compare redirect URIs exactly), and kept in the
	// record for later logins and refreshes. Default AppName.
	ClientName string

	// ClientMetadataURL is the https URL where the program publishes its
	// Client ID Metadata Document (see register.MetadataDocument); used as
	// the client id with servers that support it, before dynamic
	// registration.
	ClientMetadataURL string

	// RevocationURL is the revocation endpoint (RFC 7009) Session.Logout
	// uses; empty means the one in the issuer's metadata, if any.
	RevocationURL string

	// Store keeps the session's record (tokens, discovered metadata) so
	// that it survives restarts and is shared by every process using the
	// same store: they refresh one at a time under the record's lock, adopt
	// each other's tokens, and open at most one browser. Nil keeps the
	// tokens in this process only (store.NewMemory).
	Store store.Store

	// Account tells records of several accounts at one issuer apart (a
	// profile name, an email); part of the record's key with the issuer,
	// client id and resource.
	Account string

	// AuthParams are extra authorization request parameters, such as
	// prompt or login_hint. They cannot override the ones authloop sets.
	AuthParams url.Values

	// AppName names the program on the pages the person sees after signing
	// in. Default "authloop".
	AppName string

	// HTTPClient sends the token requests. Default: a client with a 30 s
	// timeout that does not follow redirects.
	HTTPClient *http.Client

	// Browser opens the authorization URL for the person. Nil means the
	// system browser (SystemBrowser). Use NoBrowser to only print the URL.
	Browser Browser

	// Prompt receives the lines meant for the person: the authorization URL
	// and what to do with it. Default os.Stderr; io.Discard silences it.
	Prompt io.Writer

	// LoginMode chooses the browser (loopback redirect) or the device
	// authorization grant (RFC 8628); LoginAuto, the default, picks the
	// browser when one can be opened and the device flow otherwise, when
	// the server offers it. The device authorization endpoint is
	// OAuth2.Endpoint.DeviceAuthURL, or the issuer's metadata's.
	LoginMode LoginMode

	// OnDeviceCode, when set, is called in the device flow with the user
	// code and the verification URIs to show the person, instead of the
	// lines written to Prompt. It must return promptly: polling starts when
	// it returns.
	OnDeviceCode func(*oauth2.DeviceAuthResponse)

	// LoginTimeout bounds the wait for the person to finish signing in.
	// Zero means callback.DefaultTimeout (5 minutes).
	LoginTimeout time.Duration

	// Logger receives debug records of each step, never a token, code or
	// secret. Nil means no logging.
	Logger *slog.Logger

	// Clock tells the time and runs the background refresh timer. Nil means
	// the system clock. Tests set it (oauthtest.FakeClock).
	Clock Clock

	// Session settings: see NewSession.

	// RefreshBuffer is how long before expiry a Session refreshes: 0 means
	// DefaultRefreshBuffer (5 minutes); NoRefreshBuffer refreshes only at
	// expiry. It is never more than half the token's lifetime, so a
	// 60-second token is refreshed after 30 seconds, not at once.
	RefreshBuffer time.Duration

	// RefreshScopes, when set, narrows the access tokens that refreshes
	// return: each refresh request asks for these scopes (RFC 6749 §6),
	// which must be within the scope the person granted at sign-in, and
	// a response that names no scope is taken to carry exactly them.
	// Scopes won later by a step-up (Session.Authorize) are added, so a
	// refresh never drops them. Nil leaves scope out of refresh requests:
	// the grant's scope stays as it is. A server that refuses the narrowing
	// (invalid_scope) fails that refresh with an error naming this field,
	// but the refresh token is kept: the grant is not dead, the
	// configuration is wrong.
	RefreshScopes []string

	// MaxRetries is how often a refresh that failed for a transient reason
	// (5xx, 429, temporarily_unavailable, a proxy's HTML page, a network
	// error) is retried: 0 means DefaultMaxRetries (3); NoRetries means none.
	MaxRetries int

	// DisableAutoRefresh stops the background refresh before expiry; tokens
	// are then refreshed when a caller finds them inside the refresh window
	// or expired.
	DisableAutoRefresh bool

	// Interactive lets a Session run Login (the browser) when refreshing is
	// impossible: no refresh token, or the server declared it dead; and
	// sign in anew when a resource refuses the token for insufficient
	// scope (Session.Authorize's step-up). A CLI in a terminal wants this;
	// a daemon or a credential helper does not, and gets ErrLoginRequired
	// (for a step-up, naming the scopes; Session.Login then asks for them).
	Interactive bool

	// RefreshTimeout bounds one refresh, retries and backoff included; a
	// caller's own context bounds only its wait. 0 means one minute.
	RefreshTimeout time.Duration

	// OnTokenChange is called after every change of the session's token
	// (refresh, rotation, login, logout), before the new token is handed
	// out, so a program can persist or audit it. new is nil when the tokens
	// were dropped. Keep it quick: callers wait for it; and it must not call
	// the Session's Token, Refresh or Close, which wait for it in turn.
	// Another goroutine it wakes may, for a moment, still get the old token
	// from Token, and a Refresh it calls then joins the refresh that is
	// finishing (and returns new) rather than making a request of its own.
	OnTokenChange func(old, new *oauth2.Token)

	// OnRefreshFailure is called once per failure episode: when a refresh
	// fails after its retries, and not again until a refresh has succeeded.
	// It runs before the waiting callers get the error; like OnTokenChange
	// it must not call the Session's Token, Refresh or Close.
	OnRefreshFailure func(err error)

	// OnSaveFailure is called once per save failure episode: when the
	// session's new tokens could not be written to Store (err wraps a
	// *SaveError), and not again until a save has succeeded. The session
	// keeps using the new tokens and retries the save; other processes
	// sharing the store do not see them meanwhile. A command can exit
	// non-zero on it. Like OnTokenChange it must not call the Session's
	// Token, Refresh or Close.
	OnSaveFailure func(err error)

	// registrar, set by a Session on the configuration it resolves when
	// OAuth2.ClientID is empty, registers the client a login needs for the
	// redirect URI it listens on (registration.go).
	registrar *registrar

	// discovered, set by resolveWith on the configuration it completes,
	// is the issuer's metadata it was completed from: later lookups (the
	// device authorization endpoint) read it instead of fetching again.
	discovered *discovery.AuthServerMetadata

	// dp, set by NewSession (and by Login with DPoPKey), is the DPoP state
	// the copies of the configuration share: the key and the servers'
	// nonces (dpopsession.go). nil: no proofs.
	dp *dpopClient
}

// validate checks the configuration before anything is sent, naming the
// field and the fix.
func (c *Config) validate() error {
	if c == nil || c.OAuth2 == nil {
		return errors.New("authloop: Config.OAuth2 is nil; set it to the client's *oauth2.Config (ClientID, Endpoint, Scopes)")
	}
	oc := c.OAuth2
	if c.Grant != nil {
		if err := c.validateGrant(); err != nil {
			return err
		}
	}
	if c.needsDiscovery() && c.Issuer == "" && c.Resource == "" {
		return errors.New("authloop: Config.OAuth2.Endpoint.AuthURL or TokenURL is empty and neither Config.Issuer nor Config.Resource is set; set the endpoints, the issuer to discover them from, or the protected resource (an MCP server URL) to discover its authorization server")
	}
	if oc.ClientID == "" && !c.needsDiscovery() {
		return errors.New("authloop: Config.OAuth2.ClientID is empty; set the client id your authorization server registered (a client is registered automatically only when the endpoints are discovered)")
	}
	for _, e := range []struct{ field, url string }{
		{"Config.OAuth2.Endpoint.AuthURL", oc.Endpoint.AuthURL},
		{"Config.OAuth2.Endpoint.TokenURL", oc.Endpoint.TokenURL},
	} {
		if e.url == "" {
			continue // discovered from the issuer
		}
		if err := checkEndpoint(e.field, e.url); err != nil {
			return err
		}
	}
	if c.Issuer != "" {
		if err := checkEndpoint("Config.Issuer", c.Issuer); err != nil {
			return err
		}
	}
	if c.Resource != "" {
		u, err := url.Parse(c.Resource)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return fmt.Errorf("authloop: Config.Resource %q is not an absolute URI without a fragment (RFC 8707 §2)", c.Resource)
		}
	}
	for _, sc := range c.RefreshScopes {
		if !validScope(sc) {
			return fmt.Errorf("authloop: Config.RefreshScopes holds %q, which is not a scope (RFC 6749 §3.3: printable ASCII without spaces, quotes or backslashes); give one scope per element", sc)
		}
	}
	if _, err := c.callbackConfig("x"); err != nil {
		return err
	}
	if err := c.checkClientKey(); err != nil {
		return err
	}
	if c.DPoP < DPoPAuto || c.DPoP > DPoPOff {
		return fmt.Errorf("authloop: Config.DPoP is %v; use DPoPAuto, DPoPOn or DPoPOff", c.DPoP)
	}
	return checkDPoPKey(c.DPoPKey)
}

// validateGrant checks what a session with a Grant needs.
func (c *Config) validateGrant() error {
	switch {
	case c.Interactive:
		return errors.New("authloop: Config.Grant and Config.Interactive are both set; a session with a Grant gets its tokens with no person present and never opens a browser: leave Interactive false")
	case c.OAuth2.ClientID == "":
		return errors.New("authloop: Config.Grant is set and Config.OAuth2.ClientID is empty; set the client id the authorization server registered for this program (a program's client is never registered automatically)")
	}
	return nil
}

// checkEndpoint refuses a URL that is not https, except http on a loopback
// host, where a local test server or a development setup lives.
func checkEndpoint(field, raw string) error {
	if raw == "" {
		return fmt.Errorf("authloop: %s is empty; set it to the authorization server's URL", field)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("authloop: %s %q is not an absolute URL", field, urlrule.RedactURL(raw))
	}
	if !urlrule.HTTPSOrLoopback(u) {
		return fmt.Errorf("authloop: %s %q must use https (plain http is allowed only on loopback: 127.0.0.1, [::1], localhost)", field, urlrule.RedactURL(raw))
	}
	return nil
}

// callbackConfig derives the loopback receiver's settings from
// OAuth2.RedirectURL, if any.
func (c *Config) callbackConfig(state string) (callback.Config, error) {
	cc := callback.Config{
		State:   state,
		Timeout: c.LoginTimeout,
		AppName: c.AppName,
	}
	if c.OAuth2 == nil || c.OAuth2.RedirectURL == "" {
		return cc, nil
	}
	u, err := url.Parse(c.OAuth2.RedirectURL)
	if err != nil || u.Scheme != "http" || !urlrule.IsLoopbackHost(u.Hostname()) || u.RawQuery != "" || u.Fragment != "" {
		return cc, fmt.Errorf("authloop: Config.OAuth2.RedirectURL %q must be a loopback http URL without query, such as http://127.0.0.1:8085/callback (RFC 8252 §7.3), or empty to let authloop pick one", c.OAuth2.RedirectURL)
	}
	cc.Addr = u.Host
	if u.Path != "" {
		cc.Path = u.Path
	}
	return cc, nil
}
