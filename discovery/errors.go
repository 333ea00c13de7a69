package discovery

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNoS256 is wrapped by the error AuthServer returns when the
// authorization server's metadata does not list S256 in
// code_challenge_methods_supported, or has no such field. Without S256 the
// authorization code cannot be protected by PKCE, and the MCP specification
// requires the client to stop.
var ErrNoS256 = errors.New("discovery: authorization server does not support PKCE with S256")

// ErrIssuerMismatch is wrapped by the error for a metadata document whose
// issuer is not the issuer its URL was built from (RFC 8414 §3.3). Such a
// document is not used.
var ErrIssuerMismatch = errors.New("discovery: metadata issuer does not match")

// ErrResourceMismatch is wrapped by the error for a protected resource
// metadata document whose resource is not the server the client talks to
// (RFC 9728 §3.3). Such a document is not used.
var ErrResourceMismatch = errors.New("discovery: protected resource metadata is for another resource")

// ErrInsecureURL is wrapped by the error for a URL that is neither https nor
// http on a loopback host. Discovery never fetches it.
var ErrInsecureURL = errors.New("discovery: refusing a URL that is not https")

// ErrCrossOriginRedirect is wrapped by the error for a metadata URL that
// redirected to another origin. Discovery does not follow such redirects.
var ErrCrossOriginRedirect = errors.New("discovery: redirect to another origin refused")

// ErrInvalidMetadata is wrapped by the error for a document that is not a
// JSON object of the expected shape, lacks a required field, or names an
// insecure endpoint.
var ErrInvalidMetadata = errors.New("discovery: invalid metadata document")

// FetchError describes why one metadata URL gave no usable document. It
// never quotes the response body, which may contain anything.
type FetchError struct {
	// URL is the URL requested.
	URL string
	// Status is the HTTP status of the response, or 0 when there was none
	// (network error, refused redirect, canceled context).
	Status int
	// Problem says what was wrong, in a few words.
	Problem string
	// Err is the underlying error, if any: a network error, or one of this
	// package's Err values.
	Err error
}

// Error returns "discovery: GET <URL>: <Problem>", followed by the
// underlying error when there is one.
func (e *FetchError) Error() string {
	msg := "discovery: GET " + e.URL + ": " + e.Problem
	if e.Err != nil && !isSentinel(e.Err) {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *FetchError) Unwrap() error { return e.Err }

// Temporary reports whether trying again later may help: a network error
// or timeout without a response, or a 408, 429 or 5xx status.
func (e *FetchError) Temporary() bool {
	if e.Status == 0 {
		return e.Err != nil && !isSentinel(e.Err) && !errors.Is(e.Err, context.Canceled)
	}
	return e.Status == 408 || e.Status == 429 || e.Status >= 500
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrNoS256, ErrIssuerMismatch, ErrResourceMismatch, ErrInsecureURL, ErrCrossOriginRedirect, ErrInvalidMetadata} {
		if err == s {
			return true
		}
	}
	return false
}

// NotFoundError is returned when none of the URLs tried gave a usable
// document. It lists each URL with the reason it was not used, and unwraps
// to each of those *FetchError values, so errors.Is(err, ErrIssuerMismatch)
// tells whether a mismatch was among the reasons.
type NotFoundError struct {
	// What names the document looked for and its subject, e.g.
	// `authorization server metadata for issuer "https://as.example.com"`.
	What string
	// Tried holds one error per URL, in the order tried.
	Tried []*FetchError
	// Fix says what the caller can do.
	Fix string
}

// Error names every URL tried and why it was not used.
func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "discovery: no usable %s", e.What)
	if len(e.Tried) > 0 {
		b.WriteString("; tried ")
		for i, t := range e.Tried {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(strings.TrimPrefix(t.Error(), "discovery: GET "))
		}
	}
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// Unwrap returns the errors of the URLs tried.
func (e *NotFoundError) Unwrap() []error {
	errs := make([]error, len(e.Tried))
	for i, t := range e.Tried {
		errs[i] = t
	}
	return errs
}
