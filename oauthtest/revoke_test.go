package oauthtest

import (
	"net/http"
	"net/url"
	"testing"
)

func revoke(t *testing.T, s *Server, form url.Values, auth func(*http.Request)) tokenResult {
	t.Helper()
	return postForm(t, s.RevocationEndpoint(), form, auth)
}

func TestRevokeRefreshTokenRevokesGrant(t *testing.T) {
	s := newTestServer(t, Config{})
	res := login(t, s)
	r := revoke(t, s, url.Values{"token": {res.str("refresh_token")}, "token_type_hint": {"refresh_token"}, "client_id": {s.ClientID()}}, nil)
	if r.status != 200 {
		t.Fatalf("%d %v", r.status, r.body)
	}
	if s.ValidAccessToken(res.str("access_token")) {
		t.Error("access token survived")
	}
	wantError(t, refresh(t, s, res.str("refresh_token"), nil), 400, "invalid_grant")
}

func TestRevokeAccessToken(t *testing.T) {
	s := newTestServer(t, Config{})
	res := login(t, s)
	if r := revoke(t, s, url.Values{"token": {res.str("access_token")}, "client_id": {s.ClientID()}}, nil); r.status != 200 {
		t.Fatal(r.body)
	}
	if s.ValidAccessToken(res.str("access_token")) {
		t.Error("access token still valid")
	}
	if refresh(t, s, res.str("refresh_token"), nil).status != 200 {
		t.Error("refresh token revoked with the access token")
	}
}

func TestRevokeEdgeCases(t *testing.T) {
	s := newTestServer(t, Config{Clients: []Client{{ID: "a"}, {ID: "conf", Secret: "x"}}})
	res := login(t, s)
	if r := revoke(t, s, url.Values{"token": {"unknown"}, "client_id": {"a"}}, nil); r.status != 200 {
		t.Errorf("unknown token: %d", r.status)
	}
	// Another client's revocation leaves the token alone.
	r := revoke(t, s, url.Values{"token": {res.str("refresh_token")}}, func(r *http.Request) { r.SetBasicAuth("conf", "x") })
	if r.status != 200 || refresh(t, s, res.str("refresh_token"), nil).status != 200 {
		t.Error("another client revoked the token")
	}
	wantError(t, revoke(t, s, url.Values{"token": {"x"}}, func(r *http.Request) { r.SetBasicAuth("conf", "bad") }), 401, "invalid_client")
	wantError(t, revoke(t, s, url.Values{"client_id": {"a"}}, nil), 400, "invalid_request")
}

// With RevokeRotatedIgnored, revoking a refresh token already rotated away
// leaves its grant alive; revoking the live one ends it.
func TestRevokeRotatedIgnored(t *testing.T) {
	s := newTestServer(t, Config{RevokeRotatedIgnored: true})
	res := login(t, s)
	rotated := refresh(t, s, res.str("refresh_token"), nil)
	if rotated.status != 200 {
		t.Fatal(rotated.body)
	}
	if r := revoke(t, s, url.Values{"token": {res.str("refresh_token")}, "client_id": {s.ClientID()}}, nil); r.status != 200 {
		t.Fatal(r.body)
	}
	if !s.ValidAccessToken(rotated.str("access_token")) {
		t.Fatal("revoking the rotated refresh token ended the grant")
	}
	if r := revoke(t, s, url.Values{"token": {rotated.str("refresh_token")}, "client_id": {s.ClientID()}}, nil); r.status != 200 {
		t.Fatal(r.body)
	}
	if s.ValidAccessToken(rotated.str("access_token")) {
		t.Fatal("revoking the live refresh token left the grant alive")
	}
}
