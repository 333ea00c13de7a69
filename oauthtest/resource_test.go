package oauthtest

import (
	"encoding/json"
	"net/http"
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
