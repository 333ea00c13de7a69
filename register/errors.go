package register

import (
	"context"
	"errors"
	"fmt"

	"github.com/authloop/authloop/oautherr"
)

// Errors that callers branch on with errors.Is.
var (
	// ErrInsecureURL is wrapped by the error for a registration endpoint,
	// or a Client ID Metadata Document URL, that is not https (http is
	// accepted for a registration endpoint on a loopback host). Nothing is
	// sent to it.
	ErrInsecureURL = errors.New("register: refusing a URL that is not https")

	// ErrForeignEndpoint is wrapped by the error Update returns for a
	// client configuration endpoint (registration_client_uri) on another
	// origin than the authorization server's registration endpoint and
	// issuer. Nothing is sent to it: the registration access token lets its
	// holder read the client (its secret among it), change its redirect
	// URIs or delete it, and is sent only to the server that issued it.
	ErrForeignEndpoint = errors.New("register: refusing a client configuration endpoint on another origin than the authorization server")

	// ErrInvalidResponse is wrapped by the error for a registration
	// response that is not a usable registration: not a JSON object, too
	// large, without client_id, or without the client secret its
	// authentication method needs.
	ErrInvalidResponse = errors.New("register: invalid registration response")

	// ErrInvalidMetadataURL is wrapped by the error CheckMetadataURL
	// returns for a URL that cannot be a Client ID Metadata Document's
	// client id.
	ErrInvalidMetadataURL = errors.New("register: invalid client ID metadata document URL")

	// ErrNotSupported is wrapped by the error for a registration mechanism
	// the authorization server does not offer: Dynamic at a server without
	// a registration_endpoint, ClientIDMetadata at one that does not
	// advertise client_id_metadata_document_supported.
	ErrNotSupported = errors.New("register: not supported by the authorization server")

	// ErrNoClient is wrapped by the error Choose returns when there is no
	// way to obtain a client: none is configured and the server offers
	// neither a Client ID Metadata Document nor dynamic registration. The
	// person must register a client with the server's administrator and
	// pass its id.
	ErrNoClient = errors.New("register: no client for this authorization server")
)

// Error is a failed dynamic registration that the server did not explain
// with an OAuth error response: a network failure, an unexpected status,
// a response that is not a usable registration. (A registration the server
// refused with an error object is an *oautherr.Error instead.)
//
// It never quotes the response body, which may contain anything.
type Error struct {
	// Method is the request's HTTP method: POST for a registration (also
	// when empty), PUT for an update (RFC 7592).
	Method string
	// Endpoint is the registration endpoint's URL (or the client
	// configuration endpoint's, for an update), without any user
	// information.
	Endpoint string
	// Status is the HTTP status of the response, or 0 when there was none.
	Status int
	// Problem says what was wrong, in a few words, and what to do.
	Problem string
	// Err is the underlying error, if any: a network error, or one of this
	// package's Err values.
	Err error
}

// Error returns "register: <Method> <Endpoint>: <Problem>", followed by
// the underlying error when there is one.
func (e *Error) Error() string {
	method := e.Method
	if method == "" {
		method = "POST"
	}
	msg := fmt.Sprintf("register: %s %s: %s", method, e.Endpoint, e.Problem)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether trying again later may help: a network error
// without a response, or a 408, 429 or 5xx status.
func (e *Error) Temporary() bool {
	switch {
	case e.Status == 0:
		return e.Err != nil && !errors.Is(e.Err, ErrInvalidResponse) && !errors.Is(e.Err, context.Canceled)
	case e.Status == 408, e.Status == 429, e.Status >= 500:
		return true
	}
	return false
}

// IsInvalidClient reports whether err is, or wraps, an OAuth error response
// with the code invalid_client (RFC 6749 §5.2) from any endpoint: the server
// no longer knows the client, or refused its credentials. For a client
// obtained by dynamic registration the usual cause is that the server
// deleted the registration; the cure is to call Choose again with no kept
// registration, once, and sign in with the new client. (Or another process
// sharing the registration updated it and got a new client secret: see the
// package documentation.)
func IsInvalidClient(err error) bool {
	var oe *oautherr.Error
	return errors.As(err, &oe) && oe.Code == "invalid_client"
}
