package authloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// With only the issuer configured, Login and Session find the endpoints in
// its metadata, once, and require iss because the server promises it.
func TestEndpointsFromIssuerMetadata(t *testing.T) {
	for _, path := range []string{"", "/tenant/a"} {
		t.Run("issuer path "+path, func(t *testing.T) {
			clock := oauthtest.NewFakeClock(epoch)
			srv := oauthtest.NewServer(oauthtest.Config{IssuerPath: path, Clock: clock})
			defer srv.Close()
			b := &approvingBrowser{}
			defer b.wg.Wait()
			cfg := &Config{
				OAuth2:  &oauth2.Config{ClientID: srv.ClientID(), Scopes: []string{"openid"}},
				Issuer:  srv.Issuer(),
				Browser: b.open,
				Prompt:  discardWriter{},
				Clock:   clock,
			}
			tok, err := Login(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.OAuth2.Endpoint.TokenURL != "" {
				t.Fatal("Login modified the caller's Config")
			}
			s, err := NewSession(cfg, tok)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			before := srv.Count("metadata")
			for range 3 {
				clock.Jump(2 * time.Hour)
				if _, err := s.Token(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if got := srv.Count("metadata") - before; got != 1 {
				t.Fatalf("metadata fetched %d times by one session, want once", got)
			}
		})
	}
}

func TestEndpointsConfidentialClientAuthFromMetadata(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	srv.AddClient(oauthtest.Client{ID: "conf", Secret: "s", AuthMethod: "client_secret_basic"})
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := &Config{
		OAuth2:  &oauth2.Config{ClientID: "conf", ClientSecret: "s"},
		Issuer:  srv.Issuer(),
		Browser: b.open,
		Prompt:  discardWriter{},
	}
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("token"); n != 1 {
		t.Fatalf("%d token requests: the method must be chosen, not probed", n)
	}
}

func TestAuthStyleFor(t *testing.T) {
	for _, c := range []struct {
		methods []string
		want    oauth2.AuthStyle
	}{
		{nil, oauth2.AuthStyleInHeader},
		{[]string{"client_secret_post"}, oauth2.AuthStyleInParams},
		{[]string{"client_secret_post", "client_secret_basic"}, oauth2.AuthStyleInHeader},
		{[]string{"private_key_jwt"}, oauth2.AuthStyleInHeader},
	} {
		if got := authStyleFor(c.methods); got != c.want {
			t.Errorf("%v: %v, want %v", c.methods, got, c.want)
		}
	}
}

func TestConfigNeedsEndpointsOrIssuer(t *testing.T) {
	cfg := &Config{OAuth2: &oauth2.Config{ClientID: "c"}}
	if err := cfg.validate(); err == nil {
		t.Fatal("no endpoints and no issuer accepted")
	}
}

// A login whose endpoints were discovered reads the device authorization
// endpoint from the same metadata: a server that lists none is asked once,
// not a second time by the device flow.
func TestDeviceEndpointFromTheDiscoveredMetadata(t *testing.T) {
	var metadataGets atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/oauth-authorization-server" {
			http.NotFound(w, r)
			return
		}
		metadataGets.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"code_challenge_methods_supported":["S256"]}`,
			srv.URL, srv.URL+"/authorize", srv.URL+"/token")
	}))
	defer srv.Close()
	cfg := &Config{
		OAuth2:    &oauth2.Config{ClientID: "c"},
		Issuer:    srv.URL,
		LoginMode: LoginDevice,
		Prompt:    io.Discard,
	}
	_, err := Login(context.Background(), cfg)
	if !errors.Is(err, errNoDeviceEndpoint) {
		t.Fatalf("Login: %v, want errNoDeviceEndpoint", err)
	}
	if n := metadataGets.Load(); n != 1 {
		t.Errorf("the metadata was fetched %d times, want once", n)
	}
}
