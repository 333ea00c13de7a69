package oauthtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func register(t *testing.T, s *Server, body string) (int, map[string]any) {
	t.Helper()
	resp, err := noRedirectClient(t).Post(s.RegistrationEndpoint(), "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

func TestRegisterPublicClient(t *testing.T) {
	s := newTestServer(t, Config{})
	status, m := register(t, s, `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none",
		"client_name":"My CLI","grant_types":["authorization_code","refresh_token"],"scope":"read"}`)
	if status != http.StatusCreated {
		t.Fatalf("%d %v", status, m)
	}
	id, _ := m["client_id"].(string)
	if id == "" || m["client_id_issued_at"] == nil || m["client_name"] != "My CLI" || m["scope"] != "read" {
		t.Errorf("response %v", m)
	}
	if _, ok := m["client_secret"]; ok {
		t.Error("secret for a public client")
	}
	// The new client can log in, with the loopback URI on any port.
	p := authParams(s)
	p.Set("client_id", id)
	p.Set("redirect_uri", "http://127.0.0.1:4321/cb")
	p.Set("scope", "read")
	code := getCode(t, s, p)
	res := postForm(t, s.TokenEndpoint(), url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {"http://127.0.0.1:4321/cb"}, "client_id": {id}, "code_verifier": {testVerifier}}, nil)
	if res.status != 200 {
		t.Fatal(res.body)
	}
}

func TestRegisterConfidentialClient(t *testing.T) {
	s := newTestServer(t, Config{})
	status, m := register(t, s, `{"redirect_uris":["https://app.example/cb"],"grant_types":["client_credentials"]}`)
	if status != http.StatusCreated || m["token_endpoint_auth_method"] != "client_secret_basic" {
		t.Fatalf("%d %v", status, m)
	}
	id, _ := m["client_id"].(string)
	secret, _ := m["client_secret"].(string)
	if len(secret) < 43 || m["client_secret_expires_at"] != float64(0) {
		t.Fatalf("secret %v", m)
	}
	res := postForm(t, s.TokenEndpoint(), url.Values{"grant_type": {"client_credentials"}}, func(r *http.Request) {
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	})
	if res.status != 200 {
		t.Fatal(res.body)
	}
}

func TestRegisterRejects(t *testing.T) {
	s := newTestServer(t, Config{})
	cases := map[string]string{
		`{}`:                   "invalid_redirect_uri",
		`{"redirect_uris":[]}`: "invalid_redirect_uri",
		`{"redirect_uris":["http://app.example/cb"]}`:    "invalid_redirect_uri",
		`{"redirect_uris":["https://app.example/cb#x"]}`: "invalid_redirect_uri",
		`{"redirect_uris":["/cb"]}`:                      "invalid_redirect_uri",
		`{"redirect_uris":["javascript:alert(1)"]}`:      "invalid_redirect_uri",
		`{"redirect_uris":"http://127.0.0.1/cb"}`:        "invalid_client_metadata",
		`not json`: "invalid_client_metadata",
		`{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"private_key_jwt"}`: "invalid_client_metadata",
		`{"redirect_uris":["http://127.0.0.1/cb"],"grant_types":["password"]}`:                     "invalid_client_metadata",
		`{"redirect_uris":["http://127.0.0.1/cb"],"response_types":["token"]}`:                     "invalid_client_metadata",
		`{"redirect_uris":["http://127.0.0.1/cb"],"scope":"admin"}`:                                "invalid_client_metadata",
	}
	for body, code := range cases {
		status, m := register(t, s, body)
		if status != http.StatusBadRequest || m["error"] != code {
			t.Errorf("%s: %d %v, want 400 %s", body, status, m, code)
		}
	}
	// A private-use scheme is fine for a native app.
	if status, m := register(t, s, `{"redirect_uris":["com.example.app:/cb"],"token_endpoint_auth_method":"none"}`); status != http.StatusCreated {
		t.Errorf("private-use scheme: %d %v", status, m)
	}
}

// clientConfig sends a request to a client configuration endpoint
// (RFC 7592) with the registration access token tok.
func clientConfig(t *testing.T, method, uri, tok, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, uri, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirectClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// With RegistrationManagement, a registration comes with its client
// configuration endpoint (RFC 7592): read, update (new redirect URIs, a
// rotated registration access token, the same id and secret), delete; a
// wrong token is 401.
func TestRegistrationManagement(t *testing.T) {
	s := newTestServer(t, Config{RegistrationManagement: true, ExactRedirectURIs: true})
	status, m := register(t, s, `{"redirect_uris":["http://127.0.0.1:1111/cb"],"token_endpoint_auth_method":"client_secret_post","client_name":"CLI"}`)
	if status != http.StatusCreated {
		t.Fatalf("%d %v", status, m)
	}
	id, uri, tok, secret := m["client_id"].(string), m["registration_client_uri"].(string), m["registration_access_token"].(string), m["client_secret"].(string)
	if uri == "" || tok == "" || secret == "" {
		t.Fatalf("response %v", m)
	}
	if status, m := clientConfig(t, http.MethodGet, uri, tok, ""); status != 200 || m["client_id"] != id || m["registration_access_token"] != tok {
		t.Fatalf("read: %d %v", status, m)
	}
	if status, m := clientConfig(t, http.MethodPut, uri, "wrong", `{"redirect_uris":["http://127.0.0.1:2222/cb"]}`); status != 401 || m["error"] != "invalid_token" {
		t.Fatalf("update with a wrong token: %d %v", status, m)
	}
	status, m = clientConfig(t, http.MethodPut, uri, tok, `{"client_id":"`+id+`","redirect_uris":["http://127.0.0.1:2222/cb"],"token_endpoint_auth_method":"client_secret_post"}`)
	if status != 200 || m["client_id"] != id || m["client_secret"] != secret {
		t.Fatalf("update: %d %v", status, m)
	}
	newTok, _ := m["registration_access_token"].(string)
	if newTok == "" || newTok == tok {
		t.Fatalf("update: registration access token not rotated: %v", m)
	}
	c, ok := s.Client(id)
	if !ok || len(c.RedirectURIs) != 1 || c.RedirectURIs[0] != "http://127.0.0.1:2222/cb" || c.Secret != secret {
		t.Fatalf("the server's client after the update: %+v", c)
	}
	if status, _ := clientConfig(t, http.MethodGet, uri, tok, ""); status != 401 {
		t.Fatalf("the rotated-away token still reads: %d", status)
	}
	// A public client cannot become confidential, nor the other way.
	if status, m := clientConfig(t, http.MethodPut, uri, newTok, `{"redirect_uris":["http://127.0.0.1:2222/cb"],"token_endpoint_auth_method":"none"}`); status != 400 || m["error"] != "invalid_client_metadata" {
		t.Fatalf("update to a public client: %d %v", status, m)
	}
	s.DenyRegistration("invalid_redirect_uri", "not on the list")
	if status, m := clientConfig(t, http.MethodPut, uri, newTok, `{"redirect_uris":["http://127.0.0.1:3333/cb"],"token_endpoint_auth_method":"client_secret_post"}`); status != 400 || m["error"] != "invalid_redirect_uri" {
		t.Fatalf("denied update: %d %v", status, m)
	}
	if status, _ := clientConfig(t, http.MethodDelete, uri, newTok, ""); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	if _, ok := s.Client(id); ok {
		t.Fatal("the deleted client is still registered")
	}
	if status, _ := clientConfig(t, http.MethodGet, uri, newTok, ""); status != 401 {
		t.Fatalf("read after delete: %d", status)
	}
	if s.Count("client_configuration") != 8 || s.Count("register") != 1 {
		t.Fatalf("counts: %d client_configuration, %d register", s.Count("client_configuration"), s.Count("register"))
	}
}

// Without RegistrationManagement a registration has no configuration
// endpoint; DenyRegistration refuses the next registration.
func TestDenyRegistration(t *testing.T) {
	s := newTestServer(t, Config{})
	s.DenyRegistration("invalid_client_metadata", "no")
	if status, m := register(t, s, `{"redirect_uris":["http://127.0.0.1/cb"]}`); status != 400 || m["error"] != "invalid_client_metadata" {
		t.Fatalf("%d %v", status, m)
	}
	status, m := register(t, s, `{"redirect_uris":["http://127.0.0.1/cb"]}`)
	if status != http.StatusCreated {
		t.Fatalf("%d %v", status, m)
	}
	if _, ok := m["registration_client_uri"]; ok {
		t.Fatalf("a configuration endpoint without RegistrationManagement: %v", m)
	}
}
