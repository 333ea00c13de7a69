package oauthtest

import (
	"crypto"
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Client authentication methods at the token and revocation endpoints
// (RFC 6749 §2.3, RFC 7591 §2).
const (
	AuthNone              = "none"
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	// AuthPrivateKeyJWT is client authentication by a JWT signed with the
	// client's private key (RFC 7523 §2.2, OpenID Connect Core §9): the
	// request carries client_assertion_type ClientAssertionType and the
	// JWT as client_assertion; the server checks it with Client.PublicKey.
	AuthPrivateKeyJWT = "private_key_jwt"
)

// ClientAssertionType is the client_assertion_type of a JWT client
// assertion (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Client is a client registered at the server.
type Client struct {
	// ID is the client_id.
	ID string
	// Secret is the client secret; "" for a public client.
	Secret string
	// AuthMethod is how the client authenticates at the token and revocation
	// endpoints: "none", "client_secret_basic", "client_secret_post" or
	// "private_key_jwt" (AuthPrivateKeyJWT, with PublicKey). "" means
	// "client_secret_basic" for a client with a secret, "private_key_jwt"
	// for one with a PublicKey and no secret, and "none" for one with
	// neither. A request that uses another method than the registered one
	// is rejected with invalid_client.
	AuthMethod string
	// PublicKey verifies the client's assertions with private_key_jwt: an
	// *rsa.PublicKey (2048 bits or more; RS256/384/512, PS256/384/512), an
	// *ecdsa.PublicKey on P-256, P-384 or P-521 (ES256, ES384, ES512) or an
	// ed25519.PublicKey (EdDSA). See checkClientAssertionLocked for the
	// rules an assertion must meet.
	PublicKey crypto.PublicKey
	// RedirectURIs are the registered redirect URIs. A loopback URI
	// (http://127.0.0.1/..., http://[::1]/..., http://localhost/...) matches
	// the same URI with any port (RFC 8252 §7.3), unless
	// Config.ExactRedirectURIs; any other URI must match exactly. Empty
	// means any http loopback URI is accepted.
	RedirectURIs []string
	// Scopes are the scopes the client may ask for; empty means any of
	// Config.Scopes.
	Scopes []string
}

// authMethod returns the client's effective authentication method.
func (c *Client) authMethod() string {
	switch {
	case c.AuthMethod != "":
		return c.AuthMethod
	case c.Secret == "" && c.PublicKey != nil:
		return AuthPrivateKeyJWT
	case c.Secret == "":
		return AuthNone
	default:
		return AuthClientSecretBasic
	}
}

// clone returns a deep copy, so callers cannot change a registered client.
func (c Client) clone() *Client {
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.Scopes = slices.Clone(c.Scopes)
	return &c
}

// isLoopbackHost reports whether h is one of the loopback host names that
// RFC 8252 §7.3 lets a native app use with any port: exactly 127.0.0.1,
// ::1 or localhost, as a strict server checks them.
//
// oauthtest keeps its own copy of this rule on purpose, narrower than
// authloop's (internal/urlrule also takes 127.0.0.0/8 and any ASCII case
// of localhost): it stands for a foreign authorization server, checks what
// such a server would, and imports nothing of authloop's, so that a test
// can take it alone.
func isLoopbackHost(h string) bool {
	return h == "127.0.0.1" || h == "::1" || h == "localhost"
}

// isLoopbackURI reports whether u is an http URI on a loopback host.
func isLoopbackURI(u *url.URL) bool {
	return u.Scheme == "http" && isLoopbackHost(u.Hostname())
}

// matchRedirectURI reports whether got is one of the registered redirect
// URIs, with any port for loopback ones unless exact. With none
// registered, any http loopback URI matches.
func matchRedirectURI(registered []string, got string, exact bool) bool {
	u, err := url.Parse(got)
	if err != nil || !u.IsAbs() || u.Fragment != "" || u.User != nil {
		return false
	}
	if len(registered) == 0 {
		return isLoopbackURI(u)
	}
	for _, reg := range registered {
		if reg == got {
			return true
		}
		if exact {
			continue
		}
		ru, err := url.Parse(reg)
		if err != nil || !isLoopbackURI(ru) || !isLoopbackURI(u) {
			continue
		}
		if ru.Hostname() == u.Hostname() && cleanPath(ru) == cleanPath(u) && ru.RawQuery == u.RawQuery {
			return true
		}
	}
	return false
}

func cleanPath(u *url.URL) string {
	if p := u.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// clientCredentials are what a request to the token or revocation endpoint
// presented to identify its client.
type clientCredentials struct {
	id, secret string
	method     string // the method the request used
	assertion  string // client_assertion, with AuthPrivateKeyJWT
}

// readClientCredentials extracts the client's identity from the
// Authorization header and the form, without checking it.
func readClientCredentials(r *http.Request, form url.Values) (clientCredentials, *oauthError) {
	var cc clientCredentials
	_, hasSecret := form["client_secret"]
	_, hasType := form["client_assertion_type"]
	_, hasAssertion := form["client_assertion"]
	if hasType || hasAssertion {
		return readAssertionCredentials(r, form, hasSecret)
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, _, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return cc, &oauthError{code: "invalid_client", desc: "unsupported Authorization scheme", basic: true}
		}
		if hasSecret {
			return cc, &oauthError{code: "invalid_request", desc: "more than one client authentication method used"}
		}
		user, pass, ok := r.BasicAuth()
		if !ok {
			return cc, &oauthError{code: "invalid_client", desc: "malformed Basic credentials", basic: true}
		}
		// RFC 6749 §2.3.1: id and secret are form-urlencoded before being
		// put into the Basic credentials.
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return cc, &oauthError{code: "invalid_client", desc: "malformed Basic credentials", basic: true}
		}
		if bodyID := form.Get("client_id"); bodyID != "" && bodyID != id {
			return cc, &oauthError{code: "invalid_request", desc: "client_id in the body differs from the Basic credentials"}
		}
		return clientCredentials{id: id, secret: secret, method: AuthClientSecretBasic}, nil
	}
	cc.id = form.Get("client_id")
	if cc.id == "" {
		return cc, &oauthError{code: "invalid_client", desc: "no client authentication and no client_id"}
	}
	if hasSecret {
		cc.secret = form.Get("client_secret")
		cc.method = AuthClientSecretPost
	} else {
		cc.method = AuthNone
	}
	return cc, nil
}

// authenticate checks credentials against the registered client. The caller
// holds s.mu.
func (s *Server) authenticateLocked(cc clientCredentials) (*Client, *oauthError) {
	basic := cc.method == AuthClientSecretBasic
	c := s.clients[cc.id]
	if c == nil {
		return nil, &oauthError{code: "invalid_client", desc: "unknown client", basic: basic}
	}
	want := c.authMethod()
	if cc.method != want {
		return nil, &oauthError{code: "invalid_client",
			desc:  "client must authenticate with " + want + ", not " + cc.method,
			basic: basic || want == AuthClientSecretBasic}
	}
	switch want {
	case AuthNone:
	case AuthPrivateKeyJWT:
		if oerr := s.checkClientAssertionLocked(c, cc.assertion); oerr != nil {
			return nil, oerr
		}
	default:
		if subtle.ConstantTimeCompare([]byte(cc.secret), []byte(c.Secret)) != 1 {
			return nil, &oauthError{code: "invalid_client", desc: "wrong client secret", basic: basic}
		}
	}
	return c, nil
}

// allowedScopes returns the scopes client c may ask for.
func (s *Server) allowedScopes(c *Client) []string {
	if len(c.Scopes) > 0 {
		return c.Scopes
	}
	return s.scopes
}

// checkScopes splits a scope parameter and checks every scope is allowed.
// It returns the bad scope, if any.
func checkScopes(param string, allowed []string) ([]string, string) {
	scopes := strings.Fields(param)
	for _, sc := range scopes {
		if !slices.Contains(allowed, sc) {
			return nil, sc
		}
	}
	return dedupe(scopes), ""
}

func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
