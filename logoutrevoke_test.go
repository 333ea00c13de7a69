package authloop

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// Logout revokes the refresh token when the session holds one (RFC 7009
// §2.1: revoking it ends the grant, so no copy of it can be refreshed
// later), and the access token when there is no refresh token.
func TestLogoutRevokesTheRefreshTokenElseTheAccessToken(t *testing.T) {
	t.Run("with a refresh token", func(t *testing.T) {
		f := newFixture(t, oauthtest.Config{}, true)
		s := f.sessionWith(fileStore(t, t.TempDir()), f.tok)
		if err := s.Logout(context.Background()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.PostForm(f.srv.Endpoint().TokenURL, url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {f.tok.RefreshToken}, "client_id": {f.srv.ClientID()}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("refresh with the logged-out refresh token: status %d, want 400 (revoked)", resp.StatusCode)
		}
	})
	t.Run("access token only", func(t *testing.T) {
		f := newFixture(t, oauthtest.Config{}, true)
		only := &oauth2.Token{AccessToken: f.tok.AccessToken, TokenType: "Bearer", Expiry: f.tok.Expiry}
		s := f.sessionWith(fileStore(t, t.TempDir()), only)
		if err := s.Logout(context.Background()); err != nil {
			t.Fatal(err)
		}
		if f.srv.ValidAccessToken(only.AccessToken) {
			t.Error("the access token still works after Logout: it was not revoked")
		}
	})
}
