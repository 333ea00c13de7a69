package register_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/oautherr"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/register"
)

func TestDynamicPublicClientAgainstOAuthtest(t *testing.T) {
	srv, md := newAS(t, oauthtest.Config{})
	c, err := register.Dynamic(context.Background(), testClient(t), md, register.Request{ClientName: "test tool"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != srv.Issuer() || c.ClientID == "" || c.ClientSecret != "" {
		t.Fatalf("got %s, want a public client of %s", c, srv.Issuer())
	}
	if got := register.AuthMethod(c); got != register.AuthNone {
		t.Fatalf("AuthMethod = %q, want none", got)
	}
	if !c.ClientSecretExpiresAt.IsZero() {
		t.Fatalf("ClientSecretExpiresAt = %v, want zero", c.ClientSecretExpiresAt)
	}
	if n := srv.Count("register"); n != 1 {
		t.Fatalf("register requests = %d, want 1", n)
	}
	login(t, srv, c)
}

func TestDynamicConfidentialClientAgainstOAuthtest(t *testing.T) {
	for _, method := range []string{register.AuthClientSecretBasic, register.AuthClientSecretPost} {
		t.Run(method, func(t *testing.T) {
			srv, md := newAS(t, oauthtest.Config{})
			c, err := register.Dynamic(context.Background(), testClient(t), md, register.Request{TokenEndpointAuthMethod: method})
			if err != nil {
				t.Fatal(err)
			}
			if c.ClientSecret == "" || !c.ClientSecretExpiresAt.IsZero() {
				t.Fatalf("got %s, want a secret that never expires", c)
			}
			if got := register.AuthMethod(c); got != method {
				t.Fatalf("AuthMethod = %q, want %q", got, method)
			}
			// The secret is kept in its field, not in the metadata a store
			// may write in the clear.
			if strings.Contains(string(c.Metadata), c.ClientSecret) || strings.Contains(string(c.Metadata), "client_secret\"") {
				t.Fatalf("Metadata holds the secret: %s", c.Metadata)
			}
			if strings.Contains(c.String(), c.ClientSecret) {
				t.Fatal("String shows the secret")
			}
			login(t, srv, c)
		})
	}
}

// captured is what a fake registration endpoint saw.
type captured struct {
	method, contentType, accept, auth string
	body                              map[string]any
}

// capturingRegistrar answers every registration with 201 and a public
// client, and records the request.
func capturingRegistrar(t *testing.T) (*discovery.AuthServerMetadata, <-chan captured) {
	t.Helper()
	ch := make(chan captured, 1)
	md := fakeRegistrar(t, func(w http.ResponseWriter, r *http.Request) {
		c := captured{method: r.Method, contentType: r.Header.Get("Content-Type"), accept: r.Header.Get("Accept"), auth: r.Header.Get("Authorization")}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &c.body); err != nil {
			t.Errorf("request body is not JSON: %v", err)
		}
		ch <- c
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"client_id":"c1","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1/callback"]}`)
	})
	return md, ch
}

func strs(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestDynamicRequestBody(t *testing.T) {
	md, seen := capturingRegistrar(t)
	req := register.Request{
		ClientName:         "mytool",
		Scopes:             []string{"read", "offline_access"},
		SoftwareID:         "4NRB1-0XZABZI9E6-5SM3R",
		SoftwareVersion:    "1.2.3",
		ClientURI:          "https://mytool.example.com",
		Contacts:           []string{"ops@example.com"},
		Extra:              map[string]any{"tos_uri": "https://mytool.example.com/tos", "redirect_uris": "ignored"},
		InitialAccessToken: "iat-secret",
	}
	c, err := register.Dynamic(context.Background(), testClient(t), md, req)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID != "c1" || c.Issuer != md.Issuer {
		t.Fatalf("got %s", c)
	}
	got := <-seen
	if got.method != http.MethodPost || got.contentType != "application/json" || got.accept != "application/json" {
		t.Errorf("method %q, Content-Type %q, Accept %q", got.method, got.contentType, got.accept)
	}
	if got.auth != "Bearer iat-secret" {
		t.Errorf("Authorization = %q, want the initial access token", got.auth)
	}
	b := got.body
	checks := []struct {
		field string
		got   any
		want  any
	}{
		{"application_type", b["application_type"], "native"},
		{"token_endpoint_auth_method", b["token_endpoint_auth_method"], "none"},
		{"client_name", b["client_name"], "mytool"},
		{"scope", b["scope"], "read offline_access"},
		{"software_id", b["software_id"], "4NRB1-0XZABZI9E6-5SM3R"},
		{"software_version", b["software_version"], "1.2.3"},
		{"client_uri", b["client_uri"], "https://mytool.example.com"},
		{"tos_uri", b["tos_uri"], "https://mytool.example.com/tos"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
		}
	}
	if gts := strs(b["grant_types"]); !slices.Contains(gts, "refresh_token") || !slices.Contains(gts, "authorization_code") {
		t.Errorf("grant_types = %v, want authorization_code and refresh_token", gts)
	}
	if rts := strs(b["response_types"]); !slices.Equal(rts, []string{"code"}) {
		t.Errorf("response_types = %v, want [code]", rts)
	}
	if rs := strs(b["redirect_uris"]); !slices.Equal(rs, []string{register.DefaultRedirectURI}) {
		t.Errorf("redirect_uris = %v, want [%s]", rs, register.DefaultRedirectURI)
	}
	if cs := strs(b["contacts"]); !slices.Equal(cs, []string{"ops@example.com"}) {
		t.Errorf("contacts = %v", cs)
	}
	if _, ok := b["logo_uri"]; ok {
		t.Error("an empty logo_uri was sent")
	}
	for k := range b {
		if strings.Contains(k, "token") && k != "token_endpoint_auth_method" {
			t.Errorf("the body holds %q", k)
		}
	}
}

func TestDynamicRequestConfigured(t *testing.T) {
	md, seen := capturingRegistrar(t)
	req := register.Request{
		RedirectURIs:            []string{"http://127.0.0.1/cb", "http://[::1]/cb"},
		GrantTypes:              []string{"authorization_code"},
		TokenEndpointAuthMethod: register.AuthNone,
		ApplicationType:         "web",
	}
	if _, err := register.Dynamic(context.Background(), testClient(t), md, req); err != nil {
		t.Fatal(err)
	}
	b := (<-seen).body
	if rs := strs(b["redirect_uris"]); !slices.Equal(rs, req.RedirectURIs) {
		t.Errorf("redirect_uris = %v", rs)
	}
	if gts := strs(b["grant_types"]); !slices.Equal(gts, req.GrantTypes) {
		t.Errorf("grant_types = %v", gts)
	}
	if b["application_type"] != "web" {
		t.Errorf("application_type = %v", b["application_type"])
	}
	if _, ok := b["scope"]; ok {
		t.Error("scope sent without Scopes")
	}
}

func TestDynamicAuthMethodFromServerMetadata(t *testing.T) {
	for _, tc := range []struct {
		supported []string
		want      string
	}{
		{nil, "none"},
		{[]string{"client_secret_basic", "none"}, "none"},
		{[]string{"private_key_jwt", "client_secret_post"}, "client_secret_post"},
		{[]string{"client_secret_post", "client_secret_basic"}, "client_secret_basic"},
	} {
		md, seen := capturingRegistrar(t)
		md.TokenEndpointAuthMethodsSupported = tc.supported
		_, err := register.Dynamic(context.Background(), testClient(t), md, register.Request{})
		// The fake answers without a secret, so a client_secret_* method is
		// refused as a useless registration; the request is what matters.
		_ = err
		if got := (<-seen).body["token_endpoint_auth_method"]; got != tc.want {
			t.Errorf("supported %v: sent %v, want %s", tc.supported, got, tc.want)
		}
	}
}

func TestDynamicErrors(t *testing.T) {
	const marker = "BODY-MARKER-never-in-errors"
	respond := func(status int, ct, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if ct != "" {
				w.Header().Set("Content-Type", ct)
			}
			w.WriteHeader(status)
			io.WriteString(w, body)
		}
	}
	for _, tc := range []struct {
		name      string
		handler   http.HandlerFunc
		oauthCode string // want an *oautherr.Error with this code
		status    int    // else want an *register.Error with this status
		invalid   bool   // and wrapping ErrInvalidResponse
		temporary bool
		says      string // the message says this (what went wrong, what to do)
		neverSays []string
	}{
		{name: "400 invalid_redirect_uri",
			handler:   respond(400, "application/json", `{"error":"invalid_redirect_uri","error_description":"redirect URI rejected"}`),
			oauthCode: "invalid_redirect_uri"},
		{name: "400 invalid_client_metadata",
			handler:   respond(400, "application/json", `{"error":"invalid_client_metadata"}`),
			oauthCode: "invalid_client_metadata"},
		{name: "401 invalid_token",
			handler:   respond(401, "application/json", `{"error":"invalid_token"}`),
			oauthCode: "invalid_token"},
		{name: "500 HTML",
			handler: respond(500, "text/html", "<html><body>"+marker+"</body></html>"),
			status:  500, temporary: true, says: "unexpected HTTP status 500 with a text/html body; try again later"},
		{name: "503 without a Content-Type",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = nil // no sniffed type either
				w.WriteHeader(503)
				io.WriteString(w, marker)
			},
			status: 503, temporary: true, says: "unexpected HTTP status 503; try again later", neverSays: []string{"body"}},
		{name: "429 too many requests",
			handler: respond(429, "text/plain", marker),
			status:  429, temporary: true, says: "unexpected HTTP status 429 with a text/plain body; try again later"},
		{name: "400 JSON not an OAuth error",
			handler: respond(400, "application/json; charset=utf-8", `{"detail":"`+marker+`"}`),
			status:  400, says: "unexpected HTTP status 400", neverSays: []string{"body", "try again"}},
		{name: "403 plain",
			handler: respond(403, "text/plain", marker),
			status:  403, says: "initial access token (Request.InitialAccessToken)"},
		{name: "400 not an OAuth error",
			handler: respond(400, "application/json", `{"message":"`+marker+`"}`),
			status:  400},
		{name: "201 without client_id",
			handler: respond(201, "application/json", `{"client_secret":"`+marker+`"}`),
			status:  201, invalid: true},
		{name: "201 empty client_id",
			handler: respond(201, "application/json", `{"client_id":""}`),
			status:  201, invalid: true},
		{name: "201 client_id not a string",
			handler: respond(201, "application/json", `{"client_id":42}`),
			status:  201, invalid: true},
		{name: "201 not JSON",
			handler: respond(201, "application/json", marker),
			status:  201, invalid: true},
		{name: "201 client_secret and registration_access_token not strings",
			handler: respond(201, "application/json", `{"client_id":"c","client_secret":42,"registration_access_token":{"v":"`+marker+`"}}`),
			status:  201, invalid: true, says: "client_secret, registration_access_token is not a string"},
		{name: "201 JSON array",
			handler: respond(201, "application/json", `["`+marker+`"]`),
			status:  201, invalid: true},
		{name: "201 null",
			handler: respond(201, "application/json", `null`),
			status:  201, invalid: true},
		{name: "201 secret method without secret",
			handler: respond(201, "application/json", `{"client_id":"c","token_endpoint_auth_method":"client_secret_basic"}`),
			status:  201, invalid: true},
		{name: "201 bad client_secret_expires_at",
			handler: respond(201, "application/json", `{"client_id":"c","client_secret":"s","client_secret_expires_at":"`+marker+`"}`),
			status:  201, invalid: true},
		{name: "201 oversized",
			handler: respond(201, "application/json", `{"client_id":"c","pad":"`+strings.Repeat("x", register.MaxBodySize)+`"}`),
			status:  201, invalid: true},
		{name: "302 redirect",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			},
			status: 302, says: "redirected (not followed)"},
		{name: "300 multiple choices",
			handler: respond(300, "text/html", marker),
			status:  300, says: "redirected (not followed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := fakeRegistrar(t, tc.handler)
			c, err := register.Dynamic(context.Background(), testClient(t), md, register.Request{InitialAccessToken: "iat-secret"})
			if err == nil {
				t.Fatalf("got %s, want an error", c)
			}
			msg := err.Error()
			if strings.Contains(msg, marker) || strings.Contains(msg, "iat-secret") {
				t.Fatalf("error quotes the body or the token: %s", msg)
			}
			if tc.oauthCode != "" {
				var oe *oautherr.Error
				if !errors.As(err, &oe) || oe.Code != tc.oauthCode || oe.Endpoint != "registration" || oe.StatusCode == 0 {
					t.Fatalf("got %#v, want *oautherr.Error %s from the registration endpoint", err, tc.oauthCode)
				}
				return
			}
			var re *register.Error
			if !errors.As(err, &re) || re.Status != tc.status {
				t.Fatalf("got %v, want *register.Error with status %d", err, tc.status)
			}
			if !strings.HasPrefix(msg, "register: POST "+md.RegistrationEndpoint) {
				t.Errorf("message %q does not name the endpoint", msg)
			}
			if errors.Is(err, register.ErrInvalidResponse) != tc.invalid {
				t.Errorf("errors.Is(ErrInvalidResponse) = %v, want %v: %v", !tc.invalid, tc.invalid, err)
			}
			if re.Temporary() != tc.temporary {
				t.Errorf("Temporary() = %v, want %v", re.Temporary(), tc.temporary)
			}
			if !strings.Contains(msg, tc.says) {
				t.Errorf("message %q does not say %q", msg, tc.says)
			}
			for _, never := range tc.neverSays {
				if strings.Contains(msg, never) {
					t.Errorf("message %q says %q", msg, never)
				}
			}
		})
	}
}

// failingTransport fails the test if any request is sent.
type failingTransport struct{ t *testing.T }

func (f failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("request sent to %s", r.URL)
	return nil, errors.New("no requests expected")
}

func TestDynamicRefusesInsecureEndpoint(t *testing.T) {
	hc := &http.Client{Transport: failingTransport{t}}
	for _, ep := range []string{
		"http://as.example.com/register",
		"http://10.0.0.1/register",
		"ftp://as.example.com/register",
	} {
		md := &discovery.AuthServerMetadata{Issuer: "https://as.example.com", RegistrationEndpoint: ep}
		_, err := register.Dynamic(context.Background(), hc, md, register.Request{})
		if !errors.Is(err, register.ErrInsecureURL) || !strings.HasPrefix(err.Error(), "register: ") {
			t.Errorf("%s: got %v, want ErrInsecureURL", ep, err)
		}
	}
	for _, ep := range []string{"/register", "not a url", ""} {
		md := &discovery.AuthServerMetadata{Issuer: "https://as.example.com", RegistrationEndpoint: ep}
		if _, err := register.Dynamic(context.Background(), hc, md, register.Request{}); err == nil {
			t.Errorf("%q: no error", ep)
		}
	}
	if _, err := register.Dynamic(context.Background(), hc, &discovery.AuthServerMetadata{Issuer: "https://as.example.com"}, register.Request{}); !errors.Is(err, register.ErrNotSupported) {
		t.Errorf("no endpoint: got %v, want ErrNotSupported", err)
	}
	if _, err := register.Dynamic(context.Background(), hc, nil, register.Request{}); err == nil {
		t.Error("nil metadata: no error")
	}
}

func TestDynamicLoopbackHTTPAllowed(t *testing.T) {
	// fakeRegistrar listens on http://127.0.0.1; localhost is loopback too.
	md, _ := capturingRegistrar(t)
	md.RegistrationEndpoint = strings.Replace(md.RegistrationEndpoint, "127.0.0.1", "localhost", 1)
	if _, err := register.Dynamic(context.Background(), testClient(t), md, register.Request{}); err != nil {
		t.Fatal(err)
	}
}

func TestDynamicResponseFields(t *testing.T) {
	exp := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	md := fakeRegistrar(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK) // some servers answer 200
		fmt.Fprintf(w, `{"client_id":"c2","client_secret":"s3cret","client_secret_expires_at":%d,
			"registration_access_token":"rat-secret","registration_client_uri":"https://as.example.com/register/c2",
			"token_endpoint_auth_method":"client_secret_post","client_name":"x"}`, exp.Unix())
	})
	c, err := register.Dynamic(context.Background(), testClient(t), md, register.Request{TokenEndpointAuthMethod: register.AuthClientSecretPost})
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID != "c2" || c.ClientSecret != "s3cret" || !c.ClientSecretExpiresAt.Equal(exp) ||
		c.RegistrationAccessToken != "rat-secret" || c.RegistrationClientURI != "https://as.example.com/register/c2" {
		t.Fatalf("got %+v", *c)
	}
	if m := string(c.Metadata); strings.Contains(m, "s3cret") || strings.Contains(m, "rat-secret") || !strings.Contains(m, `"client_name":"x"`) {
		t.Fatalf("Metadata = %s, want the response without secrets", m)
	}
	if register.AuthMethod(c) != register.AuthClientSecretPost {
		t.Fatalf("AuthMethod = %s", register.AuthMethod(c))
	}
}

func TestDynamicContextCanceled(t *testing.T) {
	md, _ := capturingRegistrar(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := register.Dynamic(ctx, testClient(t), md, register.Request{})
	var re *register.Error
	if !errors.Is(err, context.Canceled) || !errors.As(err, &re) || re.Temporary() {
		t.Fatalf("got %v, want a non-temporary *register.Error wrapping context.Canceled", err)
	}
}

// A registration endpoint that cannot be reached (nothing listens) is a
// failure without a response that trying again later may cure.
func TestDynamicUnreachableIsTemporary(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	md := &discovery.AuthServerMetadata{Issuer: ts.URL, RegistrationEndpoint: ts.URL + "/register"}
	ts.Close() // nothing listens on its port now
	_, err := register.Dynamic(context.Background(), testClient(t), md, register.Request{})
	var re *register.Error
	if !errors.As(err, &re) || re.Status != 0 || !re.Temporary() {
		t.Fatalf("got %v, want a temporary *register.Error without a status", err)
	}
}

// A response of exactly MaxBodySize bytes is read whole and accepted; one
// byte more is refused (TestDynamicErrors, "201 oversized").
func TestDynamicResponseOfMaxBodySizeAccepted(t *testing.T) {
	head, tail := `{"client_id":"c-max","pad":"`, `"}`
	body := head + strings.Repeat("x", register.MaxBodySize-len(head)-len(tail)) + tail
	md := fakeRegistrar(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, body)
	})
	c, err := register.Dynamic(context.Background(), testClient(t), md, register.Request{})
	if err != nil {
		t.Fatalf("a response of MaxBodySize bytes: %v", err)
	}
	if c.ClientID != "c-max" {
		t.Fatalf("client id %q", c.ClientID)
	}
}

// client_secret_expires_at 0 (RFC 7591 §3.2.1), absent or null: the secret
// never expires (the zero time); seconds since the epoch, as a number or a
// string of digits, are kept; a negative number is refused.
func TestDynamicClientSecretExpiresAt(t *testing.T) {
	for _, tc := range []struct {
		field string // the response's client_secret_expires_at member, if any
		want  time.Time
		bad   bool
	}{
		{field: `,"client_secret_expires_at":0`},
		{field: `,"client_secret_expires_at":"0"`},
		{field: `,"client_secret_expires_at":null`},
		{field: ``},
		{field: `,"client_secret_expires_at":1700000000`, want: time.Unix(1700000000, 0)},
		{field: `,"client_secret_expires_at":"1700000000"`, want: time.Unix(1700000000, 0)},
		{field: `,"client_secret_expires_at":-1`, bad: true},
	} {
		md := fakeRegistrar(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"client_id":"c","client_secret":"s","token_endpoint_auth_method":"client_secret_basic"`+tc.field+`}`)
		})
		c, err := register.Dynamic(context.Background(), testClient(t), md, register.Request{TokenEndpointAuthMethod: register.AuthClientSecretBasic})
		if tc.bad {
			if !errors.Is(err, register.ErrInvalidResponse) {
				t.Errorf("%s: got %v, want ErrInvalidResponse", tc.field, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.field, err)
			continue
		}
		if !c.ClientSecretExpiresAt.Equal(tc.want) {
			t.Errorf("%s: ClientSecretExpiresAt = %v, want %v", tc.field, c.ClientSecretExpiresAt, tc.want)
		}
	}
}

// response_types ("code") is asked for only with the authorization_code
// grant: a client registered for the device grant alone never uses the
// authorization endpoint.
func TestDynamicResponseTypesOnlyWithAuthorizationCode(t *testing.T) {
	for _, tc := range []struct {
		grants []string
		want   []string
	}{
		{grants: []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}},
		{grants: []string{"refresh_token", "authorization_code"}, want: []string{"code"}},
	} {
		md, seen := capturingRegistrar(t)
		if _, err := register.Dynamic(context.Background(), testClient(t), md, register.Request{GrantTypes: tc.grants}); err != nil {
			t.Fatal(err)
		}
		b := (<-seen).body
		if got := strs(b["response_types"]); !slices.Equal(got, tc.want) {
			t.Errorf("grant_types %v: response_types = %v, want %v", tc.grants, got, tc.want)
		}
	}
}
