package authloop

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// A client registered on the fly (RFC 7591) is named Config.ClientName,
// else Config.AppName, else "authloop": the name the person sees on the
// consent page.
func TestRegisteredClientName(t *testing.T) {
	for _, c := range []struct {
		clientName, appName, want string
	}{
		{"Acme CLI", "acme", "Acme CLI"},
		{"", "acme", "acme"},
		{"", "", "authloop"},
	} {
		t.Run(c.want, func(t *testing.T) {
			srv := oauthtest.NewServer(oauthtest.Config{})
			defer srv.Close()
			b := &approvingBrowser{}
			defer b.wg.Wait()
			var mu sync.Mutex
			var names []any
			cfg := &Config{
				OAuth2:       &oauth2.Config{Scopes: []string{"openid"}},
				Issuer:       srv.Issuer(),
				ClientName:   c.clientName,
				AppName:      c.appName,
				Browser:      b.open,
				Prompt:       io.Discard,
				LoginTimeout: time.Minute,
				HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					if strings.HasSuffix(r.URL.Path, "/register") && r.Body != nil {
						body, err := io.ReadAll(r.Body)
						r.Body.Close()
						if err != nil {
							return nil, err
						}
						var m map[string]any
						_ = json.Unmarshal(body, &m)
						mu.Lock()
						names = append(names, m["client_name"])
						mu.Unlock()
						r.Body = io.NopCloser(bytes.NewReader(body))
					}
					return http.DefaultTransport.RoundTrip(r)
				})},
			}
			s, err := NewSession(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Login(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(names) != 1 || names[0] != c.want {
				t.Fatalf("registered with client_name %v, want one registration as %q", names, c.want)
			}
		})
	}
}

// Login (the function, without a Session) with an issuer and no client ID
// registers a client (RFC 7591) and signs in with it.
func TestLoginWithoutClientIDRegisters(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(bctx context.Context, u string) error {
		if pu, err := url.Parse(u); err != nil || pu.Query().Get("client_id") == "" {
			t.Errorf("authorization request without a client_id: %s", u)
			cancel() // the server will not let anyone sign in there
			return nil
		}
		return b.open(bctx, u)
	}
	cfg := &Config{
		OAuth2:       &oauth2.Config{Scopes: []string{"openid"}},
		Issuer:       srv.Issuer(),
		Browser:      open,
		Prompt:       io.Discard,
		LoginTimeout: time.Minute,
	}
	tok, err := Login(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !srv.ValidAccessToken(tok.AccessToken) || srv.Count("register") != 1 {
		t.Fatalf("valid %v, %d registrations: want a token from one registered client", srv.ValidAccessToken(tok.AccessToken), srv.Count("register"))
	}
}
