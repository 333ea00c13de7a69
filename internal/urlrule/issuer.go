package urlrule

import "strings"

// SameIssuer reports whether a and b name the same authorization server
// (discovery.SameIssuer, which delegates here, is its public name): the
// one rule for a metadata document's issuer against the one asked for, a
// kept record or registration against the server's metadata, and the iss
// parameter of an authorization response against the issuer.
//
// RFC 8414 §3.3 (and RFC 9207 §2.4 for iss) asks for identical strings.
// The one tolerance is a single trailing "/": the strings are compared
// after removing at most one "/" from the end of each. Providers disagree
// on that slash, and the two forms name one server (same scheme, host,
// port and path but for an empty last segment), so no other server can
// claim one of them. Nothing else is normalised: case, a default port,
// percent-encoding and a second trailing slash all make the issuers
// different. Removing at most one slash from each side keeps the rule an
// equivalence. An empty string names no issuer and matches nothing.
func SameIssuer(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}
