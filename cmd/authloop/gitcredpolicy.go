package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/authloop/authloop/internal/urlrule"
)

// Where git-credential may send a token. git trusts a helper's answer
// blindly and sends it to whatever remote asked, so the helper answers only
// over https (plain http only to this machine, where nobody is on the wire)
// and only for a host the profile lists (authloop login --git-host HOST).

// gitRemoteSafe reports whether a token may go to protocol://host: https,
// or http to a loopback host (127.0.0.0/8, ::1, localhost).
func gitRemoteSafe(protocol, host string) bool {
	if host == "" {
		return false
	}
	switch strings.ToLower(protocol) {
	case "https":
		return true
	case "http":
		return isLoopbackGitHost(host)
	}
	return false
}

// isLoopbackGitHost reports whether host, as git sends it (a name or an
// address, with :port, IPv6 in brackets), is this machine.
func isLoopbackGitHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	return urlrule.IsLoopbackHost(h)
}

// gitHostListed reports whether host is one of hosts, compared as git sends
// it (with its :port, if any), ignoring ASCII case only: Unicode case
// folding would make distinct names equal (K and the Kelvin sign).
func gitHostListed(hosts []string, host string) bool {
	for _, h := range hosts {
		if asciiEqualFold(h, host) {
			return true
		}
	}
	return false
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// noteGitRefusal tells, on stderr (git shows a helper's stderr), why the
// helper answered nothing for a host a profile was meant for.
func noteGitRefusal(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "authloop git-credential: "+format+"\n", args...)
}

// checkGitHost refuses a --git-host that is not a host as git sends it
// (host=, with its :port): a URL, a path, a user name or a space in it can
// never match, and the profile would answer for no host. The error names
// the host to give instead.
func checkGitHost(h string) error {
	if !strings.ContainsFunc(h, func(r rune) bool { return strings.ContainsRune("/@?#\\", r) || r <= ' ' || r == 0x7f }) {
		return nil
	}
	host := h
	if u, err := url.Parse(h); err == nil && u.Host != "" {
		host = u.Host
	} else {
		if i := strings.LastIndexByte(host, '@'); i >= 0 {
			host = host[i+1:]
		}
		host, _, _ = strings.Cut(host, "/")
	}
	if f := strings.Fields(host); len(f) > 0 {
		host = f[0]
	} else {
		host = "git.example.com"
	}
	return usageError("--git-host %q is not a host as git sends it: give --git-host %s (with its :port, if the remote URL has one)", sanitize(h), sanitize(strings.ToLower(host)))
}
