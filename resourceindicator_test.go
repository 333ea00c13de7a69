package authloop

import (
	"context"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// The resource indicator (RFC 8707) is sent exactly as configured, or as
// the protected resource metadata states it, on the authorization, token
// (code and refresh) and device authorization requests: at a server that
// knows the resource only with its trailing slash (oauthtest.ExactResource,
// invalid_target for anything else), sign-in, refresh and a restarted
// session's refresh all succeed. Canonical forms (which drop a bare "/"
// path) are for the record's key only.
func TestResourceSentAsGiven(t *testing.T) {
	fastDevicePolls(t)
	for _, tc := range []struct {
		name string
		// id is the server's resource identifier (oauthtest's
		// ResourceIdentifier: relative to the issuer).
		id string
		// config returns the session's configuration.
		config func(srv *oauthtest.Server, b *approvingBrowser) *Config
	}{
		{"configured with issuer", "/", func(srv *oauthtest.Server, b *approvingBrowser) *Config {
			cfg := testConfig(srv, b.open)
			cfg.Resource = srv.Issuer() + "/"
			cfg.Interactive = true
			return cfg
		}},
		{"configured with issuer, device flow", "/", func(srv *oauthtest.Server, b *approvingBrowser) *Config {
			cfg := deviceConfig(srv)
			cfg.Resource = srv.Issuer() + "/"
			cfg.Interactive = true
			cfg.OnDeviceCode = approveWithBrowse(&b.wg)
			return cfg
		}},
		{"protected resource metadata", "/resource/", func(srv *oauthtest.Server, b *approvingBrowser) *Config {
			// Configured without the slash; the metadata states it with.
			return resourceConfig(srv, srv.ResourceEndpoint(), b.open)
		}},
		{"2025-03-26 server without resource metadata", "/", func(srv *oauthtest.Server, b *approvingBrowser) *Config {
			// No metadata at the root: the origin is the authorization
			// server, and the resource is the configured one.
			return resourceConfig(srv, srv.Issuer()+"/", b.open)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := oauthtest.NewServer(oauthtest.Config{ResourceIdentifier: tc.id, ExactResource: true, JWTAccessTokens: true})
			defer srv.Close()
			b := &approvingBrowser{}
			defer b.wg.Wait()
			cfg := tc.config(srv, b)
			cfg.Store = fileStore(t, t.TempDir())
			s, err := NewSession(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			tok, err := s.Token(ctx)
			if err != nil {
				t.Fatalf("sign-in: %v", err)
			}
			if aud := jwtClaims(t, tok.AccessToken)["aud"]; !audienceContains(aud, srv.ResourceIdentifier()) {
				t.Errorf("token audience %v, want %q", aud, srv.ResourceIdentifier())
			}
			b.mu.Lock()
			for _, u := range b.urls {
				pu, _ := url.Parse(u)
				if got := pu.Query()["resource"]; len(got) != 1 || got[0] != srv.ResourceIdentifier() {
					t.Errorf("authorization request resource %q, want %q", got, srv.ResourceIdentifier())
				}
			}
			b.mu.Unlock()
			if _, err := s.Refresh(ctx); err != nil {
				t.Fatalf("refresh: %v", err)
			}
			s.Close()
			// A restarted session refreshes with what the record kept.
			s2, err := NewSession(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if _, err := s2.Refresh(ctx); err != nil {
				t.Fatalf("refresh after a restart: %v", err)
			}
			if n := srv.Count("authorize") + srv.Count("device_authorization"); n != 1 {
				t.Errorf("%d sign-ins, want 1", n)
			}
		})
	}
}

// Login (no Session) sends the configured resource as given too.
func TestLoginResourceSentAsGiven(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{ResourceIdentifier: "/", ExactResource: true})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	for _, cfg := range []*Config{
		{OAuth2: &oauth2.Config{ClientID: srv.ClientID(), Endpoint: srv.Endpoint()}, Issuer: srv.Issuer(), Resource: srv.Issuer() + "/", Browser: b.open, Prompt: discardWriter{}},
		resourceConfig(srv, srv.Issuer()+"/", b.open), // through the resource: no metadata, the 2025-03-26 way
	} {
		tok, err := Login(context.Background(), cfg)
		if err != nil {
			t.Fatalf("Login with Resource %q (Issuer %q): %v", cfg.Resource, cfg.Issuer, err)
		}
		if !srv.ValidAccessToken(tok.AccessToken) {
			t.Fatal("the token is not valid at the server")
		}
	}
}
