package callback

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/authloop/authloop/internal/urlrule"
)

// listenAddr is a validated Config.Addr.
type listenAddr struct {
	ip           net.IP // loopback address to bind
	port         int    // 0: the system picks
	redirectHost string // host written in the redirect URI: the IP, or "localhost"
}

// parseAddr validates Config.Addr: host or host:port, where host is a
// loopback IP literal (bracketed or not for IPv6) or "localhost".
func parseAddr(addr string) (listenAddr, error) {
	if addr == "" {
		return listenAddr{ip: net.IPv4(127, 0, 0, 1).To4(), redirectHost: "127.0.0.1"}, nil
	}
	host, portStr := addr, ""
	switch {
	case net.ParseIP(addr) != nil: // bare IP, IPv6 included: no port
	case strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]"):
		host = addr[1 : len(addr)-1]
	default:
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			if strings.Contains(err.Error(), "missing port") {
				break // a host name without a port; checked below
			}
			return listenAddr{}, fmt.Errorf("callback: Config.Addr %q is not a host or host:port: "+
				"use \"127.0.0.1:0\", \"[::1]:0\" or \"localhost:8085\": %w", addr, err)
		}
		host, portStr = h, p
	}

	port := 0
	if portStr != "" {
		n, err := strconv.Atoi(portStr)
		if err != nil || n < 0 || n > 65535 {
			return listenAddr{}, fmt.Errorf("callback: Config.Addr %q has an invalid port %q: "+
				"give a number from 1 to 65535, or 0 to let the system pick a free port", addr, portStr)
		}
		port = n
	}

	ip := net.ParseIP(host)
	if !urlrule.IsLoopbackHost(host) {
		what := "host name"
		if host == "" {
			what = "empty host (it means every interface)"
		} else if ip != nil {
			what = "address"
			if ip.IsUnspecified() {
				what = "address (it means every interface)"
			}
		}
		return listenAddr{}, fmt.Errorf("callback: Config.Addr %q names the non-loopback %s %q: the redirect "+
			"receiver listens only on loopback so that no other machine can reach it (RFC 8252 §8.3); "+
			"use \"127.0.0.1\", \"[::1]\" or \"localhost\", with a port if the provider needs a fixed one", addr, what, host)
	}
	if ip == nil { // localhost, in any ASCII case
		return listenAddr{ip: net.IPv4(127, 0, 0, 1).To4(), port: port, redirectHost: "localhost"}, nil
	}
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	}
	return listenAddr{ip: ip, port: port, redirectHost: ip.String()}, nil
}
