package register_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/oautherr"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/register"
	"github.com/authloop/authloop/store"
)

// Update moves a registration to new redirect URIs at its client
// configuration endpoint (RFC 7592): the same client, the same secret, the
// rotated registration access token.
func TestUpdateAgainstOAuthtest(t *testing.T) {
	for _, method := range []string{register.AuthNone, register.AuthClientSecretPost} {
		t.Run(method, func(t *testing.T) {
			srv, md := newAS(t, oauthtest.Config{RegistrationManagement: true, ExactRedirectURIs: true})
			req := register.Request{RedirectURIs: []string{"http://127.0.0.1:1111/callback"}, TokenEndpointAuthMethod: method, ClientName: "x"}
			c, err := register.Dynamic(context.Background(), testClient(t), md, req)
			if err != nil {
				t.Fatal(err)
			}
			if c.RegistrationClientURI == "" || c.RegistrationAccessToken == "" {
				t.Fatalf("no client configuration endpoint in %s", c)
			}
			req.RedirectURIs = []string{"http://127.0.0.1:2222/callback"}
			req.TokenEndpointAuthMethod = "" // c's is kept
			u, err := register.Update(context.Background(), testClient(t), md, c, req)
			if err != nil {
				t.Fatal(err)
			}
			if u.ClientID != c.ClientID || u.ClientSecret != c.ClientSecret || u.Issuer != md.Issuer || register.AuthMethod(u) != method {
				t.Fatalf("updated %s, was %s", u, c)
			}
			if u.RegistrationAccessToken == c.RegistrationAccessToken || u.RegistrationAccessToken == "" {
				t.Fatal("the rotated registration access token was not taken")
			}
			if got := register.RedirectURIs(u); !slices.Equal(got, req.RedirectURIs) {
				t.Fatalf("RedirectURIs %q", got)
			}
			if sc, _ := srv.Client(c.ClientID); !slices.Equal(sc.RedirectURIs, req.RedirectURIs) {
				t.Fatalf("the server's client has %q", sc.RedirectURIs)
			}
			// The old registration access token is dead: invalid_token.
			_, err = register.Update(context.Background(), testClient(t), md, c, req)
			var oe *oautherr.Error
			if !errors.As(err, &oe) || oe.Code != "invalid_token" || oe.Endpoint != "registration" {
				t.Fatalf("update with a rotated-away token: %v", err)
			}
		})
	}
}

// The PUT carries the whole metadata, the client id and the registration
// access token; a response that leaves the secret and the token out keeps
// the old ones; a response for another client is refused.
func TestUpdateRequestAndResponse(t *testing.T) {
	var got struct {
		method, auth string
		body         map[string]any
	}
	answer := `{"client_id":"c1","redirect_uris":["http://127.0.0.1:2/callback"],"token_endpoint_auth_method":"client_secret_basic"}`
	md := fakeRegistrar(t, func(w http.ResponseWriter, r *http.Request) {
		got.method, got.auth = r.Method, r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got.body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	})
	c := &store.Client{Issuer: md.Issuer, ClientID: "c1", ClientSecret: "s3cret-value", RegistrationClientURI: md.Issuer + "/register/c1",
		RegistrationAccessToken: "rat-value", Metadata: json.RawMessage(`{"client_id":"c1","token_endpoint_auth_method":"client_secret_basic"}`)}
	req := register.Request{RedirectURIs: []string{"http://127.0.0.1:2/callback"}, ClientName: "cli", InitialAccessToken: "iat-value"}
	u, err := register.Update(context.Background(), testClient(t), md, c, req)
	if err != nil {
		t.Fatal(err)
	}
	if got.method != http.MethodPut || got.auth != "Bearer rat-value" {
		t.Fatalf("%s with Authorization %q", got.method, got.auth)
	}
	if got.body["client_id"] != "c1" || got.body["client_name"] != "cli" || got.body["token_endpoint_auth_method"] != "client_secret_basic" || got.body["application_type"] != "native" {
		t.Fatalf("body %v", got.body)
	}
	for _, k := range []string{"registration_access_token", "client_secret", "registration_client_uri"} {
		if _, ok := got.body[k]; ok {
			t.Errorf("the body carries %s", k)
		}
	}
	if u.ClientSecret != "s3cret-value" || u.RegistrationAccessToken != "rat-value" || u.RegistrationClientURI != c.RegistrationClientURI {
		t.Fatalf("updated %s: the kept secret, token or URI was lost", u)
	}

	answer = `{"client_id":"other","token_endpoint_auth_method":"none"}`
	_, err = register.Update(context.Background(), testClient(t), md, c, req)
	var re *register.Error
	if !errors.As(err, &re) || !errors.Is(err, register.ErrInvalidResponse) || re.Method != http.MethodPut || !strings.Contains(err.Error(), "register: PUT ") {
		t.Fatalf("a response for another client: %v", err)
	}
	if strings.Contains(err.Error(), "rat-value") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("the error shows a secret: %v", err)
	}
}

// Without a client configuration endpoint, or with one that is not https,
// nothing is sent.
func TestUpdateRefusals(t *testing.T) {
	hc := &http.Client{Transport: failingTransport{t}}
	md := &discovery.AuthServerMetadata{Issuer: "https://as.example"}
	for _, c := range []*store.Client{
		{Issuer: md.Issuer, ClientID: "c1"},
		{Issuer: md.Issuer, ClientID: "c1", RegistrationClientURI: "https://as.example/r/c1"},
	} {
		if _, err := register.Update(context.Background(), hc, md, c, register.Request{}); !errors.Is(err, register.ErrNotSupported) {
			t.Errorf("%s: %v, want ErrNotSupported", c, err)
		}
	}
	c := &store.Client{Issuer: md.Issuer, ClientID: "c1", RegistrationClientURI: "http://as.example/r/c1", RegistrationAccessToken: "t"}
	if _, err := register.Update(context.Background(), hc, md, c, register.Request{}); !errors.Is(err, register.ErrInsecureURL) {
		t.Errorf("http endpoint: %v, want ErrInsecureURL", err)
	}
}

// A kept registration for other redirect URIs is updated where the server
// offers RFC 7592, and registered anew where it does not, or refuses the
// update.
func TestChooseKeptForOtherRedirectURIs(t *testing.T) {
	first := register.Options{Registration: register.Request{RedirectURIs: []string{"http://127.0.0.1:1111/callback"}}}
	next := register.Options{Registration: register.Request{RedirectURIs: []string{"http://127.0.0.1:2222/callback"}}}
	t.Run("update", func(t *testing.T) {
		srv, md := newAS(t, oauthtest.Config{RegistrationManagement: true})
		c, _ := choose(t, md, first, nil)
		u, isNew := choose(t, md, next, c)
		if !isNew || u.ClientID != c.ClientID || srv.Count("register") != 1 || srv.Count("client_configuration") != 1 {
			t.Fatalf("got %s new=%v, %d registrations, %d updates", u, isNew, srv.Count("register"), srv.Count("client_configuration"))
		}
		if got := register.RedirectURIs(u); !slices.Equal(got, next.Registration.RedirectURIs) {
			t.Fatalf("redirect URIs %q", got)
		}
		if again, isNew := choose(t, md, next, u); again != u || isNew {
			t.Fatalf("the updated registration was not reused: %s new=%v", again, isNew)
		}
	})
	t.Run("update-refused", func(t *testing.T) {
		srv, md := newAS(t, oauthtest.Config{RegistrationManagement: true})
		c, _ := choose(t, md, first, nil)
		srv.DenyRegistration("invalid_redirect_uri", "no")
		u, isNew := choose(t, md, next, c)
		if !isNew || u.ClientID == c.ClientID || srv.Count("register") != 2 || srv.Count("client_configuration") != 1 {
			t.Fatalf("got %s new=%v, %d registrations, %d updates", u, isNew, srv.Count("register"), srv.Count("client_configuration"))
		}
	})
	t.Run("no-management", func(t *testing.T) {
		srv, md := newAS(t, oauthtest.Config{})
		c, _ := choose(t, md, first, nil)
		u, isNew := choose(t, md, next, c)
		if !isNew || u.ClientID == c.ClientID || srv.Count("register") != 2 || srv.Count("client_configuration") != 0 {
			t.Fatalf("got %s new=%v, %d registrations, %d updates", u, isNew, srv.Count("register"), srv.Count("client_configuration"))
		}
	})
}

// DeferRegistration sends nothing: a kept registration serves whatever its
// redirect URIs; without one, no client and no error; without any way to
// get a client, the ErrNoClient error all the same.
func TestChooseDeferRegistration(t *testing.T) {
	srv, md := newAS(t, oauthtest.Config{RegistrationManagement: true})
	c, _ := choose(t, md, register.Options{Registration: register.Request{RedirectURIs: []string{"http://127.0.0.1:1111/callback"}}}, nil)
	deferred := register.Options{DeferRegistration: true}
	if got, isNew := choose(t, md, deferred, c); got != c || isNew {
		t.Fatalf("got %s new=%v, want the kept registration", got, isNew)
	}
	if got, isNew := choose(t, md, deferred, nil); got != nil || isNew {
		t.Fatalf("got %s new=%v, want none yet", got, isNew)
	}
	if srv.Count("register") != 1 || srv.Count("client_configuration") != 0 {
		t.Fatalf("%d registrations, %d updates", srv.Count("register"), srv.Count("client_configuration"))
	}
	noWay := &discovery.AuthServerMetadata{Issuer: md.Issuer}
	if _, _, err := register.Choose(context.Background(), testClient(t), noWay, deferred, nil); !errors.Is(err, register.ErrNoClient) {
		t.Fatalf("no way to a client: %v", err)
	}
}

// The registration access token goes only to the server that issued it: a
// client configuration endpoint on another origin (scheme, host or port)
// than both the registration endpoint and the issuer is refused, and
// nothing is sent to it; Choose then registers anew.
func TestUpdateRefusesForeignEndpoint(t *testing.T) {
	hc := &http.Client{Transport: failingTransport{t}}
	md := &discovery.AuthServerMetadata{Issuer: "https://as.example", RegistrationEndpoint: "https://reg.as.example/register"}
	for _, uri := range []string{
		"https://attacker.example/clients/c1",
		"https://as.example.attacker.example/clients/c1",
		"https://as.example:8443/clients/c1",
		"https://reg.as.example:444/clients/c1",
		"https://localhost/clients/c1",
	} {
		c := &store.Client{Issuer: md.Issuer, ClientID: "c1", RegistrationClientURI: uri, RegistrationAccessToken: "rat-value"}
		_, err := register.Update(context.Background(), hc, md, c, register.Request{})
		if !errors.Is(err, register.ErrForeignEndpoint) {
			t.Errorf("%s: %v, want ErrForeignEndpoint", uri, err)
		} else if strings.Contains(err.Error(), "rat-value") {
			t.Errorf("the error shows the registration access token: %v", err)
		}
	}

	// Choose falls back to a new registration.
	srv, md2 := newAS(t, oauthtest.Config{RegistrationManagement: true})
	first := register.Options{Registration: register.Request{RedirectURIs: []string{"http://127.0.0.1:1111/callback"}}}
	next := register.Options{Registration: register.Request{RedirectURIs: []string{"http://127.0.0.1:2222/callback"}}}
	c, _ := choose(t, md2, first, nil)
	foreign := *c
	foreign.RegistrationClientURI = "https://attacker.example/clients/" + c.ClientID
	u, isNew := choose(t, md2, next, &foreign)
	if !isNew || u.ClientID == c.ClientID || srv.Count("register") != 2 || srv.Count("client_configuration") != 0 {
		t.Fatalf("got %s new=%v, %d registrations, %d updates; want a new registration and no update", u, isNew, srv.Count("register"), srv.Count("client_configuration"))
	}
}

// An update refused with 401 or 403 and no OAuth error object means the
// registration access token or the client is gone: the message says to
// register anew (not to get an initial access token, as for a registration).
func TestUpdateRefusedSaysRegisterAnew(t *testing.T) {
	md := fakeRegistrar(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "go away")
	})
	c := &store.Client{Issuer: md.Issuer, ClientID: "c1", RegistrationClientURI: md.Issuer + "/register/c1", RegistrationAccessToken: "rat-value"}
	_, err := register.Update(context.Background(), testClient(t), md, c, register.Request{})
	var re *register.Error
	if !errors.As(err, &re) || re.Method != http.MethodPut || re.Status != http.StatusUnauthorized {
		t.Fatalf("got %v, want a *register.Error for the PUT with status 401", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "register anew") || strings.Contains(msg, "initial access token") {
		t.Fatalf("message %q, want it to say to register anew", msg)
	}
}
