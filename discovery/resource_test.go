package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

func prmDoc(resource string, servers ...string) string {
	if len(servers) == 0 {
		servers = []string{"https://as.example.com"}
	}
	q := make([]string, len(servers))
	for i, s := range servers {
		q[i] = fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf(`{"resource":%q,"authorization_servers":[%s],"scopes_supported":["files:read"],"bearer_methods_supported":["header"],"resource_name":"Files","extra":true}`,
		resource, strings.Join(q, ","))
}

func TestResourceMetadataURLs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"https://mcp.example.com/mcp", []string{"https://mcp.example.com/.well-known/oauth-protected-resource/mcp", "https://mcp.example.com/.well-known/oauth-protected-resource"}},
		{"https://MCP.example.com:443/public/mcp/", []string{"https://mcp.example.com/.well-known/oauth-protected-resource/public/mcp", "https://mcp.example.com/.well-known/oauth-protected-resource"}},
		{"https://mcp.example.com", []string{"https://mcp.example.com/.well-known/oauth-protected-resource"}},
		{"https://mcp.example.com/", []string{"https://mcp.example.com/.well-known/oauth-protected-resource"}},
		{"https://mcp.example.com/mcp?t=1", []string{"https://mcp.example.com/.well-known/oauth-protected-resource/mcp?t=1", "https://mcp.example.com/.well-known/oauth-protected-resource"}},
	}
	for _, tt := range tests {
		got, err := ResourceMetadataURLs(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ResourceMetadataURLs(%q) = %q, %v\nwant %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := ResourceMetadataURLs("mcp.example.com"); err == nil {
		t.Error("no error for a URL without scheme")
	}
}

func TestProtectedResourceFromHint(t *testing.T) {
	d := newDocServer(t)
	d.json("/custom/metadata/location.json", prmDoc(d.URL+"/mcp"))
	d.json("/.well-known/oauth-protected-resource/mcp", prmDoc(d.URL+"/mcp", "https://wrong.example.com"))
	m, err := ProtectedResource(context.Background(), testClient(), d.URL+"/mcp", d.URL+"/custom/metadata/location.json")
	if err != nil {
		t.Fatal(err)
	}
	if m.Resource != d.URL+"/mcp" || !reflect.DeepEqual(m.AuthorizationServers, []string{"https://as.example.com"}) ||
		!reflect.DeepEqual(m.ScopesSupported, []string{"files:read"}) || m.ResourceName != "Files" {
		t.Errorf("got %+v", m)
	}
	if got := d.requested(); !reflect.DeepEqual(got, []string{"/custom/metadata/location.json"}) {
		t.Errorf("requested %q, want only the hint", got)
	}
}

func TestProtectedResourceHintFailureIsFinal(t *testing.T) {
	d := newDocServer(t)
	d.json("/.well-known/oauth-protected-resource/mcp", prmDoc(d.URL+"/mcp"))
	_, err := ProtectedResource(context.Background(), testClient(), d.URL+"/mcp", d.URL+"/missing")
	var nf *NotFoundError
	if !errors.As(err, &nf) || len(nf.Tried) != 1 || nf.Tried[0].Status != 404 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), d.URL+"/missing") || !strings.Contains(err.Error(), "resource_metadata") {
		t.Errorf("error does not name the hint: %v", err)
	}
	if got := d.requested(); len(got) != 1 {
		t.Errorf("requested %q; a failed hint must not fall back", got)
	}
}

func TestProtectedResourcePathInserted(t *testing.T) {
	d := newDocServer(t)
	d.json("/.well-known/oauth-protected-resource/public/mcp", prmDoc(d.URL+"/public/mcp"))
	d.json("/.well-known/oauth-protected-resource", prmDoc(d.URL, "https://root.example.com"))
	m, err := ProtectedResource(context.Background(), testClient(), d.URL+"/public/mcp", "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Resource != d.URL+"/public/mcp" || m.AuthorizationServers[0] != "https://as.example.com" {
		t.Errorf("got %+v", m)
	}
	if got := d.requested(); !reflect.DeepEqual(got, []string{"/.well-known/oauth-protected-resource/public/mcp"}) {
		t.Errorf("requested %q", got)
	}
}

func TestProtectedResourceFromRoot(t *testing.T) {
	for _, resource := range []string{"", "/", "/mcp"} {
		d := newDocServer(t)
		d.json("/.well-known/oauth-protected-resource", prmDoc(d.URL+resource))
		m, err := ProtectedResource(context.Background(), testClient(), d.URL+"/mcp", "")
		if err != nil {
			t.Fatalf("root document for %q: %v", resource, err)
		}
		if m.Resource != d.URL+resource {
			t.Errorf("Resource = %q", m.Resource)
		}
		want := []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"}
		if got := d.requested(); !reflect.DeepEqual(got, want) {
			t.Errorf("requested %q, want %q", got, want)
		}
	}
	// A server at the root: only the root URL.
	d := newDocServer(t)
	d.json("/.well-known/oauth-protected-resource", prmDoc(d.URL+"/"))
	if _, err := ProtectedResource(context.Background(), testClient(), d.URL, ""); err != nil {
		t.Fatal(err)
	}
	if got := d.requested(); !reflect.DeepEqual(got, []string{"/.well-known/oauth-protected-resource"}) {
		t.Errorf("requested %q", got)
	}
}

func TestProtectedResourceMismatch(t *testing.T) {
	ctx := context.Background()
	t.Run("path-inserted document for another origin, no root", func(t *testing.T) {
		d := newDocServer(t)
		d.json("/.well-known/oauth-protected-resource/mcp", prmDoc("https://evil.example.com/mcp"))
		_, err := ProtectedResource(ctx, testClient(), d.URL+"/mcp", "")
		if !errors.Is(err, ErrResourceMismatch) || !strings.Contains(err.Error(), `"https://evil.example.com/mcp"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("path-inserted mismatch, root matches", func(t *testing.T) {
		d := newDocServer(t)
		d.json("/.well-known/oauth-protected-resource/mcp", prmDoc("https://evil.example.com/mcp", "https://evil.example.com"))
		d.json("/.well-known/oauth-protected-resource", prmDoc(d.URL))
		m, err := ProtectedResource(ctx, testClient(), d.URL+"/mcp", "")
		if err != nil || m.AuthorizationServers[0] != "https://as.example.com" {
			t.Fatalf("got %+v, %v", m, err)
		}
	})
	t.Run("path-inserted document for the origin only", func(t *testing.T) {
		d := newDocServer(t)
		d.json("/.well-known/oauth-protected-resource/mcp", prmDoc(d.URL))
		if _, err := ProtectedResource(ctx, testClient(), d.URL+"/mcp", ""); !errors.Is(err, ErrResourceMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("hint document for another resource", func(t *testing.T) {
		d := newDocServer(t)
		d.json("/prm", prmDoc(d.URL+"/other"))
		if _, err := ProtectedResource(ctx, testClient(), d.URL+"/mcp", d.URL+"/prm"); !errors.Is(err, ErrResourceMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("hint document for the origin", func(t *testing.T) {
		d := newDocServer(t)
		d.json("/prm", prmDoc(d.URL))
		if _, err := ProtectedResource(ctx, testClient(), d.URL+"/mcp", d.URL+"/prm"); !errors.Is(err, ErrResourceMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("root document for a sibling path", func(t *testing.T) {
		d := newDocServer(t)
		d.json("/.well-known/oauth-protected-resource", prmDoc(d.URL+"/other"))
		if _, err := ProtectedResource(ctx, testClient(), d.URL+"/mcp", ""); !errors.Is(err, ErrResourceMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("resource with a fragment", func(t *testing.T) {
		d := newDocServer(t)
		d.json("/.well-known/oauth-protected-resource/mcp", prmDoc(d.URL+"/mcp#x"))
		if _, err := ProtectedResource(ctx, testClient(), d.URL+"/mcp", ""); !errors.Is(err, ErrResourceMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestProtectedResourceCanonicalComparison(t *testing.T) {
	d := newDocServer(t)
	// The document spells the resource with upper case, a default port
	// and a trailing slash; the client asks with another spelling, and
	// the document's own value (the one to send) comes back.
	upper := strings.Replace(d.URL, "http://127.0.0.1", "HTTP://127.0.0.1", 1)
	d.json("/.well-known/oauth-protected-resource/mcp", prmDoc(upper+"/mcp/"))
	m, err := ProtectedResource(context.Background(), testClient(), d.URL+"/mcp#frag", "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Resource != upper+"/mcp/" {
		t.Errorf("Resource = %q, want the document's own value", m.Resource)
	}
}

func TestProtectedResourceHintOtherOrigin(t *testing.T) {
	meta := newDocServer(t)
	d := newDocServer(t)
	meta.json("/prm/mcp", prmDoc(d.URL+"/mcp"))
	m, err := ProtectedResource(context.Background(), testClient(), d.URL+"/mcp", meta.URL+"/prm/mcp")
	if err != nil {
		t.Fatalf("cross-origin hint refused: %v", err)
	}
	if m.Resource != d.URL+"/mcp" {
		t.Errorf("Resource = %q", m.Resource)
	}
	// The other origin cannot vouch for a resource on its own origin.
	meta.json("/prm/self", prmDoc(meta.URL+"/mcp"))
	if _, err := ProtectedResource(context.Background(), testClient(), d.URL+"/mcp", meta.URL+"/prm/self"); !errors.Is(err, ErrResourceMismatch) {
		t.Errorf("err = %v", err)
	}
}

func TestProtectedResourceHintRefused(t *testing.T) {
	d := newDocServer(t)
	ctx := context.Background()
	// A remote resource cannot send the client to a loopback host.
	if _, err := ProtectedResource(ctx, testClient(), "https://mcp.example.com/mcp", d.URL+"/prm"); !errors.Is(err, ErrInsecureURL) {
		t.Errorf("loopback hint for a remote resource: err = %v", err)
	}
	if _, err := ProtectedResource(ctx, testClient(), "https://mcp.example.com/mcp", "http://localhost/prm"); !errors.Is(err, ErrInsecureURL) {
		t.Errorf("localhost hint for a remote resource: err = %v", err)
	}
	// Plain http elsewhere is refused.
	if _, err := ProtectedResource(ctx, testClient(), d.URL+"/mcp", "http://metadata.example.com/prm"); !errors.Is(err, ErrInsecureURL) {
		t.Errorf("http hint: err = %v", err)
	}
	for _, bad := range []string{"/relative", "::", "mailto:x@example.com"} {
		if _, err := ProtectedResource(ctx, testClient(), d.URL+"/mcp", bad); err == nil {
			t.Errorf("hint %q: no error", bad)
		}
	}
	if got := d.requested(); len(got) != 0 {
		t.Errorf("requested %q", got)
	}
}

func TestProtectedResourceInsecureResource(t *testing.T) {
	_, err := ProtectedResource(context.Background(), testClient(), "http://mcp.example.com/mcp", "")
	if !errors.Is(err, ErrInsecureURL) {
		t.Errorf("err = %v", err)
	}
	if _, err := ProtectedResource(context.Background(), testClient(), "mcp.example.com", ""); err == nil {
		t.Error("no error for a resource without scheme")
	}
}

func TestProtectedResourceNoAuthorizationServers(t *testing.T) {
	d := newDocServer(t)
	d.json("/.well-known/oauth-protected-resource/mcp", fmt.Sprintf(`{"resource":%q}`, d.URL+"/mcp"))
	d.json("/.well-known/oauth-protected-resource", fmt.Sprintf(`{"resource":%q,"authorization_servers":[""]}`, d.URL))
	_, err := ProtectedResource(context.Background(), testClient(), d.URL+"/mcp", "")
	if !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), "authorization_servers") {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeResourceMetadata(t *testing.T) {
	doc := prmDoc("https://mcp.example.com/mcp", "https://a.example.com", "https://b.example.com")
	m, err := DecodeResourceMetadata([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := ResourceMetadata{
		Resource: "https://mcp.example.com/mcp", AuthorizationServers: []string{"https://a.example.com", "https://b.example.com"},
		ScopesSupported: []string{"files:read"}, BearerMethodsSupported: []string{"header"}, ResourceName: "Files", Raw: []byte(doc),
	}
	if !reflect.DeepEqual(*m, want) {
		t.Errorf("got  %+v\nwant %+v", *m, want)
	}
	again, err := DecodeResourceMetadata(m.Raw)
	if err != nil || !reflect.DeepEqual(again, m) {
		t.Errorf("Decode(Raw) = %+v, %v", again, err)
	}
	for _, bad := range []string{``, `null`, `[]`, `{}`, `{"resource":""}`, `{"resource":"x","authorization_servers":"x"}`, `{"resource":`} {
		if _, err := DecodeResourceMetadata([]byte(bad)); !errors.Is(err, ErrInvalidMetadata) {
			t.Errorf("Decode(%q): err = %v", bad, err)
		}
	}
}

// TestOauthtestDiscovery walks the MCP discovery against oauthtest: a 401
// from the protected resource, its challenge, the resource metadata, then
// the authorization server metadata.
func TestOauthtestDiscovery(t *testing.T) {
	for _, path := range []string{"", "/tenant/a"} {
		t.Run("issuer path "+path, func(t *testing.T) {
			s := oauthtest.NewServer(oauthtest.Config{IssuerPath: path})
			defer s.Close()
			c := testClient()
			ctx := context.Background()

			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.ResourceEndpoint(), nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d", resp.StatusCode)
			}
			ch, ok := BearerChallenge(resp.Header)
			if !ok || ch.ResourceMetadata() != s.ResourceMetadataURL() {
				t.Fatalf("challenge %#v, %v", ch, ok)
			}

			prm, err := ProtectedResource(ctx, c, s.ResourceEndpoint(), ch.ResourceMetadata())
			if err != nil {
				t.Fatal(err)
			}
			if prm.Resource != s.ResourceEndpoint() || !reflect.DeepEqual(prm.AuthorizationServers, []string{s.Issuer()}) {
				t.Errorf("resource metadata %+v", prm)
			}
			// The same without the hint, through the path-inserted URL.
			if _, err := ProtectedResource(ctx, c, s.ResourceEndpoint(), ""); err != nil {
				t.Errorf("without the hint: %v", err)
			}

			m, err := AuthServer(ctx, c, prm.AuthorizationServers[0])
			if err != nil {
				t.Fatal(err)
			}
			if m.Issuer != s.Issuer() || m.AuthorizationEndpoint != s.AuthorizationEndpoint() || m.TokenEndpoint != s.TokenEndpoint() ||
				m.RegistrationEndpoint != s.RegistrationEndpoint() || m.RevocationEndpoint != s.RevocationEndpoint() ||
				!m.SupportsS256() || !m.AuthorizationResponseIssParameterSupported {
				t.Errorf("metadata %+v", m)
			}
			if n := s.Count("metadata"); n != 1 {
				t.Errorf("%d metadata requests, want 1 (the first URL)", n)
			}
		})
	}
}

// AuthorizationServer skips empty entries: a document listing "" first
// still names the server after it, and one listing only "" names none.
func TestResourceMetadataAuthorizationServerSkipsEmptyEntries(t *testing.T) {
	for _, c := range []struct {
		list []string
		want string
	}{
		{nil, ""},
		{[]string{""}, ""},
		{[]string{"", "https://as.example.com"}, "https://as.example.com"},
		{[]string{"https://a.example.com", "https://b.example.com"}, "https://a.example.com"},
	} {
		m := &ResourceMetadata{AuthorizationServers: c.list}
		if got := m.AuthorizationServer(); got != c.want {
			t.Errorf("AuthorizationServers %q: AuthorizationServer() = %q, want %q", c.list, got, c.want)
		}
	}
}
