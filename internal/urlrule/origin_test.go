package urlrule

import (
	"net/url"
	"testing"
)

// TestSameOrigin holds the union of the cases of the former copies (the
// root Transport's redirect check, discovery's redirect rule, register's
// client configuration endpoint check) and those on which they disagreed:
// Unicode case, where one compared with strings.ToLower and another with
// strings.EqualFold; now only ASCII case is ignored.
func TestSameOrigin(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"https://as.example", "https://as.example/other?q=1#f", true},
		{"https://as.example", "https://as.example:443/", true},
		{"https://as.example:443", "https://as.example", true},
		{"http://as.example", "http://as.example:80/x", true},
		{"HTTPS://AS.Example", "https://as.example", true},
		{"https://reg.as.example/register", "https://REG.as.example/clients/c1", true},
		{"https://user:pw@as.example/", "https://as.example/", true},
		{"http://[::1]:8080/a", "http://[::1]:8080/b", true},
		{"http://[::1]/a", "http://[0:0:0:0:0:0:0:1]/a", false}, // hosts compare as written
		{"http://[FE80::1]/", "http://[fe80::1]/", true},
		{"https://as.example:", "https://as.example", true}, // an empty port is the default

		{"https://as.example", "http://as.example", false},
		{"http://as.example:443", "https://as.example", false},
		{"https://as.example", "https://as.example:8443", false},
		{"https://reg.as.example", "https://reg.as.example:444", false},
		{"https://as.example", "https://as.example:0443", false},
		{"https://as.example", "https://attacker.example", false},
		{"https://as.example", "https://as.example.attacker.example", false},
		{"https://as.example", "https://as.example.", false},
		{"https://as.example", "https://localhost", false},
		{"https://github.com", "https://g\u0130thub.com", false}, // strings.ToLower made these one
		{"https://s.example", "https://\u017f.example", false},   // strings.EqualFold made these one
		{"https://\u00e9.example", "https://\u00c9.example", false},
		{"https://as.example", "/relative", false},
		{"/a", "/a", false}, // no host, no origin
		{"mailto:a@as.example", "mailto:a@as.example", false},
		{"", "", false},
	} {
		a, err := url.Parse(tt.a)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", tt.a, err)
		}
		b, err := url.Parse(tt.b)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", tt.b, err)
		}
		if got := SameOrigin(a, b); got != tt.same {
			t.Errorf("SameOrigin(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.same)
		}
		if got := SameOrigin(b, a); got != tt.same {
			t.Errorf("SameOrigin(%q, %q) = %v, want %v (the rule is symmetric)", tt.b, tt.a, got, tt.same)
		}
	}
	// Built by hand, the scheme keeps its case; other schemes have no default port.
	if !SameOrigin(&url.URL{Scheme: "HTTP", Host: "as.example"}, &url.URL{Scheme: "http", Host: "as.example:80"}) {
		t.Error("HTTP and http with the default port: not the same origin")
	}
	if SameOrigin(&url.URL{Scheme: "wss", Host: "as.example"}, &url.URL{Scheme: "wss", Host: "as.example:443"}) {
		t.Error("wss gets no default port, yet as.example and as.example:443 matched")
	}
}
