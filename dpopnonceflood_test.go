package authloop

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// A resource server that answers every request with a new nonce challenge
// (use_dpop_nonce, RFC 9449 §9), as a hostile or broken one may: each
// request is sent once more with the nonce and then its 401 reaches the
// caller. The token was never refused (a nonce challenge says nothing of
// it), so nothing is refreshed: a refresh per request would rotate the
// grant at the server's whim.
func TestDPoPEndlessResourceNonceChallengesRefreshNothing(t *testing.T) {
	f, s, _ := signedIn(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	var hits atomic.Int64
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		w.Header().Set("DPoP-Nonce", fmt.Sprintf("nonce-%d", n))
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer rs.Close()
	const requests = 3
	for i := range requests {
		resp, err := s.Client(context.Background()).Get(rs.URL + "/api")
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("request %d: HTTP %d; want the 401", i+1, resp.StatusCode)
		}
	}
	if n := hits.Load(); n > 2*requests {
		t.Errorf("%d requests reached the server for %d calls; want at most one retry each", n, requests)
	}
	if n := len(tokenRequests(f.srv, "refresh_token")); n != 0 {
		t.Errorf("%d refreshes for nonce challenges; want none", n)
	}
}
