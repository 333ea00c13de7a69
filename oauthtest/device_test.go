package oauthtest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// startDevice sends a device authorization request for the default client.
func startDevice(t *testing.T, s *Server, extra url.Values) tokenResult {
	t.Helper()
	form := url.Values{"client_id": {s.ClientID()}, "scope": {"openid offline_access"}}
	for k, v := range extra {
		form[k] = v
	}
	res := postForm(t, s.DeviceAuthorizationEndpoint(), form, nil)
	if res.status != http.StatusOK {
		t.Fatalf("device authorization: %d %v", res.status, res.body)
	}
	return res
}

func pollDevice(t *testing.T, s *Server, deviceCode string) tokenResult {
	t.Helper()
	return postForm(t, s.TokenEndpoint(), url.Values{
		"grant_type":  {DeviceCodeGrantType},
		"device_code": {deviceCode},
		"client_id":   {s.ClientID()},
	}, nil)
}

func TestDeviceAuthorizationResponse(t *testing.T) {
	s := newTestServer(t, Config{})
	res := startDevice(t, s, nil)
	uc := res.str("user_code")
	if len(uc) != 9 || uc[4] != '-' || strings.ContainsAny(uc, "AEIOU0123456789") {
		t.Errorf("user_code = %q, want XXXX-XXXX of consonants", uc)
	}
	if res.str("device_code") == "" {
		t.Error("no device_code")
	}
	if got := res.str("verification_uri"); got != s.VerificationURI() {
		t.Errorf("verification_uri = %q", got)
	}
	if got := res.str("verification_uri_complete"); got != s.VerificationURI()+"?user_code="+uc {
		t.Errorf("verification_uri_complete = %q", got)
	}
	if res.body["expires_in"] != float64(600) || res.body["interval"] != float64(1) {
		t.Errorf("expires_in %v interval %v, want 600 and 1", res.body["expires_in"], res.body["interval"])
	}
	if cc := res.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if got := s.PendingUserCodes(); len(got) != 1 || got[0] != uc {
		t.Errorf("PendingUserCodes = %v", got)
	}
	_, m := fetchJSON(t, s.MetadataURL())
	if m["device_authorization_endpoint"] != s.DeviceAuthorizationEndpoint() {
		t.Errorf("metadata device_authorization_endpoint = %v", m["device_authorization_endpoint"])
	}
	if s.Count("device_authorization") != 1 {
		t.Errorf("Count(device_authorization) = %d", s.Count("device_authorization"))
	}
}

func TestDeviceFlowApprove(t *testing.T) {
	s := newTestServer(t, Config{})
	res := startDevice(t, s, url.Values{"resource": {"https://api.example/"}})
	dev := res.str("device_code")
	wantError(t, pollDevice(t, s, dev), http.StatusBadRequest, "authorization_pending")
	if err := s.ApproveDevice(strings.ToLower(strings.ReplaceAll(res.str("user_code"), "-", ""))); err != nil {
		t.Fatal(err)
	}
	tok := pollDevice(t, s, dev)
	if tok.status != http.StatusOK || tok.str("access_token") == "" || tok.str("refresh_token") == "" || tok.str("id_token") == "" {
		t.Fatalf("after approval: %d %v", tok.status, tok.body)
	}
	if tok.str("scope") != "openid offline_access" {
		t.Errorf("scope = %q", tok.str("scope"))
	}
	if !s.ValidAccessToken(tok.str("access_token")) {
		t.Error("the access token is not valid")
	}
	// The refresh token works, with the resource of the request.
	if r := refresh(t, s, tok.str("refresh_token"), url.Values{"resource": {"https://api.example/"}}); r.status != http.StatusOK {
		t.Errorf("refresh: %d %v", r.status, r.body)
	}
	// A device code is single use.
	wantError(t, pollDevice(t, s, dev), http.StatusBadRequest, "invalid_grant")
	if err := s.ApproveDevice(res.str("user_code")); !errors.Is(err, ErrUnknownUserCode) {
		t.Errorf("ApproveDevice of a used code = %v", err)
	}
	var grants []string
	for _, r := range s.Requests() {
		if r.Endpoint == "token" {
			grants = append(grants, r.GrantType)
		}
	}
	if len(grants) < 2 || grants[0] != DeviceCodeGrantType {
		t.Errorf("logged grant types %v", grants)
	}
}

func TestDeviceFlowDenyAndScript(t *testing.T) {
	s := newTestServer(t, Config{})
	res := startDevice(t, s, nil)
	dev := res.str("device_code")
	s.DeviceNext("slow_down", "authorization_pending", "expired_token")
	wantError(t, pollDevice(t, s, dev), http.StatusBadRequest, "slow_down")
	wantError(t, pollDevice(t, s, dev), http.StatusBadRequest, "authorization_pending")
	wantError(t, pollDevice(t, s, dev), http.StatusBadRequest, "expired_token")
	if err := s.DenyDevice(res.str("user_code")); err != nil {
		t.Fatal(err)
	}
	wantError(t, pollDevice(t, s, dev), http.StatusBadRequest, "access_denied")
	wantError(t, pollDevice(t, s, dev), http.StatusBadRequest, "invalid_grant")
	if err := s.DenyDevice("ZZZZ-ZZZZ"); !errors.Is(err, ErrUnknownUserCode) {
		t.Errorf("DenyDevice(unknown) = %v", err)
	}
}

func TestDeviceCodeExpires(t *testing.T) {
	clock := NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newTestServer(t, Config{Clock: clock, DeviceCodeTTL: time.Minute, DeviceInterval: 7})
	res := startDevice(t, s, nil)
	if res.body["expires_in"] != float64(60) || res.body["interval"] != float64(7) {
		t.Errorf("expires_in %v interval %v", res.body["expires_in"], res.body["interval"])
	}
	clock.Advance(time.Minute)
	wantError(t, pollDevice(t, s, res.str("device_code")), http.StatusBadRequest, "expired_token")
	if err := s.ApproveDevice(res.str("user_code")); !errors.Is(err, ErrUnknownUserCode) {
		t.Errorf("ApproveDevice after expiry = %v", err)
	}
	if got := s.PendingUserCodes(); len(got) != 0 {
		t.Errorf("PendingUserCodes = %v", got)
	}
}

func TestDeviceAutoApprove(t *testing.T) {
	s := newTestServer(t, Config{DeviceAutoApprovePolls: 2, DeviceInterval: -1})
	res := startDevice(t, s, nil)
	if _, ok := res.body["interval"]; ok {
		t.Errorf("interval sent: %v", res.body["interval"])
	}
	dev := res.str("device_code")
	wantError(t, pollDevice(t, s, dev), http.StatusBadRequest, "authorization_pending")
	if tok := pollDevice(t, s, dev); tok.status != http.StatusOK {
		t.Fatalf("second poll: %d %v", tok.status, tok.body)
	}
}

func TestDeviceVerificationPageWithBrowse(t *testing.T) {
	s := newTestServer(t, Config{})
	res := startDevice(t, s, nil)
	status, body, err := Browse(context.Background(), nil, res.str("verification_uri_complete"))
	if err != nil || status != http.StatusOK || !strings.Contains(string(body), "Device approved") {
		t.Fatalf("Browse: %d %v\n%s", status, err, body)
	}
	if tok := pollDevice(t, s, res.str("device_code")); tok.status != http.StatusOK {
		t.Fatalf("after Browse: %d %v", tok.status, tok.body)
	}
	// Without a code, the page asks for one; a wrong code is refused.
	resp, page := get(t, noRedirectClient(t), s.VerificationURI())
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="user_code"`) {
		t.Errorf("verification page: %d\n%s", resp.StatusCode, page)
	}
	r, err := http.PostForm(s.VerificationURI(), url.Values{"user_code": {"BCDF-GHJK"}, "decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("wrong code: status %d", r.StatusCode)
	}
}

func TestDeviceAuthorizationErrors(t *testing.T) {
	s := newTestServer(t, Config{Clients: []Client{{ID: "conf", Secret: "s3cret"}}})
	wantError(t, postForm(t, s.DeviceAuthorizationEndpoint(), url.Values{"client_id": {"nobody"}}, nil), http.StatusUnauthorized, "invalid_client")
	wantError(t, postForm(t, s.DeviceAuthorizationEndpoint(), url.Values{"client_id": {"conf"}}, nil), http.StatusUnauthorized, "invalid_client")
	basic := func(r *http.Request) { r.SetBasicAuth("conf", "s3cret") }
	wantError(t, postForm(t, s.DeviceAuthorizationEndpoint(), url.Values{"scope": {"admin"}}, basic), http.StatusBadRequest, "invalid_scope")
	wantError(t, postForm(t, s.DeviceAuthorizationEndpoint(), url.Values{"resource": {"relative"}}, basic), http.StatusBadRequest, "invalid_target")
	if r := postForm(t, s.DeviceAuthorizationEndpoint(), url.Values{"scope": {"read"}}, basic); r.status != http.StatusOK {
		t.Errorf("confidential client: %d %v", r.status, r.body)
	}
	wantError(t, postForm(t, s.TokenEndpoint(), url.Values{"grant_type": {DeviceCodeGrantType}}, basic), http.StatusBadRequest, "invalid_request")
	wantError(t, postForm(t, s.TokenEndpoint(), url.Values{"grant_type": {DeviceCodeGrantType}, "device_code": {"nope"}}, basic), http.StatusBadRequest, "invalid_grant")
}
