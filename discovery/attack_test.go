package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// The security suite's attacks on discovery (docs/SECURITY.md).

// Metadata whose issuer is not the one asked for (RFC 8414 §3.3): an
// attacker who can serve a document at the issuer's well-known URL (or a
// confused proxy) names another server, so that the client would check
// iss against the attacker's issuer. Every near miss is refused.
func TestAttackMetadataIssuerMismatch(t *testing.T) {
	d := newDocServer(t)
	u, _ := url.Parse(d.URL)
	host, port := u.Hostname(), u.Port()
	for _, claimed := range []string{
		"https://evil.example.com",
		d.URL + "/other",
		d.URL + "/tenant",
		"http://" + host + ":1" + port,
		"http://localhost:" + port,
		"https://" + host + ":" + port,
		"HTTP://" + host + ":" + port,
		"http://user@" + host + ":" + port,
		d.URL + "?x=1",
		d.URL + "#f",
		d.URL + "//",
		d.URL + "/.",
		d.URL + "/%2e",
		" " + d.URL,
		"",
	} {
		t.Run(claimed, func(t *testing.T) {
			d := newDocServer(t)
			d2 := strings.ReplaceAll(claimed, u.Host, strings.TrimPrefix(d.URL, "http://"))
			d.json("/.well-known/oauth-authorization-server", asDoc(d2))
			d.json("/.well-known/openid-configuration", asDoc(d2))
			m, err := AuthServer(context.Background(), testClient(), d.URL)
			if err == nil {
				t.Fatalf("metadata claiming issuer %q accepted for %s: %+v", d2, d.URL, m)
			}
			if !errors.Is(err, ErrIssuerMismatch) && !errors.Is(err, ErrInvalidMetadata) {
				t.Errorf("err = %v, want ErrIssuerMismatch", err)
			}
		})
	}
}

// PKCE downgrade: a server that offers only plain (or spells S256
// otherwise) is refused before any authorization request; authloop never
// sends plain.
func TestAttackPKCEDowngrade(t *testing.T) {
	for _, methods := range []string{
		`["plain"]`,
		`["plain","s256"]`,
		`["PLAIN"]`,
		`["S256 "]`,
		`["sha256"]`,
		`"S256"`,
		`[]`,
		`null`,
	} {
		t.Run(methods, func(t *testing.T) {
			d := newDocServer(t)
			d.json("/.well-known/oauth-authorization-server", fmt.Sprintf(`{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"code_challenge_methods_supported":%s}`,
				d.URL, d.URL+"/authorize", d.URL+"/token", methods))
			m, err := AuthServer(context.Background(), testClient(), d.URL)
			if err == nil {
				t.Fatalf("methods %s accepted: %+v", methods, m)
			}
			if !errors.Is(err, ErrNoS256) && !errors.Is(err, ErrInvalidMetadata) {
				t.Errorf("err = %v, want ErrNoS256", err)
			}
			for _, p := range d.requested() {
				if !strings.Contains(p, "/.well-known/") {
					t.Errorf("requested %s", p)
				}
			}
		})
	}
}

// Protected resource metadata naming another resource (RFC 9728 §3.3): a
// server that could make a client take its authorization servers for
// another resource's. Every near miss of the resource is refused.
func TestAttackResourceMetadataForAnotherResource(t *testing.T) {
	d := newDocServer(t)
	resource := d.URL + "/mcp"
	u, _ := url.Parse(d.URL)
	for _, claimed := range []string{
		"https://evil.example.com/mcp",
		d.URL + "/mcpx",
		d.URL + "/mc",
		d.URL + "/mcp/other",
		d.URL + "/other/../mcp/..",
		d.URL + "/MCP",
		// (The origin itself is the resource of the root document, which
		// the MCP order may fall back to: TestProtectedResourceMismatch.)
		"http://localhost:" + u.Port() + "/mcp",
		"https://" + u.Host + "/mcp",
		"http://user@" + u.Host + "/mcp",
		d.URL + "/mcp?tenant=other",
		d.URL + "/mcp#frag",
		"",
	} {
		t.Run(claimed, func(t *testing.T) {
			d.json("/.well-known/oauth-protected-resource/mcp", prmDoc(claimed, "https://as.evil.example.com"))
			d.json("/.well-known/oauth-protected-resource", prmDoc(claimed, "https://as.evil.example.com"))
			d.json("/prm", prmDoc(claimed, "https://as.evil.example.com"))
			for _, hint := range []string{"", d.URL + "/prm"} {
				m, err := ProtectedResource(context.Background(), testClient(), resource, hint)
				if err == nil {
					t.Fatalf("metadata for %q accepted for %s (hint %q): %+v", claimed, resource, hint, m)
				}
				if !errors.Is(err, ErrResourceMismatch) && !errors.Is(err, ErrInvalidMetadata) {
					t.Errorf("hint %q: err = %v, want ErrResourceMismatch", hint, err)
				}
			}
		})
	}
}

// Plain http outside loopback: an issuer, a resource or a discovered
// endpoint on http:// that is not the machine itself is refused, so no
// token or code crosses a network in clear.
func TestAttackPlainHTTPRefused(t *testing.T) {
	ctx := context.Background()
	for _, issuer := range []string{"http://as.example.com", "http://10.0.0.1", "http://127.0.0.1.nip.io", "http://localhost.evil.example"} {
		if _, err := AuthServer(ctx, testClient(), issuer); !errors.Is(err, ErrInsecureURL) {
			t.Errorf("AuthServer(%q): %v", issuer, err)
		}
		if _, err := ProtectedResource(ctx, testClient(), issuer+"/mcp", ""); !errors.Is(err, ErrInsecureURL) {
			t.Errorf("ProtectedResource(%q): %v", issuer+"/mcp", err)
		}
	}
	d := newDocServer(t)
	d.json("/.well-known/oauth-protected-resource/mcp", prmDoc(d.URL+"/mcp"))
	if _, err := ProtectedResource(ctx, testClient(), d.URL+"/mcp", "http://prm.example.com/prm"); err == nil {
		t.Error("a plain-http resource_metadata hint off the machine was followed")
	}
	for _, bad := range [][2]string{{"http://as.example.com/authorize", d.URL + "/token"}, {d.URL + "/authorize", "http://as.example.com/token"}} {
		d := newDocServer(t)
		doc := fmt.Sprintf(`{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"code_challenge_methods_supported":["S256"]}`, d.URL, bad[0], bad[1])
		d.json("/.well-known/oauth-authorization-server", doc)
		d.json("/.well-known/openid-configuration", doc)
		if m, err := AuthServer(ctx, testClient(), d.URL); err == nil && (m.AuthorizationEndpoint == bad[0] || m.TokenEndpoint == bad[1]) {
			t.Errorf("plain-http endpoint accepted: %+v", m)
		}
	}
}
