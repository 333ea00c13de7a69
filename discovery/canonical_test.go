package discovery

import (
	"strings"
	"testing"
)

func TestCanonicalResource(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://mcp.example.com/mcp", "https://mcp.example.com/mcp"},
		{"https://mcp.example.com", "https://mcp.example.com"},
		{"https://mcp.example.com/", "https://mcp.example.com"},
		{"https://mcp.example.com:8443", "https://mcp.example.com:8443"},
		{"https://mcp.example.com:443/mcp", "https://mcp.example.com/mcp"},
		{"http://localhost:80/mcp", "http://localhost/mcp"},
		{"http://127.0.0.1:8080/mcp", "http://127.0.0.1:8080/mcp"},
		{"HTTPS://MCP.Example.COM/MCP", "https://mcp.example.com/MCP"},
		{"https://mcp.example.com/server/mcp", "https://mcp.example.com/server/mcp"},
		{"https://mcp.example.com/mcp#fragment", "https://mcp.example.com/mcp"},
		{"https://mcp.example.com#fragment", "https://mcp.example.com"},
		{"https://mcp.example.com/mcp/", "https://mcp.example.com/mcp/"},
		{"https://mcp.example.com/mcp?tenant=a", "https://mcp.example.com/mcp?tenant=a"},
		{"https://mcp.example.com/a%2Fb", "https://mcp.example.com/a%2Fb"},
		{"https://[::1]:443/mcp", "https://[::1]/mcp"},
		{"http://[::1]:9000/mcp", "http://[::1]:9000/mcp"},
		{"https://mcp.example.com:/mcp", "https://mcp.example.com/mcp"},
		// The lowest and the highest port are ports.
		{"https://mcp.example.com:1/mcp", "https://mcp.example.com:1/mcp"},
		{"https://mcp.example.com:65535/mcp", "https://mcp.example.com:65535/mcp"},
	}
	for _, tt := range tests {
		got, err := CanonicalResource(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("CanonicalResource(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if again, _ := CanonicalResource(got); again != got {
			t.Errorf("CanonicalResource is not idempotent on %q: %q", got, again)
		}
	}
	for _, bad := range []string{
		"mcp.example.com",
		"/mcp",
		"",
		"ftp://mcp.example.com/mcp",
		"https://user:pass@mcp.example.com/mcp",
		"https:///mcp",
		"https://mcp.example.com:99999999/x",
		"https://mcp.example.com:0/x",
		"https://mcp.example.com:65536/x",
		"mailto:a@example.com",
		"https://exa mple.com/",
	} {
		if got, err := CanonicalResource(bad); err == nil {
			t.Errorf("CanonicalResource(%q) = %q, want an error", bad, got)
		} else if !strings.HasPrefix(err.Error(), "discovery: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
}

func TestResourceMatching(t *testing.T) {
	want, err := canonicalURL("https://mcp.example.com/mcp", true)
	if err != nil {
		t.Fatal(err)
	}
	equal := map[string]bool{
		"https://mcp.example.com/mcp":      true,
		"https://mcp.example.com/mcp/":     true,
		"HTTPS://MCP.EXAMPLE.COM:443/mcp":  true,
		"https://mcp.example.com/MCP":      false,
		"https://mcp.example.com/mcp#x":    false,
		"https://mcp.example.com":          false,
		"https://mcp.example.com/mcp2":     false,
		"https://evil.example.com/mcp":     false,
		"http://mcp.example.com/mcp":       false,
		"https://mcp.example.com:8443/mcp": false,
		"https://mcp.example.com/mcp?a=b":  false,
		"not a url":                        false,
		"":                                 false,
	}
	for got, w := range equal {
		if resourceEqual(got, want) != w {
			t.Errorf("resourceEqual(%q) = %v, want %v", got, !w, w)
		}
	}
	covers := map[string]bool{
		"https://mcp.example.com/mcp":   true,
		"https://mcp.example.com":       true,
		"https://mcp.example.com/":      true,
		"https://mcp.example.com/m":     false,
		"https://mcp.example.com/mcp/":  true,
		"https://mcp.example.com/mc":    false,
		"https://mcp.example.com/mcp/x": false,
		"https://mcp.example.com/?a=b":  false,
		"https://evil.example.com":      false,
		"https://mcp.example.com#x":     false,
	}
	for got, w := range covers {
		if resourceCovers(got, want) != w {
			t.Errorf("resourceCovers(%q) = %v, want %v", got, !w, w)
		}
	}
	deep, _ := canonicalURL("https://mcp.example.com/tenant/a/mcp", true)
	if !resourceCovers("https://mcp.example.com/tenant/a", deep) || resourceCovers("https://mcp.example.com/tenant/ab", deep) {
		t.Error("resourceCovers does not respect path segment boundaries")
	}
}
