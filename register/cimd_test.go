package register_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/register"
)

const docURL = "https://mytool.example.com/oauth/client.json"

func TestCheckMetadataURL(t *testing.T) {
	for _, ok := range []string{
		docURL,
		"https://mytool.example.com/client",
		"https://mytool.example.com:8443/oauth/client.json",
		"https://mytool.example.com/a/b/",
	} {
		if err := register.CheckMetadataURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"",
		"http://mytool.example.com/client.json",
		"HTTPS://mytool.example.com/client.json",
		"https://mytool.example.com",
		"https://mytool.example.com/",
		"https://mytool.example.com/client.json#frag",
		"https://mytool.example.com/client.json#",
		"https://mytool.example.com/client.json?v=1",
		"https://user:pw@mytool.example.com/client.json",
		"https://user@mytool.example.com/client.json",
		"https://mytool.example.com/a/../client.json",
		"https://mytool.example.com/./client.json",
		"https://mytool.example.com/a/%2e%2e/client.json",
		"https:///client.json",
		"https:mytool.example.com/client.json",
		"/client.json",
		"https://mytool.example.com/%zz",
	} {
		err := register.CheckMetadataURL(bad)
		if !errors.Is(err, register.ErrInvalidMetadataURL) {
			t.Errorf("%q: got %v, want ErrInvalidMetadataURL", bad, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "register: ") {
			t.Errorf("%q: message %q", bad, err)
		}
	}
	if err := register.CheckMetadataURL("http://mytool.example.com/c"); !errors.Is(err, register.ErrInsecureURL) {
		t.Errorf("http: got %v, want ErrInsecureURL too", err)
	}
}

func TestMetadataDocument(t *testing.T) {
	doc, err := register.MetadataDocument(docURL, register.Request{
		ClientName:      "mytool",
		ClientURI:       "https://mytool.example.com",
		LogoURI:         "https://mytool.example.com/logo.png",
		SoftwareID:      "mytool",
		SoftwareVersion: "1.0",
		Scopes:          []string{"read"},
		Extra:           map[string]any{"tos_uri": "https://mytool.example.com/tos"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	want := map[string]any{
		"client_id":                  docURL,
		"client_name":                "mytool",
		"client_uri":                 "https://mytool.example.com",
		"logo_uri":                   "https://mytool.example.com/logo.png",
		"software_id":                "mytool",
		"software_version":           "1.0",
		"scope":                      "read",
		"token_endpoint_auth_method": "none",
		"application_type":           "native",
		"tos_uri":                    "https://mytool.example.com/tos",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if got := strs(m["redirect_uris"]); !slices.Equal(got, []string{register.DefaultRedirectURI}) {
		t.Errorf("redirect_uris = %v", got)
	}
	if got := strs(m["grant_types"]); !slices.Equal(got, []string{"authorization_code", "refresh_token"}) {
		t.Errorf("grant_types = %v", got)
	}
	if got := strs(m["response_types"]); !slices.Equal(got, []string{"code"}) {
		t.Errorf("response_types = %v", got)
	}
	for _, k := range []string{"client_secret", "client_secret_expires_at"} {
		if _, ok := m[k]; ok {
			t.Errorf("document has %s", k)
		}
	}
	if !strings.HasSuffix(string(doc), "}\n") {
		t.Error("document does not end with a newline")
	}
}

func TestMetadataDocumentRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  string
		req  register.Request
	}{
		{"bad URL", "http://x.example.com/c", register.Request{}},
		{"client_secret_basic", docURL, register.Request{TokenEndpointAuthMethod: "client_secret_basic"}},
		{"client_secret_post", docURL, register.Request{TokenEndpointAuthMethod: "client_secret_post"}},
		{"client_secret_jwt", docURL, register.Request{TokenEndpointAuthMethod: "client_secret_jwt"}},
		{"extra client_secret", docURL, register.Request{Extra: map[string]any{"client_secret": "x"}}},
		{"extra client_id", docURL, register.Request{Extra: map[string]any{"client_id": "https://other.example.com/c"}}},
		{"unencodable extra", docURL, register.Request{Extra: map[string]any{"f": func() {}}}},
	} {
		if doc, err := register.MetadataDocument(tc.url, tc.req); err == nil {
			t.Errorf("%s: no error; document %s", tc.name, doc)
		} else if !strings.HasPrefix(err.Error(), "register: ") {
			t.Errorf("%s: message %q", tc.name, err)
		}
	}
}

func TestClientIDMetadata(t *testing.T) {
	md := &discovery.AuthServerMetadata{Issuer: "https://as.example.com", ClientIDMetadataDocumentSupported: true}
	c, err := register.ClientIDMetadata(md, docURL)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != md.Issuer || c.ClientID != docURL || c.ClientSecret != "" || register.AuthMethod(c) != register.AuthNone {
		t.Fatalf("got %s", c)
	}
	if _, err := register.ClientIDMetadata(md, "https://x.example.com/"); !errors.Is(err, register.ErrInvalidMetadataURL) {
		t.Errorf("bad URL: got %v", err)
	}
	md.ClientIDMetadataDocumentSupported = false
	_, err = register.ClientIDMetadata(md, docURL)
	if !errors.Is(err, register.ErrNotSupported) || !strings.Contains(err.Error(), "client_id_metadata_document_supported") {
		t.Errorf("unsupported: got %v", err)
	}
	if _, err := register.ClientIDMetadata(nil, docURL); err == nil {
		t.Error("nil metadata: no error")
	}
}
