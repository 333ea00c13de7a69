package oauthtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

func fetchJSON(t *testing.T, u string) (int, map[string]any) {
	t.Helper()
	resp, body := get(t, noRedirectClient(t), u)
	var m map[string]any
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
	}
	return resp.StatusCode, m
}

func TestMetadata(t *testing.T) {
	s := newTestServer(t, Config{})
	for _, u := range []string{
		s.URL + "/.well-known/oauth-authorization-server",
		s.URL + "/.well-known/openid-configuration",
	} {
		status, m := fetchJSON(t, u)
		if status != http.StatusOK {
			t.Fatalf("%s: status %d", u, status)
		}
		want := map[string]any{
			"issuer":                 s.Issuer(),
			"authorization_endpoint": s.AuthorizationEndpoint(),
			"token_endpoint":         s.TokenEndpoint(),
			"registration_endpoint":  s.RegistrationEndpoint(),
			"revocation_endpoint":    s.RevocationEndpoint(),
			"jwks_uri":               s.JWKSURL(),
			"authorization_response_iss_parameter_supported": true,
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %v", u, k, m[k], v)
			}
		}
		lists := map[string][]string{
			"response_types_supported":                         {"code"},
			"response_modes_supported":                         {"query", "form_post"},
			"grant_types_supported":                            {"authorization_code", "refresh_token", "client_credentials", DeviceCodeGrantType},
			"code_challenge_methods_supported":                 {"S256"},
			"token_endpoint_auth_methods_supported":            {"none", "client_secret_basic", "client_secret_post", "private_key_jwt"},
			"token_endpoint_auth_signing_alg_values_supported": {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"},
			"id_token_signing_alg_values_supported":            {"ES256"},
			"scopes_supported":                                 {"openid", "profile", "email", "offline_access", "read", "write"},
		}
		for k, v := range lists {
			if got := strs(m[k]); !slices.Equal(got, v) {
				t.Errorf("%s: %s = %v, want %v", u, k, got, v)
			}
		}
	}
	if got := s.Count("metadata"); got != 2 {
		t.Errorf("Count(metadata) = %d, want 2", got)
	}
	if s.MetadataURL() != s.URL+"/.well-known/oauth-authorization-server" {
		t.Errorf("MetadataURL = %s", s.MetadataURL())
	}
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestMetadataIssuerPath(t *testing.T) {
	s := newTestServer(t, Config{IssuerPath: "tenant/a/", OmitIssuerInResponse: true})
	if s.Issuer() != s.URL+"/tenant/a" {
		t.Fatalf("Issuer = %s", s.Issuer())
	}
	for _, u := range []string{
		s.URL + "/.well-known/oauth-authorization-server/tenant/a",
		s.URL + "/tenant/a/.well-known/openid-configuration",
		s.URL + "/.well-known/openid-configuration/tenant/a",
	} {
		status, m := fetchJSON(t, u)
		if status != http.StatusOK {
			t.Fatalf("%s: status %d", u, status)
		}
		if m["issuer"] != s.Issuer() || m["token_endpoint"] != s.URL+"/tenant/a/token" {
			t.Errorf("%s: issuer %v token_endpoint %v", u, m["issuer"], m["token_endpoint"])
		}
		if m["authorization_response_iss_parameter_supported"] != false {
			t.Errorf("%s: iss parameter supported = %v, want false", u, m["authorization_response_iss_parameter_supported"])
		}
	}
	for _, u := range []string{
		s.URL + "/.well-known/oauth-authorization-server",
		s.URL + "/token",
	} {
		if status, _ := fetchJSON(t, u); status != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", u, status)
		}
	}
	// The endpoints work under the path.
	login(t, s)
}

func TestMethodNotAllowed(t *testing.T) {
	s := newTestServer(t, Config{})
	resp, _ := get(t, noRedirectClient(t), s.TokenEndpoint())
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET token: %d Allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
