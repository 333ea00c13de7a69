// Grants for a program with no person present (Config.Grant): client
// credentials (RFC 6749 §4.4) and JWT bearer assertions (RFC 7523 §2.1),
// run by the Session wherever a person's session would sign in.

package authloop

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// A Grant obtains tokens for a program with no person present: a CI job, a
// service, an agent. Set as Config.Grant, it replaces the person's sign-in:
// the Session runs it when it has no token, when its token is about to
// expire and it holds no refresh token (or one the server refused), and
// for Session.Login; with the same lifecycle as a refresh (before expiry,
// one request per expiry across goroutines and processes sharing the
// store, retries with backoff and Retry-After, the result kept in the
// store). It never opens a browser.
//
// ClientCredentials, JWTBearer and IdentityAssertion are the grants
// authloop provides; a program may write its own (a SAML bearer grant, say).
type Grant interface {
	// GrantForm returns the parameters of one token request for this
	// grant: grant_type and the grant's own (an assertion, say). The
	// Session adds the client's authentication, and scope
	// (Config.OAuth2.Scopes) and resource (Config.Resource) unless the
	// form sets them. It is called for every request, retries included,
	// so an assertion read from a file is read again each time; it must
	// not block beyond ctx.
	GrantForm(ctx context.Context, t GrantTarget) (url.Values, error)
}

// GrantTarget is what a Grant may need to know of the request it is for.
type GrantTarget struct {
	// Issuer is the authorization server's issuer identifier, as
	// configured or discovered; empty when neither names one.
	Issuer string
	// TokenURL is the token endpoint the request goes to.
	TokenURL string
	// Resource is the protected resource the token is for (RFC 8707), or
	// empty.
	Resource string
	// ClientID is the client's id at the authorization server.
	ClientID string
	// Scopes are the scopes the token is asked for.
	Scopes []string
}

// Grant types, as sent in grant_type.
const (
	grantClientCredentials = "client_credentials"
	grantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"     // RFC 7523 §2.1
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange" // RFC 8693 §2.1
)

// ClientCredentials is the client credentials grant (RFC 6749 §4.4): the
// client's own authentication (its secret, Config.OAuth2.ClientSecret, or
// its key, Config.ClientKey) is the whole grant. The client must be
// confidential.
func ClientCredentials() Grant { return clientCredentials{} }

type clientCredentials struct{}

func (clientCredentials) GrantForm(context.Context, GrantTarget) (url.Values, error) {
	return url.Values{"grant_type": {grantClientCredentials}}, nil
}

// An AssertionSource returns an assertion to present: a JWT that a
// platform issued to the workload (JWTBearer), or an ID token
// (IdentityAssertion). It is called for every request, so it can follow a
// token that the platform rotates.
type AssertionSource func(ctx context.Context) (string, error)

// AssertionFile reads the assertion from path at every use, as platforms
// rotate such files in place: a Kubernetes projected service account
// token, a CI system's OIDC token written to disk. Surrounding white space
// is trimmed. A missing or empty file is an error naming it.
func AssertionFile(path string) AssertionSource {
	return func(context.Context) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("authloop: reading the assertion (the workload's token) from %s: %w", path, err)
		}
		a := strings.TrimSpace(string(b))
		if a == "" {
			return "", fmt.Errorf("authloop: the assertion file %s is empty: the platform has not written the workload's token yet, or the path is wrong", path)
		}
		if len(a) > maxAssertion {
			return "", fmt.Errorf("authloop: the assertion file %s holds %d bytes, more than an assertion's %d: is it the right file?", path, len(a), maxAssertion)
		}
		return a, nil
	}
}

// maxAssertion bounds an assertion read from a file or a source.
const maxAssertion = 64 << 10

// JWTBearer is the JWT bearer grant (RFC 7523 §2.1): the assertion (a JWT
// that another party issued to the program, such as a workload identity
// platform) is exchanged for an access token. The client authenticates as
// configured: a public client sends only its id. A server that refuses the
// assertion fails the request with a *GrantRefusedError; the Session never
// falls back to a person's sign-in.
func JWTBearer(assertion AssertionSource) Grant { return jwtBearer{src: assertion} }

type jwtBearer struct{ src AssertionSource }

func (g jwtBearer) GrantForm(ctx context.Context, _ GrantTarget) (url.Values, error) {
	if g.src == nil {
		return nil, errors.New("authloop: JWTBearer was given no AssertionSource; pass one, such as AssertionFile(path)")
	}
	a, err := readAssertion(ctx, g.src, "the JWT bearer grant's assertion")
	if err != nil {
		return nil, err
	}
	return url.Values{"grant_type": {grantJWTBearer}, "assertion": {a}}, nil
}

// readAssertion calls src and checks that what it returned can be sent.
func readAssertion(ctx context.Context, src AssertionSource, what string) (string, error) {
	a, err := src(ctx)
	if err != nil {
		return "", err
	}
	switch {
	case a == "":
		return "", fmt.Errorf("authloop: %s is empty", what)
	case len(a) > maxAssertion:
		return "", fmt.Errorf("authloop: %s is %d bytes, more than %d", what, len(a), maxAssertion)
	case strings.ContainsAny(a, " \t\r\n"):
		return "", fmt.Errorf("authloop: %s holds white space, which no JWT does", what)
	}
	return a, nil
}

// GrantRefusedError reports that the authorization server (or, for
// IdentityAssertion, the identity provider) refused the program's grant:
// its client credentials, its key, or its assertion were not accepted.
// Unlike a person's dead grant, this is not cured by signing in: the
// Session never opens a browser for it. It sends no further request for a
// minute, then doubling up to an hour, as after a configuration error.
type GrantRefusedError struct {
	// Grant is the grant_type that was refused.
	Grant string
	// Fix says what to check.
	Fix string
	// Err is the server's answer, usually an *OAuthError.
	Err error
}

func (e *GrantRefusedError) Error() string {
	return fmt.Sprintf("authloop: the authorization server refused the %s grant: %s: %v", e.Grant, e.Fix, e.Err)
}

// Unwrap returns the server's answer.
func (e *GrantRefusedError) Unwrap() error { return e.Err }

// grantRefusal returns err as a *GrantRefusedError when it is an OAuth
// error that retrying does not cure; nil otherwise.
func grantRefusal(err error, grantType string, cfg *Config) error {
	var oe *OAuthError
	if !errors.As(err, &oe) || isTransient(err) {
		return nil
	}
	var gr *GrantRefusedError
	if errors.As(err, &gr) {
		return err // the identity provider's, from IdentityAssertion
	}
	fix := "check the program's identity at the authorization server"
	switch oe.Code {
	case "invalid_client":
		fix = "it does not accept this client's authentication (invalid_client): check Config.OAuth2.ClientID and ClientSecret, and Endpoint.AuthStyle"
		if cfg.ClientKey != nil {
			fix = "it does not accept this client's assertion (invalid_client): check Config.OAuth2.ClientID, Config.ClientKey and ClientKeyID (is the public key registered for this client?), and Config.ClientKeyAudience (some servers, Ory Hydra among them, want the token endpoint's URL rather than the issuer)"
		}
	case "unauthorized_client", "unsupported_grant_type":
		fix = fmt.Sprintf("this client may not use the %s grant (%s): check the client's registration (its grant types)", grantType, oe.Code)
	case "invalid_grant":
		fix = "it refused the grant itself (invalid_grant)"
		if grantType == grantJWTBearer {
			fix = "it refused the assertion (invalid_grant): check that the server trusts its issuer, and its audience, subject and expiry"
		}
	case "invalid_scope":
		fix = fmt.Sprintf("it refused the scope %q (invalid_scope): check Config.OAuth2.Scopes against what this client may ask for", strings.Join(cfg.OAuth2.Scopes, " "))
	case "invalid_target":
		fix = fmt.Sprintf("it does not accept the resource %q (invalid_target): check Config.Resource", cfg.Resource)
	case "invalid_dpop_proof":
		fix = "it refused the DPoP proof (invalid_dpop_proof): check Config.DPoPKey, or this machine's clock"
	}
	return &GrantRefusedError{Grant: grantType, Fix: fix, Err: err}
}
