package authloop

import (
	"io"
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// Issue 14 adversary: Transport.RoundTrip's 401 path became
// afterUnauthorized, which reads sent == "" as "the refused token is not
// known" (Authorize's case without a request) and then retries blindly
// with the session's token, up to maxBlindRetries times, instead of
// refreshing. Transport knows the token it sent; when that token's access
// token is empty (a session seeded with only a refresh token, as
// x/oauth2's TokenSource idiom does), the 401 used to start one refresh
// and the retry carried the new token; now the caller gets the 401, eight
// times over, before a refresh happens. Before the re-cut this test passed.
func TestAdv14TransportRefreshesASeededRefreshOnlyToken(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s, err := NewSession(f.cfg, &oauth2.Token{RefreshToken: f.tok.RefreshToken})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &http.Client{Transport: &Transport{Session: s}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(f.srv.ResourceEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d (%s), want 200 after one refresh", resp.StatusCode, body)
	}
	if n := f.refreshes(); n != 1 {
		t.Errorf("%d refreshes, want 1: the 401 for the token Transport sent refreshes", n)
	}
}
