package urlrule

import (
	"net"
	"net/url"
	"strings"
)

// IsLoopbackHost reports whether host, a URL's Hostname() (no port, no
// brackets), names this machine: "localhost" in any ASCII case, or an IP
// address in 127.0.0.0/8 or ::1 (an IPv4-mapped ::ffff:127.x.y.z
// included). Nothing else is: not "localhost." with its trailing dot, not a
// name that merely starts with 127.0.0.1 or localhost, not an address in a
// short or numeric form (127.1, 2130706433), not an IPv6 address with a
// zone, and not a Unicode spelling that folds to "localhost" (U+017F, the
// long s): only ASCII case is ignored.
func IsLoopbackHost(host string) bool {
	if asciiEqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// MayBeLoopbackHost reports whether a request to host, a URL's Hostname(),
// may reach this machine: the hosts IsLoopbackHost accepts, and "localhost"
// in any Unicode case (the long s, U+017F, folds to s, and Go's HTTP client
// maps it to s before it dials). It is the check for refusing a URL that
// must not lead to this machine (a resource_metadata URL that a remote
// resource points to a loopback host), where the wider rule is the
// stricter one; IsLoopbackHost is the check for letting plain http
// through, where the narrower one is.
func MayBeLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	return IsLoopbackHost(host)
}

// HTTPSOrLoopback reports whether a token or a secret may be sent to u: u
// is https, or plain http to a loopback host (IsLoopbackHost), where a
// local test server or a development setup lives and nobody is on the
// wire. The scheme is compared without regard to ASCII case. It does not
// check that u has a host: an https URL without one passes, and the
// request to it fails.
func HTTPSOrLoopback(u *url.URL) bool {
	switch {
	case asciiEqualFold(u.Scheme, "https"):
		return true
	case asciiEqualFold(u.Scheme, "http"):
		return IsLoopbackHost(u.Hostname())
	}
	return false
}

// asciiEqualFold reports whether a and b are equal ignoring ASCII case
// only: Unicode case folding would make distinct names equal (the Kelvin
// sign and K, the long s and s).
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if asciiLowerByte(a[i]) != asciiLowerByte(b[i]) {
			return false
		}
	}
	return true
}

func asciiLowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
