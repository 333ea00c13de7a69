package discovery

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/authloop/authloop/internal/urlrule"
)

// CanonicalResource returns the canonical URI of the MCP server (or other
// protected resource) at raw: a form for comparing resource URIs (is this
// metadata for that resource? do two configurations name one record?),
// never the value to send. The RFC 8707 resource parameter is the URI as
// the caller gave it, or as the protected resource metadata states it,
// byte for byte: a server that registered "https://api.example.com/"
// refuses "https://api.example.com" with invalid_target.
//
// The canonical form is:
//   - scheme and host in lower case (only http and https are accepted);
//   - no default port (:443 for https, :80 for http);
//   - no fragment (a fragment is dropped: it never reaches the server);
//   - the path as given, byte for byte, except that a path of just "/" is
//     dropped ("https://mcp.example.com/" becomes "https://mcp.example.com");
//   - the query, if any, as given.
//
// A trailing slash after a non-empty path is kept: "https://host/mcp/" is
// the URL the client dials and some servers route it apart from "/mcp".
// (Matching a server's metadata against the resource ignores that one
// slash; see ProtectedResource.)
//
// CanonicalResource returns an error for a relative URI, a URI without a
// host, another scheme, or one with user information.
func CanonicalResource(raw string) (string, error) {
	u, err := canonicalURL(raw, true)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// canonicalURL parses raw and returns it in canonical form. Fragments are
// dropped when dropFragment is true and refused otherwise.
func canonicalURL(raw string, dropFragment bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("discovery: resource URI %q is not a valid URL: use an absolute https URL such as https://mcp.example.com/mcp", raw)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return nil, fmt.Errorf("discovery: resource URI %q is not an absolute http(s) URL: use an absolute https URL such as https://mcp.example.com/mcp", raw)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("discovery: resource URI %q has no host: use an absolute https URL such as https://mcp.example.com/mcp", raw)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("discovery: resource URI %q has an invalid port: use a port between 1 and 65535", raw)
		}
	}
	if u.User != nil {
		return nil, fmt.Errorf("discovery: resource URI %q contains user information: remove the user:password@ part", raw)
	}
	if (u.Fragment != "" || u.RawFragment != "" || strings.Contains(raw, "#")) && !dropFragment {
		return nil, fmt.Errorf("discovery: resource URI %q contains a fragment, which RFC 8707 forbids", raw)
	}
	c := &url.URL{
		Scheme:   scheme,
		Host:     canonicalHost(scheme, u),
		Path:     u.Path,
		RawPath:  u.RawPath,
		RawQuery: u.RawQuery,
	}
	if c.Path == "/" && c.RawPath == "" {
		c.Path = ""
	}
	return c, nil
}

// canonicalHost returns u's host in lower case without the scheme's default
// port, with brackets around an IPv6 address.
func canonicalHost(scheme string, u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		return net.JoinHostPort(host, port)
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// trimSlash removes one trailing slash from p.
func trimSlash(p string) string {
	return strings.TrimSuffix(p, "/")
}

// resourceEqual reports whether the resource identifier got (from a
// document) names the same resource as want (canonical): same origin, same
// path apart from one trailing slash, same query.
func resourceEqual(got string, want *url.URL) bool {
	g, err := canonicalURL(got, false)
	if err != nil {
		return false
	}
	return urlrule.SameOrigin(g, want) &&
		trimSlash(g.EscapedPath()) == trimSlash(want.EscapedPath()) &&
		g.RawQuery == want.RawQuery
}

// resourceCovers reports whether the resource identifier got names want or
// a resource above it on the same origin: its path, ignoring a trailing
// slash, is empty, equal to want's path, or a prefix of it that ends at a
// "/". A got with a query covers only a want with the same path and query.
func resourceCovers(got string, want *url.URL) bool {
	g, err := canonicalURL(got, false)
	if err != nil || !urlrule.SameOrigin(g, want) {
		return false
	}
	gp, wp := trimSlash(g.EscapedPath()), trimSlash(want.EscapedPath())
	if gp == wp {
		return g.RawQuery == "" || g.RawQuery == want.RawQuery
	}
	return g.RawQuery == "" && (gp == "" || strings.HasPrefix(wp, gp+"/"))
}
