package urlrule

import "net/url"

// SameOrigin reports whether a and b have the same origin (RFC 6454 §4):
// the same scheme and host, ignoring ASCII case only, and the same port, a
// missing one being the scheme's default (80 for http, 443 for https). A
// host that differs in any other way (a trailing dot, a Unicode case
// variant such as U+0130 against "i", which IDNA maps to another name) is
// another origin. A URL without a host has no origin and matches nothing.
func SameOrigin(a, b *url.URL) bool {
	ah, bh := a.Hostname(), b.Hostname()
	return ah != "" && bh != "" &&
		asciiEqualFold(a.Scheme, b.Scheme) &&
		asciiEqualFold(ah, bh) &&
		port(a) == port(b)
}

// port is u's port, or its scheme's default.
func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch {
	case asciiEqualFold(u.Scheme, "https"):
		return "443"
	case asciiEqualFold(u.Scheme, "http"):
		return "80"
	}
	return ""
}
