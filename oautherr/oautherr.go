// Package oautherr defines the error that an OAuth 2.0 peer reports with the
// standard error, error_description and error_uri fields (RFC 6749 §4.1.2.1
// and §5.2, RFC 7591 §3.2.2). Every authloop package returns it, and the root
// package re-exports it as authloop.OAuthError, so a caller can branch on the
// code with errors.As whichever step failed.
package oautherr

import (
	"fmt"
	"strings"
)

// Error is an error response from an authorization server, received either
// at the redirect URI (authorization endpoint) or in a token, registration or
// revocation response.
//
// Its fields come from outside: Error() quotes them, so control characters
// and terminal escapes cannot reach a log line unescaped.
type Error struct {
	// Code is the error parameter, such as "access_denied" or "invalid_grant".
	Code string
	// Description is error_description, a human-readable text, if given.
	Description string
	// URI is error_uri, a page about the error, if given.
	URI string
	// StatusCode is the HTTP status of the response that carried the error,
	// or 0 when it arrived at the redirect URI.
	StatusCode int
	// Endpoint names where the error came from: "authorization", "token",
	// "registration", "revocation".
	Endpoint string
}

// Error returns a one-line message naming the endpoint, the code and, when
// present, the description and URI.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Endpoint != "" {
		b.WriteString(e.Endpoint)
		b.WriteString(" endpoint: ")
	}
	b.WriteString("oauth error ")
	fmt.Fprintf(&b, "%q", e.Code)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.Description != "" {
		fmt.Fprintf(&b, ": %q", e.Description)
	}
	if e.URI != "" {
		fmt.Fprintf(&b, " (see %q)", e.URI)
	}
	return b.String()
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, &oautherr.Error{Code: "invalid_grant"}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code != "" && t.Code == e.Code
}
