package oauthtest

import (
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRefreshRotation(t *testing.T) {
	s := newTestServer(t, Config{})
	first := login(t, s)
	second := refresh(t, s, first.str("refresh_token"), nil)
	if second.status != 200 {
		t.Fatal(second.body)
	}
	if second.str("refresh_token") == "" || second.str("refresh_token") == first.str("refresh_token") {
		t.Fatalf("no rotation: %v", second.body)
	}
	if second.str("scope") != "openid read offline_access" || second.str("id_token") == "" {
		t.Errorf("body %v", second.body)
	}
	// The previous access token stays valid until it expires or the family dies.
	if !s.ValidAccessToken(first.str("access_token")) {
		t.Error("old access token revoked by a normal refresh")
	}
	third := refresh(t, s, second.str("refresh_token"), nil)
	if third.status != 200 {
		t.Fatal(third.body)
	}
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	s := newTestServer(t, Config{})
	first := login(t, s)
	second := refresh(t, s, first.str("refresh_token"), nil)
	wantError(t, refresh(t, s, first.str("refresh_token"), nil), 400, "invalid_grant")
	for _, at := range []string{first.str("access_token"), second.str("access_token")} {
		if s.ValidAccessToken(at) {
			t.Error("access token of the family survived reuse")
		}
	}
	wantError(t, refresh(t, s, second.str("refresh_token"), nil), 400, "invalid_grant")
	// Other grants are untouched.
	other := login(t, s)
	if refresh(t, s, other.str("refresh_token"), nil).status != 200 {
		t.Error("unrelated grant broken")
	}
}

func TestRefreshReuseDetectionDisabled(t *testing.T) {
	s := newTestServer(t, Config{DisableReuseDetection: true})
	first := login(t, s)
	second := refresh(t, s, first.str("refresh_token"), nil)
	wantError(t, refresh(t, s, first.str("refresh_token"), nil), 400, "invalid_grant")
	if !s.ValidAccessToken(second.str("access_token")) {
		t.Error("family revoked although reuse detection is off")
	}
	if refresh(t, s, second.str("refresh_token"), nil).status != 200 {
		t.Error("current refresh token revoked")
	}
}

func TestRefreshWithoutRotation(t *testing.T) {
	clock := NewFakeClock(time.Unix(1_900_000_000, 0))
	s := newTestServer(t, Config{DisableRotation: true, Clock: clock, RefreshTokenTTL: time.Hour, RefreshTokenExpiresInField: "refresh_expires_in"})
	first := login(t, s)
	rt := first.str("refresh_token")
	clock.Advance(20 * time.Minute)
	for range 3 {
		res := refresh(t, s, rt, nil)
		if res.status != 200 || res.str("refresh_token") != "" {
			t.Fatalf("%d %v", res.status, res.body)
		}
		if res.body["refresh_expires_in"] != float64(2400) {
			t.Errorf("remaining lifetime %v, want 2400", res.body["refresh_expires_in"])
		}
	}
	clock.Advance(40 * time.Minute)
	wantError(t, refresh(t, s, rt, nil), 400, "invalid_grant")
}

func TestRefreshTokenExpires(t *testing.T) {
	clock := NewFakeClock(time.Unix(1_900_000_000, 0))
	s := newTestServer(t, Config{Clock: clock, RefreshTokenTTL: 2 * time.Hour})
	rt := login(t, s).str("refresh_token")
	clock.Advance(2*time.Hour - time.Second)
	res := refresh(t, s, rt, nil)
	if res.status != 200 {
		t.Fatal(res.body)
	}
	clock.Advance(2 * time.Hour)
	wantError(t, refresh(t, s, res.str("refresh_token"), nil), 400, "invalid_grant")
}

func TestRefreshScopeAndClient(t *testing.T) {
	s := newTestServer(t, Config{Clients: []Client{{ID: "a"}, {ID: "b"}}})
	rt := login(t, s).str("refresh_token")
	res := refresh(t, s, rt, url.Values{"scope": {"read"}})
	if res.status != 200 || res.str("scope") != "read" {
		t.Fatalf("narrowing: %d %v", res.status, res.body)
	}
	rt = res.str("refresh_token")
	// The grant keeps its full scope: widening back to it is fine.
	res = refresh(t, s, rt, url.Values{"scope": {"openid read"}})
	if res.status != 200 {
		t.Fatalf("back to granted scope: %v", res.body)
	}
	rt = res.str("refresh_token")
	wantError(t, refresh(t, s, rt, url.Values{"scope": {"write"}}), 400, "invalid_scope")
	wantError(t, refresh(t, s, rt, url.Values{"client_id": {"b"}}), 400, "invalid_grant")
	wantError(t, refresh(t, s, rt, url.Values{"resource": {"https://api.example/"}}), 400, "invalid_target")
	wantError(t, refresh(t, s, "", nil), 400, "invalid_request")
}

func TestRevokeAll(t *testing.T) {
	s := newTestServer(t, Config{})
	a, b := login(t, s), login(t, s)
	s.RevokeAll()
	for _, res := range []tokenResult{a, b} {
		if s.ValidAccessToken(res.str("access_token")) {
			t.Error("access token survived RevokeAll")
		}
		wantError(t, refresh(t, s, res.str("refresh_token"), nil), 400, "invalid_grant")
	}
	login(t, s) // new logins work
}

// TestConcurrentRefresh hammers one refresh token: exactly one request wins
// the rotation, the others see invalid_grant, and the race detector sees
// the server's state.
func TestConcurrentRefresh(t *testing.T) {
	s := newTestServer(t, Config{DisableReuseDetection: true})
	rt := login(t, s).str("refresh_token")
	tr := &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	var ok, bad atomic.Int32
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {s.ClientID()}}
			resp, err := client.PostForm(s.TokenEndpoint(), form)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				ok.Add(1)
			case 400:
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || bad.Load() != 199 {
		t.Fatalf("ok=%d invalid=%d, want 1 and 199", ok.Load(), bad.Load())
	}
	if n := s.Count("token"); n != 201 {
		t.Errorf("Count(token) = %d", n)
	}
}

func TestConcurrentRefreshWithoutRotation(t *testing.T) {
	s := newTestServer(t, Config{DisableRotation: true})
	rt := login(t, s).str("refresh_token")
	tr := &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	n := 1000
	if testing.Short() {
		n = 200 // as many as TestConcurrentRefresh: the fast tier's CPU is scarce
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {s.ClientID()}}
			resp, err := client.PostForm(s.TokenEndpoint(), form)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
}
