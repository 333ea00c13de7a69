package oauthtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func callResource(t *testing.T, s *Server, auth string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.ResourceEndpoint(), nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := noRedirectClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, resp.Header, m
}

func TestResource(t *testing.T) {
	s := newTestServer(t, Config{})
	res := login(t, s)
	status, _, m := callResource(t, s, "Bearer "+res.str("access_token"))
	if status != 200 || m["sub"] != "alice" || m["scope"] != "openid read offline_access" {
		t.Fatalf("%d %v", status, m)
	}
	status, h, _ := callResource(t, s, "")
	if status != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") || strings.Contains(h.Get("WWW-Authenticate"), "error=") {
		t.Errorf("no token: %d %q", status, h.Get("WWW-Authenticate"))
	}
	status, h, _ = callResource(t, s, "Bearer not-a-token")
	if status != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
		t.Errorf("bad token: %d %q", status, h.Get("WWW-Authenticate"))
	}
	if !strings.Contains(h.Get("WWW-Authenticate"), `resource_metadata="`+s.ResourceMetadataURL()+`"`) {
		t.Errorf("no resource_metadata: %q", h.Get("WWW-Authenticate"))
	}
	if s.Count("resource") != 3 {
		t.Errorf("Count(resource) = %d", s.Count("resource"))
	}
}

func TestResourceMetadata(t *testing.T) {
	s := newTestServer(t, Config{IssuerPath: "/t"})
	status, m := fetchJSON(t, s.ResourceMetadataURL())
	if status != 200 || m["resource"] != s.ResourceEndpoint() || strs(m["authorization_servers"])[0] != s.Issuer() {
		t.Fatalf("%d %v", status, m)
	}
}

func TestResourceLogEntries(t *testing.T) {
	s := newTestServer(t, Config{})
	callResource(t, s, "")
	callResource(t, s, "Bearer nope")
	reqs := s.Requests()
	if reqs[0].Status != 401 || reqs[0].Error != "" || reqs[1].Error != "invalid_token" {
		t.Errorf("entries %+v", reqs)
	}
}

// With ExactResource, the server knows its API only as ResourceIdentifier,
// byte for byte: the form without the trailing slash is invalid_target at
// the authorization, token and device authorization endpoints; the metadata
// states the identifier.
func TestExactResource(t *testing.T) {
	s := newTestServer(t, Config{ResourceIdentifier: "/resource/", ExactResource: true})
	id := s.ResourceIdentifier()
	if id != s.Issuer()+"/resource/" {
		t.Fatalf("ResourceIdentifier() = %q", id)
	}
	if _, m := fetchJSON(t, s.ResourceMetadataURL()); m["resource"] != id {
		t.Errorf("metadata states resource %v, want %q", m["resource"], id)
	}
	p := authParams(s)
	p.Set("resource", s.ResourceEndpoint())
	if q := authorize(t, s, p); q.Get("error") != "invalid_target" {
		t.Errorf("authorization with %q: %v, want invalid_target", s.ResourceEndpoint(), q)
	}
	p.Set("resource", id)
	res := redeem(t, s, getCode(t, s, p))
	if res.status != http.StatusOK {
		t.Fatalf("exchange: %d %v", res.status, res.body)
	}
	wantError(t, refresh(t, s, res.str("refresh_token"), url.Values{"resource": {s.ResourceEndpoint()}}), 400, "invalid_target")
	if r := refresh(t, s, res.str("refresh_token"), url.Values{"resource": {id}}); r.status != http.StatusOK {
		t.Errorf("refresh with %q: %d %v", id, r.status, r.body)
	}
	dev := postForm(t, s.DeviceAuthorizationEndpoint(), url.Values{"client_id": {s.ClientID()}, "resource": {s.ResourceEndpoint()}}, nil)
	wantError(t, dev, 400, "invalid_target")
	startDevice(t, s, url.Values{"resource": {id}})
}
