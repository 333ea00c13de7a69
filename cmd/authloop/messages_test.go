package main

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
)

// explain keeps a failing server at exit 4 whatever its OAuth error code
// (as classify did before it), and says a metadata document for another
// issuer without calling it an HTTP failure.
func TestExplainEdges(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		want string
	}{
		{&authloop.OAuthError{Code: "invalid_request", StatusCode: 503, Endpoint: "token"}, exitUnreachable, "answered invalid_request (HTTP 503)"},
		{&authloop.OAuthError{Code: "invalid_request", StatusCode: 400, Endpoint: "token"}, exitFailure, "refused the token request (invalid_request)"},
		{fmt.Errorf("x: %w", &discovery.NotFoundError{What: `authorization server metadata for issuer "https://a"`, Tried: []*discovery.FetchError{
			{URL: "https://a/.well-known/oauth-authorization-server", Status: 200, Problem: "the metadata names another issuer", Err: discovery.ErrIssuerMismatch},
		}}), exitFailure, "found no authorization server metadata (the metadata names another issuer)"},
		{fmt.Errorf("x: %w", &discovery.NotFoundError{What: `authorization server metadata for issuer "https://a"`, Tried: []*discovery.FetchError{
			{URL: "https://a/.well-known/oauth-authorization-server", Problem: "request failed", Err: syscall.ECONNREFUSED},
		}}), exitUnreachable, "could not read the authorization server metadata (connection refused)"},
		{fmt.Errorf("x: %w", &discovery.NotFoundError{What: `authorization server metadata for issuer "https://a.invalid"`, Tried: []*discovery.FetchError{
			{URL: "https://a.invalid/.well-known/oauth-authorization-server", Problem: "request failed", Err: &net.DNSError{Err: "no such host", Name: "a.invalid", IsNotFound: true}},
		}}), exitUnreachable, "could not read the authorization server metadata (no such host a.invalid)"},
	} {
		var ce *cliError
		if !errors.As(classify(tc.err, "p"), &ce) || ce.code != tc.code || !strings.Contains(ce.Error(), tc.want) || ce.hint == "" {
			t.Errorf("classify(%v) = %v (code %d, hint %q), want code %d and %q", tc.err, ce, ce.code, ce.hint, tc.code, tc.want)
		}
	}
}

func TestTidy(t *testing.T) {
	for in, want := range map[string]string{
		"authloop: reading x: store: store: corrupt record": "reading x: store: corrupt record",
		"signing in: authloop: a: authloop: b":              "signing in: a: b",
		strings.Repeat("word ", 60):                         strings.TrimSpace(strings.Repeat("word ", 37)) + "…",
	} {
		if got := tidy(in); got != want {
			t.Errorf("tidy(%q) = %q, want %q", in, got, want)
		}
	}
}
