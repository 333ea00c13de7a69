package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// asDoc returns a metadata document for issuer with S256.
func asDoc(issuer string) string {
	return fmt.Sprintf(`{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"code_challenge_methods_supported":["S256"],"response_types_supported":["code"],"x_extra":{"a":1}}`,
		issuer, issuer+"/authorize", issuer+"/token")
}

func TestMetadataURLs(t *testing.T) {
	tests := []struct {
		issuer string
		want   []string
	}{
		{"https://auth.example.com", []string{
			"https://auth.example.com/.well-known/oauth-authorization-server",
			"https://auth.example.com/.well-known/openid-configuration",
		}},
		{"https://auth.example.com/", []string{
			"https://auth.example.com/.well-known/oauth-authorization-server",
			"https://auth.example.com/.well-known/openid-configuration",
		}},
		{"https://auth.example.com/tenant1", []string{
			"https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
			"https://auth.example.com/.well-known/openid-configuration/tenant1",
			"https://auth.example.com/tenant1/.well-known/openid-configuration",
		}},
		{"https://auth.example.com/realms/a%20b/", []string{
			"https://auth.example.com/.well-known/oauth-authorization-server/realms/a%20b",
			"https://auth.example.com/.well-known/openid-configuration/realms/a%20b",
			"https://auth.example.com/realms/a%20b/.well-known/openid-configuration",
		}},
		{"http://127.0.0.1:9000/t", []string{
			"http://127.0.0.1:9000/.well-known/oauth-authorization-server/t",
			"http://127.0.0.1:9000/.well-known/openid-configuration/t",
			"http://127.0.0.1:9000/t/.well-known/openid-configuration",
		}},
	}
	for _, tt := range tests {
		got, err := MetadataURLs(tt.issuer)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("MetadataURLs(%q) = %q, %v\nwant %q", tt.issuer, got, err, tt.want)
		}
	}
	for _, bad := range []string{"auth.example.com", "https://auth.example.com?x=1", "https://auth.example.com#f", "http://auth.example.com", "ftp://auth.example.com", "https://u:p@auth.example.com"} {
		if _, err := MetadataURLs(bad); err == nil {
			t.Errorf("MetadataURLs(%q): no error", bad)
		}
	}
}

func TestAuthServerURLOrderWithPath(t *testing.T) {
	for _, suffix := range []string{"/tenant1", "/tenant1/"} {
		d := newDocServer(t)
		_, err := AuthServer(context.Background(), testClient(), d.URL+suffix)
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("%s: err = %v, want *NotFoundError", suffix, err)
		}
		want := []string{
			"/.well-known/oauth-authorization-server/tenant1",
			"/.well-known/openid-configuration/tenant1",
			"/tenant1/.well-known/openid-configuration",
		}
		if got := d.requested(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: requested %q, want %q", suffix, got, want)
		}
		for _, p := range want {
			if !strings.Contains(err.Error(), d.URL+p+": HTTP 404") {
				t.Errorf("error does not name %s: %v", p, err)
			}
		}
		if len(nf.Tried) != 3 || nf.Tried[0].Status != 404 {
			t.Errorf("Tried = %+v", nf.Tried)
		}
	}
}

func TestAuthServerURLOrderWithoutPath(t *testing.T) {
	for _, suffix := range []string{"", "/"} {
		d := newDocServer(t)
		_, err := AuthServer(context.Background(), testClient(), d.URL+suffix)
		if err == nil {
			t.Fatal("no error")
		}
		want := []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"}
		if got := d.requested(); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: requested %q, want %q", suffix, got, want)
		}
	}
}

func TestAuthServerIssuerMismatchTriesNext(t *testing.T) {
	d := newDocServer(t)
	issuer := d.URL + "/tenant1"
	d.json("/.well-known/oauth-authorization-server/tenant1", asDoc("https://evil.example.com"))
	d.json("/.well-known/openid-configuration/tenant1", asDoc(issuer))
	m, err := AuthServer(context.Background(), testClient(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	if m.Issuer != issuer || m.TokenEndpoint != issuer+"/token" {
		t.Errorf("got %+v", m)
	}
	if got := d.requested(); len(got) != 2 {
		t.Errorf("requested %q, want the first two URLs", got)
	}
}

func TestAuthServerIssuerMismatchAllFail(t *testing.T) {
	d := newDocServer(t)
	issuer := d.URL + "/tenant1"
	d.json("/.well-known/oauth-authorization-server/tenant1", asDoc("https://evil.example.com"))
	d.json("/.well-known/openid-configuration/tenant1", asDoc(d.URL)) // the root issuer, not ours
	d.json("/tenant1/.well-known/openid-configuration", asDoc(issuer+"/other"))
	_, err := AuthServer(context.Background(), testClient(), issuer)
	if !errors.Is(err, ErrIssuerMismatch) {
		t.Fatalf("err = %v, want ErrIssuerMismatch", err)
	}
	var nf *NotFoundError
	if !errors.As(err, &nf) || len(nf.Tried) != 3 {
		t.Fatalf("err = %#v", err)
	}
	msg := err.Error()
	for _, u := range []string{
		d.URL + "/.well-known/oauth-authorization-server/tenant1",
		d.URL + "/.well-known/openid-configuration/tenant1",
		d.URL + "/tenant1/.well-known/openid-configuration",
		`"https://evil.example.com"`,
		issuer,
	} {
		if !strings.Contains(msg, u) {
			t.Errorf("error does not name %s:\n%s", u, msg)
		}
	}
	if !strings.HasPrefix(msg, "discovery: ") {
		t.Errorf("no prefix: %s", msg)
	}
}

func TestAuthServerOIDCOnly(t *testing.T) {
	// Like Ory Hydra: no RFC 8414 document, only OpenID discovery.
	d := newDocServer(t)
	d.json("/.well-known/openid-configuration", asDoc(d.URL+"/"))
	m, err := AuthServer(context.Background(), testClient(), d.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if m.Issuer != d.URL+"/" {
		t.Errorf("Issuer = %q", m.Issuer)
	}
	want := []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"}
	if got := d.requested(); !reflect.DeepEqual(got, want) {
		t.Errorf("requested %q", got)
	}
}

func TestAuthServerNoS256(t *testing.T) {
	// The error says which of the two the server got wrong: it lists no
	// methods, or lists methods without S256.
	for name, tt := range map[string]struct{ methods, says string }{
		"absent": {``, "lists no code_challenge_methods_supported"},
		"empty":  {`,"code_challenge_methods_supported":[]`, "lists no code_challenge_methods_supported"},
		"plain":  {`,"code_challenge_methods_supported":["plain","s256"]`, "lists code_challenge_methods_supported without S256"},
	} {
		methods := tt.methods
		t.Run(name, func(t *testing.T) {
			d := newDocServer(t)
			d.json("/.well-known/oauth-authorization-server", fmt.Sprintf(`{"issuer":%q,"token_endpoint":%q%s}`, d.URL, d.URL+"/token", methods))
			d.json("/.well-known/openid-configuration", asDoc(d.URL))
			m, err := AuthServer(context.Background(), testClient(), d.URL)
			if !errors.Is(err, ErrNoS256) || m != nil {
				t.Fatalf("got %v, %v; want ErrNoS256", m, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", d.URL)) {
				t.Errorf("error does not name the issuer: %v", err)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say the server %s", err, tt.says)
			}
			if got := d.requested(); len(got) != 1 {
				t.Errorf("requested %q; the document with the right issuer is final", got)
			}
		})
	}
}

func TestAuthServerIssuerTrailingSlash(t *testing.T) {
	tests := []struct {
		asked, doc string
		ok         bool
	}{
		{"", "", true},
		{"/", "", true},
		{"", "/", true},
		{"", "//", false},
		{"/t", "/t/", true},
		{"/t/", "/t", true},
		{"/t", "/T", false},
		{"", "/t", false},
	}
	for _, tt := range tests {
		d := newDocServer(t)
		doc := asDoc(d.URL + tt.doc)
		for _, u := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/t", "/.well-known/openid-configuration/t", "/t/.well-known/openid-configuration"} {
			d.json(u, doc)
		}
		m, err := AuthServer(context.Background(), testClient(), d.URL+tt.asked)
		if tt.ok {
			if err != nil {
				t.Errorf("asked %q, doc %q: %v", tt.asked, tt.doc, err)
			} else if m.Issuer != d.URL+tt.doc {
				t.Errorf("Issuer = %q, want the document's own %q", m.Issuer, d.URL+tt.doc)
			}
		} else if !errors.Is(err, ErrIssuerMismatch) {
			t.Errorf("asked %q, doc %q: err = %v, want ErrIssuerMismatch", tt.asked, tt.doc, err)
		}
	}
}

func TestAuthServerInsecureIssuerRefused(t *testing.T) {
	for _, issuer := range []string{"http://auth.example.com", "http://10.0.0.1/t", "http://[fe80::1]"} {
		_, err := AuthServer(context.Background(), testClient(), issuer)
		if !errors.Is(err, ErrInsecureURL) {
			t.Errorf("%s: err = %v, want ErrInsecureURL", issuer, err)
		}
	}
	for _, issuer := range []string{"http://localhost:1", "http://127.0.0.2:1", "http://[::1]:1", "http://LOCALHOST:1"} {
		_, err := AuthServer(context.Background(), testClient(), issuer)
		if errors.Is(err, ErrInsecureURL) {
			t.Errorf("%s: loopback refused: %v", issuer, err)
		}
	}
}

func TestAuthServerInsecureEndpointNotUsed(t *testing.T) {
	d := newDocServer(t)
	d.json("/.well-known/oauth-authorization-server", fmt.Sprintf(`{"issuer":%q,"token_endpoint":"http://as.example.com/token","code_challenge_methods_supported":["S256"]}`, d.URL))
	_, err := AuthServer(context.Background(), testClient(), d.URL)
	if !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), "token_endpoint") {
		t.Errorf("err = %v", err)
	}
}

func TestAuthServerRedirects(t *testing.T) {
	other := newDocServer(t)
	other.json("/.well-known/oauth-authorization-server", asDoc(other.URL))

	d := newDocServer(t)
	d.handle("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/.well-known/oauth-authorization-server", http.StatusFound)
	})
	d.handle("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/moved/openid-configuration", http.StatusMovedPermanently)
	})
	d.json("/moved/openid-configuration", asDoc(d.URL))

	m, err := AuthServer(context.Background(), testClient(), d.URL)
	if err != nil {
		t.Fatalf("same-origin redirect not followed: %v", err)
	}
	if m.Issuer != d.URL {
		t.Errorf("Issuer = %q", m.Issuer)
	}
	if got := other.requested(); len(got) != 0 {
		t.Errorf("cross-origin redirect followed: %q", got)
	}

	// Only the cross-origin redirect: the error says so.
	d2 := newDocServer(t)
	d2.handle("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/.well-known/oauth-authorization-server", http.StatusTemporaryRedirect)
	})
	_, err = AuthServer(context.Background(), testClient(), d2.URL)
	if !errors.Is(err, ErrCrossOriginRedirect) || !strings.Contains(err.Error(), "another origin") {
		t.Errorf("err = %v, want ErrCrossOriginRedirect", err)
	}

	// A redirect loop within the origin ends.
	d3 := newDocServer(t)
	d3.handle("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/.well-known/oauth-authorization-server", http.StatusFound)
	})
	if _, err = AuthServer(context.Background(), testClient(), d3.URL); err == nil {
		t.Error("redirect loop: no error")
	}
	if n := len(d3.requested()); n > 2+maxRedirects+1 {
		t.Errorf("%d requests for a redirect loop", n)
	}
}

func TestAuthServerClientCheckRedirectStillApplies(t *testing.T) {
	d := newDocServer(t)
	d.handle("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	d.json("/elsewhere", asDoc(d.URL))
	c := testClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return errors.New("no redirects here") }
	if _, err := AuthServer(context.Background(), c, d.URL); err == nil || !strings.Contains(err.Error(), "no redirects here") {
		t.Errorf("err = %v", err)
	}
}

func TestAuthServerRequestHeadersNoCookies(t *testing.T) {
	d := newDocServer(t)
	var accept, cookie string
	d.handle("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		accept, cookie = r.Header.Get("Accept"), r.Header.Get("Cookie")
		http.SetCookie(w, &http.Cookie{Name: "tracker", Value: "1"})
		_, _ = w.Write([]byte(asDoc(d.URL)))
	})
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(d.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: "secret"}})
	c := testClient()
	c.Jar = jar
	if _, err := AuthServer(context.Background(), c, d.URL); err != nil {
		t.Fatal(err)
	}
	if accept != "application/json" {
		t.Errorf("Accept = %q", accept)
	}
	if cookie != "" {
		t.Errorf("cookies sent: %q", cookie)
	}
	if len(jar.Cookies(u)) != 1 {
		t.Errorf("jar changed: %v", jar.Cookies(u))
	}
	if c.CheckRedirect != nil {
		t.Error("the caller's client was modified")
	}
}

func TestAuthServerBadBodies(t *testing.T) {
	d := newDocServer(t)
	d.handle("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		big := `{"issuer":"` + strings.Repeat("a", MaxBodySize) + `"}`
		_, _ = w.Write([]byte(big))
	})
	d.handle("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>secret-page-content</html>"))
	})
	_, err := AuthServer(context.Background(), testClient(), d.URL)
	if !errors.Is(err, ErrInvalidMetadata) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "larger than") || !strings.Contains(msg, "not a JSON object") {
		t.Errorf("error does not explain: %s", msg)
	}
	if strings.Contains(msg, "secret-page-content") || strings.Contains(msg, "aaaa") {
		t.Errorf("error quotes the body: %s", msg)
	}

	d2 := newDocServer(t)
	d2.json("/.well-known/oauth-authorization-server", `{"issuer":"x","scopes_supported":"a b"}`)
	d2.json("/.well-known/openid-configuration", `{"token_endpoint":"https://x"}`)
	_, err = AuthServer(context.Background(), testClient(), d2.URL)
	if err == nil || !strings.Contains(err.Error(), `"scopes_supported"`) || !strings.Contains(err.Error(), "no issuer") {
		t.Errorf("err = %v", err)
	}
}

// A document of MaxBodySize bytes is read; one byte more is refused.
func TestAuthServerBodySizeLimit(t *testing.T) {
	for _, size := range []int{MaxBodySize, MaxBodySize + 1} {
		d := newDocServer(t)
		doc := asDoc(d.URL)
		doc = doc[:len(doc)-1] + `,"x_pad":"` + strings.Repeat("p", size-len(doc)-len(`,"x_pad":""`)) + `"}`
		if len(doc) != size {
			t.Fatalf("document of %d bytes; want %d", len(doc), size)
		}
		d.json("/.well-known/oauth-authorization-server", doc)
		m, err := AuthServer(context.Background(), testClient(), d.URL)
		if size <= MaxBodySize && err != nil {
			t.Errorf("a %d-byte document: %v; want it read", size, err)
		}
		if size > MaxBodySize && (m != nil || !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), "larger than")) {
			t.Errorf("a %d-byte document: %v, %v; want it refused as too large", size, m, err)
		}
	}
}

func TestAuthServerTransientStatus(t *testing.T) {
	d := newDocServer(t)
	d.handle("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	_, err := AuthServer(context.Background(), testClient(), d.URL)
	var fe *FetchError
	if !errors.As(err, &fe) || fe.Status != 503 || !fe.Temporary() {
		t.Fatalf("err = %v (%+v)", err, fe)
	}
	var nf *NotFoundError
	if errors.As(err, &nf) && nf.Tried[1].Temporary() {
		t.Error("a 404 is not temporary")
	}
	// 408, 429 and every 5xx may pass; other statuses will not.
	for status, want := range map[int]bool{408: true, 429: true, 500: true, 599: true, 400: false, 404: false, 499: false} {
		d := newDocServer(t)
		d.handle("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
		})
		_, err := AuthServer(context.Background(), testClient(), d.URL)
		if !errors.As(err, &nf) || nf.Tried[0].Status != status || nf.Tried[0].Temporary() != want {
			t.Errorf("HTTP %d: %v; want temporary %v", status, err, want)
		}
	}
}

// Same-origin redirects are followed up to 5 in a row; the 6th is refused.
func TestAuthServerRedirectLimit(t *testing.T) {
	for _, n := range []int{maxRedirects, maxRedirects + 1} {
		d := newDocServer(t)
		// The metadata URL redirects to /hop1, each /hop<i> to the next,
		// and /hop<n> holds the document: n redirects.
		for i := 1; i < n; i++ {
			d.handle(fmt.Sprintf("/hop%d", i), func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, fmt.Sprintf("/hop%d", i+1), http.StatusFound)
			})
		}
		d.handle("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/hop1", http.StatusFound)
		})
		d.json(fmt.Sprintf("/hop%d", n), asDoc(d.URL))
		m, err := AuthServer(context.Background(), testClient(), d.URL)
		switch {
		case n <= maxRedirects && err != nil:
			t.Errorf("%d redirects: %v; want them followed", n, err)
		case n > maxRedirects && (m != nil || err == nil || !strings.Contains(err.Error(), "more than 5 redirects")):
			t.Errorf("%d redirects: %v, %v; want them refused", n, m, err)
		}
	}
}

// A NotFoundError names what was looked for, each URL tried with its
// reason, separated by "; ", and the fix, leaving out what it lacks.
func TestNotFoundErrorMessage(t *testing.T) {
	a := &FetchError{URL: "https://a.example/x", Status: 404, Problem: "HTTP 404 Not Found"}
	b := &FetchError{URL: "https://a.example/y", Problem: "request failed", Err: errors.New("connection refused")}
	for _, tt := range []struct {
		e    *NotFoundError
		want string
	}{
		{&NotFoundError{What: "metadata", Tried: []*FetchError{a, b}, Fix: "check the URL"},
			"discovery: no usable metadata; tried https://a.example/x: HTTP 404 Not Found; https://a.example/y: request failed: connection refused; check the URL"},
		{&NotFoundError{What: "metadata", Tried: []*FetchError{a}},
			"discovery: no usable metadata; tried https://a.example/x: HTTP 404 Not Found"},
		{&NotFoundError{What: "metadata", Fix: "check the URL"},
			"discovery: no usable metadata; check the URL"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q\nwant      %q", got, tt.want)
		}
	}
}

func TestAuthServerContextCanceled(t *testing.T) {
	d := newDocServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	d.handle("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	})
	_, err := AuthServer(ctx, testClient(), d.URL)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if got := d.requested(); len(got) != 1 {
		t.Errorf("went on after cancel: %q", got)
	}
}

func TestDecodeAuthServerMetadata(t *testing.T) {
	doc := `{"issuer":"https://as.example.com","authorization_endpoint":"https://as.example.com/a","token_endpoint":"https://as.example.com/t",
	"registration_endpoint":"https://as.example.com/r","revocation_endpoint":"https://as.example.com/v","device_authorization_endpoint":"https://as.example.com/d",
	"introspection_endpoint":"https://as.example.com/i","userinfo_endpoint":"https://as.example.com/u","jwks_uri":"https://as.example.com/j",
	"scopes_supported":["openid","offline_access"],"response_types_supported":["code"],"response_modes_supported":["query"],
	"grant_types_supported":["authorization_code","refresh_token"],"token_endpoint_auth_methods_supported":["none"],
	"code_challenge_methods_supported":["S256"],"authorization_response_iss_parameter_supported":true,
	"client_id_metadata_document_supported":true,"unknown":{"nested":[1,2]}}`
	m, err := DecodeAuthServerMetadata([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := AuthServerMetadata{
		Issuer: "https://as.example.com", AuthorizationEndpoint: "https://as.example.com/a", TokenEndpoint: "https://as.example.com/t",
		RegistrationEndpoint: "https://as.example.com/r", RevocationEndpoint: "https://as.example.com/v", DeviceAuthorizationEndpoint: "https://as.example.com/d",
		IntrospectionEndpoint: "https://as.example.com/i", UserinfoEndpoint: "https://as.example.com/u", JWKSURI: "https://as.example.com/j",
		ScopesSupported: []string{"openid", "offline_access"}, ResponseTypesSupported: []string{"code"}, ResponseModesSupported: []string{"query"},
		GrantTypesSupported: []string{"authorization_code", "refresh_token"}, TokenEndpointAuthMethodsSupported: []string{"none"},
		CodeChallengeMethodsSupported: []string{"S256"}, AuthorizationResponseIssParameterSupported: true, ClientIDMetadataDocumentSupported: true,
		Raw: []byte(doc),
	}
	if !reflect.DeepEqual(*m, want) {
		t.Errorf("got  %+v\nwant %+v", *m, want)
	}
	if !m.SupportsS256() {
		t.Error("SupportsS256 = false")
	}
	again, err := DecodeAuthServerMetadata(m.Raw)
	if err != nil || !reflect.DeepEqual(again, m) {
		t.Errorf("Decode(Raw) = %+v, %v", again, err)
	}
	for _, bad := range []string{``, `null`, `[]`, `"x"`, `{}`, `{"issuer":1}`, `{"issuer":"x"`, `{"issuer":"x","code_challenge_methods_supported":"S256"}`} {
		if _, err := DecodeAuthServerMetadata([]byte(bad)); !errors.Is(err, ErrInvalidMetadata) {
			t.Errorf("Decode(%q): err = %v", bad, err)
		}
	}
	var nilm *AuthServerMetadata
	if nilm.SupportsS256() {
		t.Error("nil SupportsS256 = true")
	}
}

// A server that cannot be reached (no response at all) may be back later:
// the FetchError says so. A refused redirect or a canceled context is not
// worth a retry.
func TestAuthServerUnreachableIsTemporary(t *testing.T) {
	d := newDocServer(t)
	d.Close() // the port no longer answers
	_, err := AuthServer(context.Background(), testClient(), d.URL)
	var nf *NotFoundError
	if !errors.As(err, &nf) || len(nf.Tried) == 0 {
		t.Fatalf("err = %v; want a NotFoundError", err)
	}
	for _, fe := range nf.Tried {
		if fe.Status != 0 || fe.Err == nil || !fe.Temporary() {
			t.Errorf("%s: status %d, err %v, temporary %v; want a temporary network error", fe.URL, fe.Status, fe.Err, fe.Temporary())
		}
		if n := strings.Count(fe.Error(), fe.URL); n != 1 {
			t.Errorf("%q names the URL %d times; want once", fe, n)
		}
	}

	other := newDocServer(t)
	d2 := newDocServer(t)
	d2.handle("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/.well-known/oauth-authorization-server", http.StatusFound)
	})
	_, err = AuthServer(context.Background(), testClient(), d2.URL)
	if !errors.As(err, &nf) || nf.Tried[0].Status != 0 || nf.Tried[0].Temporary() {
		t.Errorf("a refused cross-origin redirect: %v; want a FetchError that is not temporary", err)
	}
}

// A body cut off by the server is a failure to read it, with the network
// error kept, not an abandoned request; a body cut off because the caller
// gave up is abandoned, and says so.
func TestAuthServerBodyCutOff(t *testing.T) {
	cut := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write([]byte(`{"issuer":`))
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}
	d := newDocServer(t)
	d.handle("/.well-known/oauth-authorization-server", cut)
	d.handle("/.well-known/openid-configuration", cut)
	_, err := AuthServer(context.Background(), testClient(), d.URL)
	var nf *NotFoundError
	if !errors.As(err, &nf) || len(nf.Tried) != 2 {
		t.Fatalf("err = %v; want a NotFoundError for both URLs", err)
	}
	for _, fe := range nf.Tried {
		if fe.Status != http.StatusOK || fe.Problem != "reading the body failed" || fe.Err == nil || errors.Is(fe, context.Canceled) {
			t.Errorf("%s: %v; want a failure to read the body, with its cause", fe.URL, fe)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d2 := newDocServer(t)
	d2.handle("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":`))
		w.(http.Flusher).Flush()
		cancel()
		<-r.Context().Done()
	})
	_, err = AuthServer(ctx, testClient(), d2.URL)
	var fe *FetchError
	if !errors.As(err, &fe) || !errors.Is(err, context.Canceled) || fe.Problem != "request abandoned" || fe.Temporary() {
		t.Errorf("err = %v; want the request abandoned with context.Canceled", err)
	}
}

// An error quotes at most 64 bytes of a string the server chose: a
// 64-byte issuer whole, a longer one cut.
func TestAuthServerErrorCutsLongIssuer(t *testing.T) {
	base := "https://elsewhere.example.com/"
	for _, tt := range []struct{ issuer, quoted string }{
		{base + strings.Repeat("x", 64-len(base)), base + strings.Repeat("x", 64-len(base))},
		{base + strings.Repeat("x", 200), base + strings.Repeat("x", 64-len(base)) + "..."},
	} {
		d := newDocServer(t)
		d.json("/.well-known/oauth-authorization-server", asDoc(tt.issuer))
		_, err := AuthServer(context.Background(), testClient(), d.URL)
		if !errors.Is(err, ErrIssuerMismatch) {
			t.Fatalf("err = %v; want ErrIssuerMismatch", err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("issuer %q,", tt.quoted)) {
			t.Errorf("error %q does not quote the %d-byte issuer as %q", err, len(tt.issuer), tt.quoted)
		}
	}
}
