package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// Wording that matches the situation (issue 13, item 11).

// --no-browser is a choice: the login prints the URL without saying that
// a browser could not be opened.
func TestE2ENoBrowserReportsNoFailure(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	r := c.login(srv, "p")
	if r.code != 0 {
		t.Fatalf("login: %v", r)
	}
	if strings.Contains(r.stderr, "Could not open a browser") || !strings.Contains(r.stderr, "Open this URL to sign in:") {
		t.Errorf("login --no-browser:\n%s", r.stderr)
	}
}

// `token --min-valid 2h` on one-hour tokens: whatever it does (refresh,
// or print the token as it is when the asked validity is capped), it never
// says that a valid token "has expired"; when even the refreshed token is
// shorter than asked, it says that the server's tokens are shorter than
// asked; without a refresh token, that the token is valid for less.
func TestE2ETokenShorterThanAsked(t *testing.T) {
	for _, refresh := range []bool{true, false} {
		t.Run("refresh token "+strconv.FormatBool(refresh), func(t *testing.T) {
			srv := oauthtest.NewServer(oauthtest.Config{DisableRefreshTokens: !refresh})
			defer srv.Close()
			c := newCLI(t)
			c.mustLogin(srv, "p")
			before := srv.Count("token")
			r := c.run("", "token", "--profile", "p", "--min-valid", "2h")
			if strings.Contains(r.stderr, "expired") {
				t.Errorf("says expired of a token valid for an hour:\n%v", r)
			}
			// --min-valid is capped at half the lifetime (item 4): no
			// refresh, the token printed, and a note that says why.
			if r.code != exitOK || r.stdout == "" || srv.Count("token") != before {
				t.Fatalf("token --min-valid 2h on a fresh one-hour token: %v (token requests %d, want none)", r, srv.Count("token")-before)
			}
			if !strings.Contains(r.stderr, "this server's access tokens last 1 hour, less than twice the 2 hours asked") {
				t.Errorf("does not say that the server's tokens are shorter than asked:\n%v", r)
			}
		})
	}
}

// shorterThanAsked's three cases, as the message path has them whatever
// --min-valid asks.
func TestShorterThanAsked(t *testing.T) {
	soon := &oauth2.Token{AccessToken: "a", Expiry: time.Now().Add(10*time.Minute + 5*time.Second)}
	gone := &oauth2.Token{AccessToken: "a", Expiry: time.Now().Add(-time.Minute)}
	for _, tc := range []struct {
		tok       *oauth2.Token
		refreshed bool
		want      string
	}{
		{soon, true, "the server's tokens are shorter than the 1 hour asked (--min-valid): the new one is valid for 10 minutes"},
		{soon, false, "the access token is valid for 10 minutes, less than the 1 hour asked (--min-valid), and there is no refresh token to renew it"},
		{gone, false, "the access token has expired and there is no refresh token"},
	} {
		if got := shorterThanAsked(tc.tok, time.Hour, tc.refreshed); got != tc.want {
			t.Errorf("shorterThanAsked(refreshed %v) = %q\nwant %q", tc.refreshed, got, tc.want)
		}
	}
}
