package discovery

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseWWWAuthenticate checks that the parser never panics, is
// deterministic, returns only challenges with a non-empty token scheme and
// lower-case token parameter names, never returns a value with a control
// character, and that every challenge survives a String round trip.
func FuzzParseWWWAuthenticate(f *testing.F) {
	for _, s := range []string{
		`Bearer`,
		`Basic realm="x", Bearer error="invalid_token", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource"`,
		`Bearer realm="a \"quoted\", realm", error_description="x\\y, z", error=invalid_token`,
		`Negotiate abc==, NTLM, Basic realm="r"`,
		`Negotiate YW/+Jj=, Basic realm=r`,
		"  ,, Bearer   realm = \"x\" ,\terror\t=\tinvalid_token  ,,  ,Basic  realm=\"y\"  ,  ",
		`bEaReR Realm="x", RESOURCE_METADATA="https://a.example/m", Scope="s"`,
		`Bearer realm="", error=, scope="", error_description=`,
		`Bearer resource_metadata=https://mcp.example.com/.well-known/oauth-protected-resource, scope=read`,
		`"junk", =x, Bearer error="invalid_token"`,
		`Bearer error="invalid_token", resource_metadata="https://evil.exa`,
		"Bearer error=\"bad\x1b[31m\", scope=\"s\"",
		`Bearer error="a", ERROR="b"`,
		`Bearer realm="x" error="y", Basic`,
		`Bearer="x", Basic realm="r"`,
		`Negotiate ==`,
		`Bearer error="insufficient_scope", scope="files:read files:write", error_description="more, please"`,
		`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
		`Bearer a=b, c="d\"`,
		"Bearer a=\"\\",
		"Bearer \xff=\"\xfe\"",
	} {
		f.Add(s, "")
	}
	f.Add(`Basic realm="a"`, `Bearer scope="s", resource_metadata="https://x.example/prm"`)

	f.Fuzz(func(t *testing.T, h1, h2 string) {
		got, err := ParseWWWAuthenticate(h1, h2)
		again, err2 := ParseWWWAuthenticate(h1, h2)
		if !reflect.DeepEqual(got, again) || (err == nil) != (err2 == nil) {
			t.Fatalf("not deterministic: %#v / %#v", got, again)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "discovery: ") {
			t.Fatalf("error without prefix: %v", err)
		}
		for _, c := range got {
			if c.Scheme == "" || strings.IndexFunc(c.Scheme, func(r rune) bool { return r > 0x7f || !isTchar(byte(r)) }) >= 0 {
				t.Fatalf("bad scheme %q", c.Scheme)
			}
			if c.Token68 != "" && c.Params != nil {
				t.Fatalf("both token68 and params: %#v", c)
			}
			for name, v := range c.Params {
				if name == "" || name != strings.ToLower(name) || strings.IndexFunc(name, func(r rune) bool { return r > 0x7f || !isTchar(byte(r)) }) >= 0 {
					t.Fatalf("bad parameter name %q", name)
				}
				for i := 0; i < len(v); i++ {
					if isCTL(v[i]) {
						t.Fatalf("control character in value %q", v)
					}
				}
			}
			rt, err := ParseWWWAuthenticate(c.String())
			if err != nil || len(rt) != 1 || !reflect.DeepEqual(rt[0], c) {
				t.Fatalf("round trip of %#v via %q gave %#v, %v", c, c.String(), rt, err)
			}
		}
		// Each header alone gives a prefix and a suffix of the whole.
		a, _ := ParseWWWAuthenticate(h1)
		b, _ := ParseWWWAuthenticate(h2)
		if len(a)+len(b) != len(got) || (len(got) > 0 && !reflect.DeepEqual(append(a, b...), got)) {
			t.Fatalf("headers parsed together differ from apart")
		}
	})
}

// FuzzDecodeAuthServerMetadata checks that decoding never panics, and that
// a decoded document decodes again from Raw to the same value.
func FuzzDecodeAuthServerMetadata(f *testing.F) {
	f.Add([]byte(asDoc("https://as.example.com")))
	f.Add([]byte(`{"issuer":"https://as.example.com","code_challenge_methods_supported":["S256"],"authorization_response_iss_parameter_supported":true}`))
	f.Add([]byte(`{"issuer":"x","scopes_supported":"a b"}`))
	f.Add([]byte(`{"issuer":1}`))
	f.Add([]byte(`  {"issuer":"\u0000","a":[{},[]]}  `))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"issuer":"x","issuer":"y"}`))
	f.Add([]byte("\xef\xbb\xbf{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeAuthServerMetadata(data)
		if err != nil {
			if m != nil || !errors.Is(err, ErrInvalidMetadata) {
				t.Fatalf("got %v with error %v", m, err)
			}
			return
		}
		if m.Issuer == "" {
			t.Fatal("decoded without issuer")
		}
		_ = m.SupportsS256()
		_ = insecureEndpoint(m)
		again, err := DecodeAuthServerMetadata(m.Raw)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("Decode(Raw) = %v, %v", again, err)
		}
	})
}

// FuzzDecodeResourceMetadata checks that decoding and matching never panic,
// and that a decoded document decodes again from Raw to the same value.
func FuzzDecodeResourceMetadata(f *testing.F) {
	f.Add([]byte(prmDoc("https://mcp.example.com/mcp")), "https://mcp.example.com/mcp")
	f.Add([]byte(prmDoc("https://mcp.example.com")), "https://mcp.example.com/mcp/")
	f.Add([]byte(`{"resource":"HTTPS://MCP.example.com:443/mcp#x","authorization_servers":[]}`), "https://mcp.example.com/mcp")
	f.Add([]byte(`{"resource":"x","authorization_servers":"x"}`), "http://[::1]:80/")
	f.Add([]byte(`{}`), "")
	f.Add([]byte(`{"resource":"https://a/%zz"}`), "https://a/%2F?q")
	f.Fuzz(func(t *testing.T, data []byte, resourceURL string) {
		m, err := DecodeResourceMetadata(data)
		if err != nil {
			if m != nil || !errors.Is(err, ErrInvalidMetadata) {
				t.Fatalf("got %v with error %v", m, err)
			}
			return
		}
		again, err := DecodeResourceMetadata(m.Raw)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("Decode(Raw) = %v, %v", again, err)
		}
		ru, err := canonicalURL(resourceURL, true)
		if err != nil {
			return
		}
		eq, cov := resourceEqual(m.Resource, ru), resourceCovers(m.Resource, ru)
		if eq && !cov {
			t.Fatalf("%q equals %q but does not cover it", m.Resource, ru)
		}
		if _, err := ResourceMetadataURLs(resourceURL); err != nil {
			t.Fatalf("ResourceMetadataURLs(%q): %v", resourceURL, err)
		}
		if s := ru.String(); s != mustCanonical(t, s) {
			t.Fatalf("canonical form of %q is not stable: %q", resourceURL, s)
		}
	})
}

func mustCanonical(t *testing.T, s string) string {
	c, err := CanonicalResource(s)
	if err != nil {
		t.Fatalf("canonical form %q does not parse: %v", s, err)
	}
	return c
}
