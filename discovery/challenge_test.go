package discovery

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParseWWWAuthenticate(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		want    []Challenge
		wantErr bool
	}{
		{
			name:    "several challenges in one header",
			headers: []string{`Basic realm="x", Bearer error="invalid_token", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`},
			want: []Challenge{
				{Scheme: "Basic", Params: map[string]string{"realm": "x"}},
				{Scheme: "Bearer", Params: map[string]string{"error": "invalid_token", "resource_metadata": "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"}},
			},
		},
		{
			name:    "several headers",
			headers: []string{`Basic realm="a"`, `Bearer scope="read write"`, `Negotiate`},
			want: []Challenge{
				{Scheme: "Basic", Params: map[string]string{"realm": "a"}},
				{Scheme: "Bearer", Params: map[string]string{"scope": "read write"}},
				{Scheme: "Negotiate"},
			},
		},
		{
			name:    "escapes and commas inside quotes",
			headers: []string{`Bearer realm="a \"quoted\", realm", error_description="x\\y, z", error=invalid_token`},
			want: []Challenge{
				{Scheme: "Bearer", Params: map[string]string{"realm": `a "quoted", realm`, "error_description": `x\y, z`, "error": "invalid_token"}},
			},
		},
		{
			name:    "token68",
			headers: []string{`Negotiate abc==, NTLM, Basic realm="r"`},
			want: []Challenge{
				{Scheme: "Negotiate", Token68: "abc=="},
				{Scheme: "NTLM"},
				{Scheme: "Basic", Params: map[string]string{"realm": "r"}},
			},
		},
		{
			name:    "token68 with one padding character and slashes",
			headers: []string{`Negotiate YW/+Jj=, Basic realm=r`},
			want: []Challenge{
				{Scheme: "Negotiate", Token68: "YW/+Jj="},
				{Scheme: "Basic", Params: map[string]string{"realm": "r"}},
			},
		},
		{
			name:    "every token and token68 character",
			headers: []string{"aAzZ09!#$%&'*+-.^_`|~ N!#$%&'*+-.^_`|~Z=v, Negotiate -._~+/aAzZ09=="},
			want: []Challenge{
				{Scheme: "aAzZ09!#$%&'*+-.^_`|~", Params: map[string]string{"n!#$%&'*+-.^_`|~z": "v"}},
				{Scheme: "Negotiate", Token68: "-._~+/aAzZ09=="},
			},
		},
		{
			// name= at the end or before a comma is a token68 with one
			// "=" of padding if a token68 may have name's characters,
			// and an empty parameter if not, or if a space comes before
			// "=", or if another parameter follows.
			name:    "token68 or empty parameter",
			headers: []string{`Negotiate abc=, Bearer !x=, Basic x!=`, `Bearer a =, Basic abc=, realm="r"`},
			want: []Challenge{
				{Scheme: "Negotiate", Token68: "abc="},
				{Scheme: "Bearer", Params: map[string]string{"!x": ""}},
				{Scheme: "Basic", Params: map[string]string{"x!": ""}},
				{Scheme: "Bearer", Params: map[string]string{"a": ""}},
				{Scheme: "Basic", Params: map[string]string{"abc": "", "realm": "r"}},
			},
		},
		{
			name:    "odd spacing",
			headers: []string{"  ,, Bearer   realm = \"x\" ,\terror\t=\tinvalid_token  ,,  ,Basic  realm=\"y\"  ,  "},
			want: []Challenge{
				{Scheme: "Bearer", Params: map[string]string{"realm": "x", "error": "invalid_token"}},
				{Scheme: "Basic", Params: map[string]string{"realm": "y"}},
			},
		},
		{
			name:    "case-insensitive names",
			headers: []string{`bEaReR Realm="x", RESOURCE_METADATA="https://a.example/m", Scope="s"`},
			want: []Challenge{
				{Scheme: "bEaReR", Params: map[string]string{"realm": "x", "resource_metadata": "https://a.example/m", "scope": "s"}},
			},
		},
		{
			name:    "empty values",
			headers: []string{`Bearer realm="", error=, scope="", error_description=`},
			want: []Challenge{
				{Scheme: "Bearer", Params: map[string]string{"realm": "", "error": "", "scope": "", "error_description": ""}},
			},
		},
		{
			name:    "unquoted URL value",
			headers: []string{`Bearer resource_metadata=https://mcp.example.com/.well-known/oauth-protected-resource, scope=read`},
			want: []Challenge{
				{Scheme: "Bearer", Params: map[string]string{"resource_metadata": "https://mcp.example.com/.well-known/oauth-protected-resource", "scope": "read"}},
			},
		},
		{
			name:    "empty header",
			headers: []string{"", " , ,"},
			want:    nil,
		},
		{
			name:    "garbage before a good challenge",
			headers: []string{`"junk", =x, Bearer error="invalid_token"`},
			want: []Challenge{
				{Scheme: "Bearer", Params: map[string]string{"error": "invalid_token"}},
			},
			wantErr: true,
		},
		{
			name:    "unterminated quoted string drops that parameter",
			headers: []string{`Basic realm="x"`, `Bearer error="invalid_token", resource_metadata="https://evil.exa`},
			want: []Challenge{
				{Scheme: "Basic", Params: map[string]string{"realm": "x"}},
				{Scheme: "Bearer", Params: map[string]string{"error": "invalid_token"}},
			},
			wantErr: true,
		},
		{
			name:    "control character drops that parameter",
			headers: []string{"Bearer error=\"bad\x1b[31m\", scope=\"s\""},
			want: []Challenge{
				{Scheme: "Bearer", Params: map[string]string{"scope": "s"}},
			},
			wantErr: true,
		},
		{
			name:    "repeated parameter keeps the first",
			headers: []string{`Bearer error="a", ERROR="b"`},
			want: []Challenge{
				{Scheme: "Bearer", Params: map[string]string{"error": "a"}},
			},
			wantErr: true,
		},
		{
			name:    "missing comma between parameters",
			headers: []string{`Bearer realm="x" error="y", Basic`},
			want: []Challenge{
				{Scheme: "Bearer", Params: map[string]string{"realm": "x"}},
				{Scheme: "Basic"},
			},
			wantErr: true,
		},
		{
			name:    "scheme glued to a parameter",
			headers: []string{`Bearer="x", Basic realm="r"`},
			want: []Challenge{
				{Scheme: "Basic", Params: map[string]string{"realm": "r"}},
			},
			wantErr: true,
		},
		{
			name:    "padding without a token68",
			headers: []string{`Negotiate ==`},
			want:    []Challenge{{Scheme: "Negotiate"}},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWWWAuthenticate(tt.headers...)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "discovery: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseWWWAuthenticateControlCharacterNotInError(t *testing.T) {
	_, err := ParseWWWAuthenticate("Bearer \x1b[2J")
	if err == nil {
		t.Fatal("no error")
	}
	if strings.ContainsRune(err.Error(), 0x1b) {
		t.Errorf("error carries a raw escape character: %q", err)
	}
}

func TestBearerChallenge(t *testing.T) {
	h := http.Header{}
	h.Add("Www-Authenticate", `Basic realm="api"`)
	h.Add("WWW-Authenticate", `bearer error="insufficient_scope", scope="files:read files:write", error_description="more, please", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource"`)
	c, ok := BearerChallenge(h)
	if !ok {
		t.Fatal("no Bearer challenge found")
	}
	if c.ErrorCode() != "insufficient_scope" || c.ErrorDescription() != "more, please" {
		t.Errorf("ErrorCode, ErrorDescription = %q, %q", c.ErrorCode(), c.ErrorDescription())
	}
	if got := c.Scope(); !reflect.DeepEqual(got, []string{"files:read", "files:write"}) {
		t.Errorf("Scope = %q", got)
	}
	if c.ResourceMetadata() != "https://mcp.example.com/.well-known/oauth-protected-resource" {
		t.Errorf("ResourceMetadata = %q", c.ResourceMetadata())
	}
	if c.Param("ERROR") != "insufficient_scope" {
		t.Errorf("Param is not case-insensitive")
	}

	if _, ok := BearerChallenge(http.Header{"Www-Authenticate": {`Basic realm="x"`}}); ok {
		t.Error("found a Bearer challenge where there is none")
	}
	if _, ok := BearerChallenge(nil); ok {
		t.Error("found a Bearer challenge in a nil header")
	}
	if c, ok := BearerChallenge(http.Header{"Www-Authenticate": {`Bearer`}}); !ok || c.Scope() != nil || c.ResourceMetadata() != "" {
		t.Errorf("bare Bearer: %#v, %v", c, ok)
	}
}

func TestChallengeStringRoundTrip(t *testing.T) {
	for _, h := range []string{
		`Bearer error="invalid_token", realm="a \"b\", c\\d", resource_metadata="https://x.example/m"`,
		`Negotiate abc=`,
		`Negotiate a/b+c==`,
		`Basic`,
		`Bearer scope=""`,
	} {
		cs, err := ParseWWWAuthenticate(h)
		if err != nil || len(cs) != 1 {
			t.Fatalf("%q: %v, %v", h, cs, err)
		}
		again, err := ParseWWWAuthenticate(cs[0].String())
		if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0], cs[0]) {
			t.Errorf("%q: String %q parses to %#v, %v; want %#v", h, cs[0].String(), again, err, cs[0])
		}
	}
	if got := (Challenge{Scheme: "Bearer", Params: map[string]string{"scope": "a", "error": "b"}}).String(); got != `Bearer error="b", scope="a"` {
		t.Errorf("String = %q", got)
	}
}
