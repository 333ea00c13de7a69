package authloop

import (
	"io"
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// Found by the issue 14 adversary: Transport.RoundTrip's 401 path became
// afterUnauthorized, which reads sent == "" as "the refused token is not
// known" (Authorize's case without a request) and then retries blindly
// with the session's token, up to maxBlindRetries times, instead of
// refreshing. Transport knows the token it sent; when that token's access
// token is empty (a session seeded with only a refresh token, as
// x/oauth2's TokenSource idiom does), the 401 used to start one refresh
// and the retry carried the new token; now the caller gets the 401, eight
// times over, before a refresh happens. Fixed by telling afterUnauthorized
// whether the token sent is known.
func TestTransportRefreshesAfter401OfAnEmptyAccessToken(t *testing.T) {
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

// The Transport writes "Bearer <token>" whatever token_type the server
// named (N_A here, as RFC 8693 names a token that is not a bearer token by
// type): resource servers expect the Bearer scheme, and
// oauth2.Token.SetAuthHeader would send "N_A <token>". Found by the issue
// 14 adversary for the challenge-driven Transport; both modes share
// setAuthorization.
func TestTransportSendsBearerWhateverTheTokenType(t *testing.T) {
	for _, challengeDriven := range []bool{false, true} {
		f := newFixture(t, oauthtest.Config{TokenType: "N_A"}, true)
		s := f.session()
		c := &http.Client{Transport: &Transport{Session: s, ChallengeDriven: challengeDriven}}
		resp, err := c.Get(f.srv.ResourceEndpoint())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("ChallengeDriven %v: status %d, want 200: the token went out without the Bearer scheme", challengeDriven, resp.StatusCode)
		}
		if n := f.refreshes(); n != 0 {
			t.Errorf("ChallengeDriven %v: %d refreshes, want none", challengeDriven, n)
		}
		c.CloseIdleConnections()
		s.Close()
	}
}
