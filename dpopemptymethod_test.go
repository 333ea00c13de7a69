package authloop

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// A request whose Method is "" (net/http: "for client requests, an empty
// string means GET") goes with a DPoP proof for GET, which the server
// checks against the GET it receives: it is not refused for its method.
func TestDPoPEmptyMethodMeansGET(t *testing.T) {
	f, s, _ := signedIn(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	u, err := url.Parse(f.srv.ResourceEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	for _, cd := range []bool{false, true} {
		c := &http.Client{Transport: &Transport{Session: s, ChallengeDriven: cd}}
		resp, err := c.Do(&http.Request{URL: u, Header: http.Header{}})
		if err != nil {
			t.Fatalf("ChallengeDriven %v: %v", cd, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("ChallengeDriven %v: HTTP %d; want 200", cd, resp.StatusCode)
		}
	}
}
