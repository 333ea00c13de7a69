package discovery

import "github.com/authloop/authloop/internal/urlrule"

// SameIssuer reports whether a and b name the same authorization server:
// the one rule authloop uses wherever it compares issuer identifiers (a
// metadata document's issuer against the one asked for, a kept record or
// registration against the server's metadata, the iss parameter of an
// authorization response against the issuer).
//
// RFC 8414 §3.3 (and RFC 9207 §2.4 for iss) asks for identical strings.
// The one tolerance is a single trailing "/": the strings are compared
// after removing at most one "/" from the end of each, so
// "https://as.example.com" and "https://as.example.com/" match, as do
// ".../tenant" and ".../tenant/". Providers disagree on that slash (Auth0
// publishes its issuer with it, MCP servers often list it without), and
// the two forms name one server: the same scheme, host, port and path but
// for an empty last segment, so no other server can claim one of them.
//
// Nothing else is normalised: the case of the scheme or host, a default
// port, percent-encoding and a second trailing slash ("a//" against "a/"
// or "a") all make the issuers different. No provider needs those
// tolerances, and each would let a document claim to be a server it does
// not name exactly. Removing at most one slash from each side keeps the
// rule an equivalence: if a matches b and b matches c, a matches c.
//
// An empty string names no issuer and matches nothing.
func SameIssuer(a, b string) bool {
	return urlrule.SameIssuer(a, b)
}
