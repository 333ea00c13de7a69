package authloop

import (
	"errors"
	"fmt"

	"github.com/authloop/authloop/oautherr"
)

// OAuthError is an error response from the authorization server (RFC 6749
// §4.1.2.1 and §5.2): test for it with errors.As and branch on its Code.
type OAuthError = oautherr.Error

// ErrNoBrowser reports that no browser could be opened on this machine (no
// display, no $BROWSER, or the opener failed). Login then prints the
// authorization URL for the person to open by hand, and keeps waiting.
var ErrNoBrowser = errors.New("authloop: no browser available")

// IssuerMismatchError reports that the authorization response named another
// authorization server than the one the login started with (RFC 9207): a
// sign of a mix-up attack. The code it carried is never used.
type IssuerMismatchError struct {
	// Want is the configured issuer.
	Want string
	// Got is the iss parameter of the response, or "" when it was absent
	// although the server promised to send it.
	Got string
}

func (e *IssuerMismatchError) Error() string {
	if e.Got == "" {
		return fmt.Sprintf("authloop: the authorization response has no iss parameter, but issuer %q promises one (RFC 9207); the response was discarded", e.Want)
	}
	return fmt.Sprintf("authloop: the authorization response came from issuer %q, not the configured %q (RFC 9207 mix-up defence); the response was discarded — check Config.Issuer", e.Got, e.Want)
}

// TokenResponseError reports a token endpoint answer that is not a usable
// OAuth response: an HTML page from a proxy, malformed JSON, or a success
// without an access token. It never holds the body, which could carry a
// secret; it says what the body looked like.
type TokenResponseError struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// ContentType is the response's Content-Type header.
	ContentType string
	// Problem says what was wrong, in words.
	Problem string
	// RetryAfter is the delay the server asked for (Retry-After), if any.
	RetryAfter string
}

func (e *TokenResponseError) Error() string {
	ct := e.ContentType
	if ct == "" {
		ct = "no content type"
	}
	return fmt.Sprintf("authloop: token endpoint answered HTTP %d (%s): %s", e.StatusCode, ct, e.Problem)
}

// ErrLoginRequired reports that the session holds no usable token and
// cannot get one without the person: there is no refresh token, or the
// server declared it dead (invalid_grant and the like), and the Session may
// not run an interactive login. Test for it with errors.Is; the error also
// wraps the server's *OAuthError when there was one.
var ErrLoginRequired = errors.New("authloop: login required")

// LoginRequiredError is the error behind ErrLoginRequired: why a new login
// is needed, and the error that showed it, if any.
type LoginRequiredError struct {
	// Reason says why, in words: "no refresh token", "the refresh token
	// was refused", "no token yet".
	Reason string
	// Err is the refresh's error, usually an *OAuthError; nil when no
	// request was made.
	Err error
}

func (e *LoginRequiredError) Error() string {
	msg := "authloop: login required: " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + " (run the login again, or set Config.Interactive to let the session do it)"
}

// Is makes errors.Is(err, ErrLoginRequired) true.
func (e *LoginRequiredError) Is(target error) bool { return target == ErrLoginRequired }

// Unwrap returns the refresh's error.
func (e *LoginRequiredError) Unwrap() error { return e.Err }

// ErrSessionClosed is returned by a Session's methods after Close.
var ErrSessionClosed = errors.New("authloop: session closed")
