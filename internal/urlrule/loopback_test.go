package urlrule

import (
	"net/url"
	"testing"
)

// TestIsLoopbackHost holds the union of the hosts the former copies
// (root config, discovery, register, callback, the CLI's git policy) were
// tested with, and the spellings on which they could have disagreed.
func TestIsLoopbackHost(t *testing.T) {
	for _, tt := range []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LOCALHOST", true},
		{"LocalHost", true},
		{"127.0.0.1", true},
		{"127.0.0.2", true},
		{"127.9.8.7", true},
		{"127.255.255.255", true},
		{"::1", true},
		{"0:0:0:0:0:0:0:1", true},
		{"::ffff:127.0.0.1", true},

		{"", false},
		{"localhost.", false},
		{"localhoſt", false}, // U+017F folds to s in Unicode, not in ASCII
		{"localhost.example.com", false},
		{"localhost.evil.example", false},
		{"127.0.0.1.example.com", false},
		{"127.0.0.1.nip.io", false},
		{"128.0.0.1", false},
		{"10.0.0.1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"::2", false},
		{"::ffff:0.0.0.0", false},
		{"[::1]", false}, // a Hostname() has no brackets
		{"::1%lo", false},
		{"fe80::1%lo", false},
		{"127.1", false},
		{"2130706433", false},
		{"0x7f000001", false},
		{"0x7f.0.0.1", false},
		{"127.0.0.1:80", false}, // a Hostname() has no port
	} {
		if got := IsLoopbackHost(tt.host); got != tt.want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

// TestMayBeLoopbackHost: what IsLoopbackHost accepts, and localhost in
// any Unicode case, which the former copy used for refusing a remote
// resource's pointer to this machine accepted too.
func TestMayBeLoopbackHost(t *testing.T) {
	for _, tt := range []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LOCALHOST", true},
		{"localho\u017ft", true},
		{"LOCALHO\u017fT", true},
		{"127.0.0.2", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"", false},
		{"localhost.example.com", false},
		{"127.0.0.1.nip.io", false},
		{"mcp.example.com", false},
		{"10.0.0.1", false},
	} {
		if got := MayBeLoopbackHost(tt.host); got != tt.want {
			t.Errorf("MayBeLoopbackHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
		if IsLoopbackHost(tt.host) && !MayBeLoopbackHost(tt.host) {
			t.Errorf("%q: IsLoopbackHost but not MayBeLoopbackHost", tt.host)
		}
	}
}

func TestHTTPSOrLoopback(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want bool
	}{
		{"https://as.example.com", true},
		{"https://as.example.com:8443/token?x=1", true},
		{"HTTPS://as.example.com", true}, // url.Parse lowers the scheme
		{"https://10.0.0.1/token", true},
		{"https:///path", true}, // no host: passes; the request fails
		{"http://localhost:1", true},
		{"http://LOCALHOST:1", true},
		{"http://127.0.0.1/token", true},
		{"http://127.0.0.2:1", true},
		{"http://[::1]:1", true},
		{"http://[::ffff:127.0.0.1]:8080/x", true},
		{"HTTP://localhost/", true},

		{"http://as.example.com", false},
		{"http://10.0.0.1", false},
		{"http://127.0.0.1.nip.io", false},
		{"http://localhost.evil.example", false},
		{"http://localhost./", false},
		{"http://localhoſt/", false},
		{"http://[::1%25lo]:1/", false},
		{"http:///path", false},
		{"ftp://localhost/", false},
		{"ws://127.0.0.1/", false},
		{"wss://as.example.com/", false},
		{"file:///etc/passwd", false},
		{"javascript:alert(1)", false},
		{"//as.example.com/token", false},
		{"/token", false},
	} {
		u, err := url.Parse(tt.raw)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", tt.raw, err)
		}
		if got := HTTPSOrLoopback(u); got != tt.want {
			t.Errorf("HTTPSOrLoopback(%q) = %v, want %v", tt.raw, got, tt.want)
		}
	}
	// A URL built by hand keeps the case of its scheme.
	for _, u := range []*url.URL{{Scheme: "HTTPS", Host: "as.example.com"}, {Scheme: "Http", Host: "127.0.0.1:8080"}} {
		if !HTTPSOrLoopback(u) {
			t.Errorf("HTTPSOrLoopback(%s) = false, want true", u)
		}
	}
}
