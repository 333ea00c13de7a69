// The errors the root package returns, for errors.Is and errors.As.

package authloop

import (
	"errors"
	"fmt"
	"time"

	"github.com/authloop/authloop/oautherr"
	"github.com/authloop/authloop/store"
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

// TokenResponseError reports a token endpoint (or device authorization
// endpoint) answer that is not a usable OAuth response: an HTML page from a
// proxy, malformed JSON, or a success without an access token. It never
// holds the body, which could carry a secret; it says what the body looked
// like.
type TokenResponseError struct {
	// Endpoint names the endpoint that answered: "" for the token
	// endpoint, "device authorization" for RFC 8628's.
	Endpoint string
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
	endpoint := e.Endpoint
	if endpoint == "" {
		endpoint = "token"
	}
	return fmt.Sprintf("authloop: %s endpoint answered HTTP %d (%s): %s", endpoint, e.StatusCode, ct, e.Problem)
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

// SaveError reports that the session's new tokens could not be written to
// its store (a full disk, a directory that became read-only, a locked
// keyring). The session keeps them in memory and goes on using them: after
// a rotation they are the only live grant, and the refresh token they
// replaced is never presented again. It retries the save, soon and under
// the record's lock, until it succeeds. Until then other processes sharing
// the store see the older record; if they present its refresh token, a
// rotating server refuses it and they need a login.
//
// Session.Refresh and Session.Login return the new token together with an
// error that wraps a *SaveError; Config.OnSaveFailure and Config.Logger
// hear of every failed save.
type SaveError struct {
	// Store describes the store (Store.Describe).
	Store string
	// Key names the record.
	Key store.Key
	// Err is the store's error.
	Err error
}

func (e *SaveError) Error() string {
	if errors.Is(e.Err, store.ErrLeaseLost) {
		// Not a broken store: this process held the record's lock too
		// long (it was stalled, or cut off from the store), and the store
		// refused a write that might overwrite another holder's.
		return fmt.Sprintf("authloop: the new tokens of %s were not saved to the %s: the record's lock passed to another holder while this process was stalled or cut off (%v); they are kept in this process, which saves them under the lock again unless the store holds newer ones", e.Key, e.Store, e.Err)
	}
	return fmt.Sprintf("authloop: the new tokens of %s could not be saved to the %s (%v); they are kept in this process, which retries the save, but other processes sharing the store do not see them: fix the store (free space, permissions, unlock the keyring)", e.Key, e.Store, e.Err)
}

// Unwrap returns the store's error.
func (e *SaveError) Unwrap() error { return e.Err }

// RetryLaterError reports that no token request is sent before Until: the
// authorization server asked for the wait (Retry-After on a 429 or 503), or
// a refresh spent its retries on transient failures and backs off. Every
// caller of the session gets it until then (with the still-valid token,
// where there is one, Token returns that instead), and so does every process
// sharing the store, which keeps Until in the session's record. A wait
// that ends more than an hour ahead (the clock was set back since, or
// another machine's clock runs ahead) is not honoured.
type RetryLaterError struct {
	// Until is the earliest time of the next token request.
	Until time.Time
	// Err is the failure that asked for the wait: an *OAuthError, a
	// *TokenResponseError or a network error. It is nil in a process that
	// found the wait in the store, set by another process.
	Err error
}

func (e *RetryLaterError) Error() string {
	at := e.Until.Local().Format("15:04:05")
	if e.Err == nil {
		return fmt.Sprintf("authloop: the authorization server asked another process sharing this session to wait; no token request before %s", at)
	}
	return fmt.Sprintf("%v (no token request before %s)", e.Err, at)
}

// Unwrap returns the failure that asked for the wait.
func (e *RetryLaterError) Unwrap() error { return e.Err }
