package integration_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/dpop"
	"github.com/authloop/authloop/integration/peers"
)

// TestDPoPLeakedTokenOIDCProvider: what a DPoP-bound token is worth to
// whoever copies it without the key. The access token alone (Bearer), or
// with a proof signed by another key, is refused by the resource server
// and by oidc-provider's userinfo; a proof copied with its token is refused
// the second time by both; the refresh token alone, or with another key's
// proof, is refused by the token endpoint, and the session refreshes
// afterwards as if nothing happened.
func TestDPoPLeakedTokenOIDCProvider(t *testing.T) {
	oidcServer.start(t)
	ctx := t.Context()
	meta := mustMetadata(t, oidc.Issuer)
	rs := startDPoPResource(t, meta, false)
	other, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	session := func(resource string) (*authloop.Session, *dpopTap) {
		client, err := oidc.NewPublicClient(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tap := &dpopTap{tokenURL: meta.TokenEndpoint, next: transport}
		s, tok := headlessSignIn(ctx, t, &authloop.Config{
			OAuth2:     &oauth2.Config{ClientID: client.ID, Scopes: []string{"openid", "offline_access", "mcp:tools"}},
			Issuer:     meta.Issuer,
			Resource:   resource,
			HTTPClient: tapClient(tap),
		})
		if tok.TokenType != "DPoP" {
			t.Fatalf("token_type %q; want DPoP", tok.TokenType)
		}
		return s, tap
	}

	t.Run("resource", func(t *testing.T) {
		s, _ := session(rs.url)
		tok := s.Cached()
		otherProof, err := other.Proof(dpop.ProofParams{Method: http.MethodGet, URL: rs.url, AccessToken: tok.AccessToken})
		if err != nil {
			t.Fatal(err)
		}
		wantRefused(t, rs, "the access token as a bearer token", http.Header{"Authorization": {"Bearer " + tok.AccessToken}}, "Bearer scheme")
		wantRefused(t, rs, "the access token with the DPoP scheme and no proof", http.Header{"Authorization": {"DPoP " + tok.AccessToken}}, "0 DPoP headers")
		wantRefused(t, rs, "the access token with another key's proof", http.Header{
			"Authorization": {"DPoP " + tok.AccessToken}, "Dpop": {otherProof},
		}, "thumbprint")
		h, err := s.AuthHeader(ctx, http.MethodGet, rs.url)
		if err != nil {
			t.Fatal(err)
		}
		if status, code, reason, err := rs.send(ctx, http.MethodGet, h); err != nil || status != http.StatusOK {
			t.Fatalf("the session's own AuthHeader: %d %s %s %v; want 200", status, code, reason, err)
		}
		wantRefused(t, rs, "the token and its proof copied from a request", h, "replayed")
		h.Set("Authorization", "Bearer "+tok.AccessToken)
		wantRefused(t, rs, "a copied proof with the token as bearer", h, "Bearer scheme")
	})

	t.Run("userinfo", func(t *testing.T) {
		s, _ := session("")
		tok := s.Cached()
		ui := meta.UserinfoEndpoint
		h, err := s.AuthHeader(ctx, http.MethodGet, ui)
		if err != nil {
			t.Fatal(err)
		}
		status, code, reason, err := sendJSON(ctx, http.MethodGet, ui, h)
		if err != nil || status != http.StatusOK {
			t.Fatalf("userinfo with the session's AuthHeader: %d %s %q %v; want 200", status, code, reason, err)
		}
		otherProof, err := other.Proof(dpop.ProofParams{Method: http.MethodGet, URL: ui, AccessToken: tok.AccessToken})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			what   string
			h      http.Header
			status int
			code   string
		}{
			{"the access token as a bearer token", http.Header{"Authorization": {"Bearer " + tok.AccessToken}}, 401, "invalid_token"},
			// oidc-provider 9.13.3 answers the DPoP scheme without a DPoP
			// header as a malformed request, not an invalid token.
			{"the access token with the DPoP scheme and no proof", http.Header{"Authorization": {"DPoP " + tok.AccessToken}}, 400, "invalid_request"},
			{"the access token with another key's proof", http.Header{"Authorization": {"DPoP " + tok.AccessToken}, "Dpop": {otherProof}}, 401, "invalid_token"},
			{"the token and its proof copied from the accepted request", h, 401, "invalid_token"},
		} {
			status, code, reason, err := sendJSON(ctx, http.MethodGet, ui, c.h)
			if err != nil {
				t.Fatal(err)
			}
			if status != c.status || code != c.code {
				t.Errorf("userinfo, %s: %d %s %q; want %d %s", c.what, status, code, reason, c.status, c.code)
				continue
			}
			t.Logf("userinfo, %s: %d %s %q", c.what, status, code, reason)
		}
	})

	t.Run("refresh-token", func(t *testing.T) {
		s, tap := session("")
		rt := s.Cached().RefreshToken
		proof, err := other.Proof(dpop.ProofParams{Method: http.MethodPost, URL: meta.TokenEndpoint})
		if err != nil {
			t.Fatal(err)
		}
		client := tap.all()[0].clientID
		for _, c := range []struct {
			what  string
			proof string
		}{{"the refresh token alone", ""}, {"the refresh token with another key's proof", proof}} {
			status, te, err := handRefresh(ctx, meta.TokenEndpoint, client, rt, c.proof)
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusBadRequest || te.Code != "invalid_grant" {
				t.Errorf("%s: %d %+v; want 400 invalid_grant", c.what, status, te)
				continue
			}
			t.Logf("%s: %d %s %q", c.what, status, te.Code, te.Description)
		}
		nt, err := s.Refresh(ctx)
		if err != nil {
			t.Fatalf("the session's refresh after the refused copies: %v", err)
		}
		h, err := s.AuthHeader(ctx, http.MethodGet, meta.UserinfoEndpoint)
		if err != nil {
			t.Fatal(err)
		}
		if status, code, reason, err := sendJSON(ctx, http.MethodGet, meta.UserinfoEndpoint, h); err != nil || status != http.StatusOK {
			t.Fatalf("userinfo with the refreshed token: %d %s %q %v", status, code, reason, err)
		}
		if nt.RefreshToken == rt {
			t.Error("the refresh token did not rotate")
		}
	})
}

// handRefresh sends a refresh request by hand, as a public client, with
// proof in the DPoP header when it is not empty.
func handRefresh(ctx context.Context, endpoint, clientID, refreshToken, proof string) (int, *tokenError, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {clientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	te := &tokenError{Status: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	_ = json.Unmarshal(b, te)
	return resp.StatusCode, te, nil
}

// TestDPoPConfidentialClientOIDCProvider: with a confidential client
// (client_secret_basic), oidc-provider binds the access tokens to the
// session's key but not the refresh token (its setRefreshTokenBindings binds
// only public clients', as RFC 9449 §5 allows: a confidential client's
// refresh token is bound to its authentication). The session signs in and
// refreshes with DPoP tokens; the refresh token with the client's secret
// and no proof is accepted, and gives a bearer token. The test checks that
// this stays so; the session's next refresh is then reuse (invalid_grant)
// and, interactive, it signs in again.
func TestDPoPConfidentialClientOIDCProvider(t *testing.T) {
	oidcServer.start(t)
	ctx := t.Context()
	meta := mustMetadata(t, oidc.Issuer)
	tap := &dpopTap{tokenURL: meta.TokenEndpoint, next: transport}
	b := peers.NewHeadlessBrowser()
	defer b.CloseIdleConnections()
	s := newSession(t, &authloop.Config{
		OAuth2: &oauth2.Config{
			ClientID:     peers.OIDCConfidentialClientID,
			ClientSecret: peers.OIDCConfidentialClientSecret,
			Scopes:       []string{"openid", "offline_access"},
		},
		Issuer:       meta.Issuer,
		Interactive:  true,
		Browser:      b.Open,
		HTTPClient:   tapClient(tap),
		Prompt:       io.Discard,
		LoginTimeout: time.Minute,
	}, nil)
	if _, err := s.Token(ctx); err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	b.Wait()
	tok, err := s.Refresh(ctx)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok.TokenType != "DPoP" {
		t.Fatalf("token_type %q; want DPoP", tok.TokenType)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, meta.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(peers.OIDCConfidentialClientID, peers.OIDCConfidentialClientSecret)
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		TokenType string `json:"token_type"`
		Error     string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || out.TokenType != "Bearer" {
		t.Fatalf("the refresh token with the secret and no proof: %d %q token_type %q; oidc-provider used to accept it with a bearer token: update this test and docs/INTEROP.md", resp.StatusCode, out.Error, out.TokenType)
	}
	t.Logf("the refresh token with the client's secret and no proof: 200, token_type %q", out.TokenType)
	// The session's refresh token was rotated by the hand refresh: its
	// refresh is reuse (invalid_grant, and oidc-provider revokes the
	// grant), and the interactive session signs in again.
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatalf("the session after its refresh token was used by hand: %v", err)
	}
	b.Wait()
	ex := tap.all()
	if len(ex) != 4 || ex[2].errCode != "invalid_grant" || ex[3].grant != "authorization_code" || ex[3].tokenType != "DPoP" {
		t.Errorf("token requests %v; want code, refresh, refresh refused invalid_grant, a new sign-in with DPoP", ex)
	}
}
