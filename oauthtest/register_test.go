package oauthtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
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
