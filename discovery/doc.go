// Package discovery finds out where and how to log in: it fetches OAuth 2.0
// authorization server metadata (RFC 8414 and OpenID Connect Discovery 1.0),
// protected resource metadata (RFC 9728), and parses the WWW-Authenticate
// challenges (RFC 9110 §11.6.1, RFC 6750 §3) that point to it, following the
// MCP authorization specification (revision 2026-07-28).
//
// # Fetching
//
// Every document is fetched with GET, Accept: application/json, without
// cookies (the client's Jar is not used), and its body is read up to
// MaxBodySize. Only https URLs are fetched, except http URLs whose host is a
// loopback host (127.0.0.0/8, [::1], localhost), which tests and local
// servers use; anything else fails with ErrInsecureURL.
//
// Redirects are followed only within the origin (scheme, host and port) of
// the URL asked for, at most 5 of them. A redirect to another origin fails
// with ErrCrossOriginRedirect: a document that moved to another host would
// otherwise be read from a server the caller never chose.
//
// # Authorization server metadata
//
// AuthServer tries the well-known URLs in the MCP specification's order and
// uses the first document whose issuer is the issuer asked for (RFC 8414
// §3.3, OpenID Connect Discovery §4.3), compared by SameIssuer: by string,
// with a single exception, one trailing "/" after the whole URL
// ("https://as.example.com" against "https://as.example.com/"), because
// providers disagree on it (Auth0 publishes its issuer with the slash, MCP
// servers often list it without) and both name the same server. The
// returned metadata's Issuer is the document's own value; that is the value
// to record and compare, with SameIssuer too, with the iss parameter of the
// authorization response (RFC 9207).
//
// LegacyAuthServer is the fallback for an MCP server of the 2025-03-26
// revision, which publishes no protected resource metadata: its origin is
// the authorization server, whose metadata may name another issuer, and
// which without metadata has default endpoints. Its requests follow the
// same rules as every other fetch.
//
// # Protected resource metadata
//
// ProtectedResource uses the resource_metadata URL of a 401 challenge when
// there is one, and the well-known URLs otherwise; see its documentation for
// how the document's resource is matched against the server the client talks
// to.
//
// # Results
//
// The metadata types keep the document as received in Raw. A caller that
// stores Raw can rebuild the value with DecodeAuthServerMetadata or
// DecodeResourceMetadata after a restart, without asking the network again.
package discovery
