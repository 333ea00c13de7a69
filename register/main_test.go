package register_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/register"
	"github.com/authloop/authloop/store"
	"go.uber.org/goleak"
	"golang.org/x/oauth2"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testClient returns an HTTP client whose connections are closed after
// the test.
func testClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// newAS starts an oauthtest server that the test's cleanup closes, and
// returns it with its discovered metadata.
func newAS(t *testing.T, cfg oauthtest.Config) (*oauthtest.Server, *discovery.AuthServerMetadata) {
	t.Helper()
	srv := oauthtest.NewServer(cfg)
	t.Cleanup(srv.Close)
	md, err := discovery.AuthServer(context.Background(), testClient(t), srv.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	return srv, md
}

// fakeRegistrar starts an httptest server whose handler is h, and returns
// metadata whose registration endpoint is its /register.
func fakeRegistrar(t *testing.T, h http.HandlerFunc) *discovery.AuthServerMetadata {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return &discovery.AuthServerMetadata{
		Issuer:               ts.URL,
		RegistrationEndpoint: ts.URL + "/register",
	}
}

// login signs in at srv as c, the way a native app does: a loopback
// listener on /callback (the path of register.DefaultRedirectURI, with a
// port of its own), Browse as the browser, the code exchange with PKCE by
// golang.org/x/oauth2, and a call to the protected resource with the token.
func login(t *testing.T, srv *oauthtest.Server, c *store.Client) {
	t.Helper()
	ctx := context.Background()
	codes := make(chan string, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		select {
		case codes <- r.FormValue("code"):
		default:
		}
		fmt.Fprintln(w, "signed in")
	}))
	defer cb.Close()

	ep := srv.Endpoint()
	switch register.AuthMethod(c) {
	case register.AuthNone, register.AuthClientSecretPost:
		ep.AuthStyle = oauth2.AuthStyleInParams
	case register.AuthClientSecretBasic:
		ep.AuthStyle = oauth2.AuthStyleInHeader
	}
	cfg := oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Endpoint:     ep,
		RedirectURL:  cb.URL + "/callback",
		Scopes:       []string{"read", "offline_access"},
	}
	hc := testClient(t)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	verifier := oauth2.GenerateVerifier()
	status, body, err := oauthtest.Browse(ctx, hc, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if err != nil || status != http.StatusOK {
		t.Fatalf("browse: %d %v %s", status, err, body)
	}
	var code string
	select {
	case code = <-codes:
	default:
		t.Fatal("no code reached the callback")
	}
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange as %s: %v", c, err)
	}
	if !tok.Valid() || tok.RefreshToken == "" {
		t.Fatalf("token valid %v, refresh token %v", tok.Valid(), tok.RefreshToken != "")
	}
	resp, err := cfg.Client(ctx, tok).Get(srv.ResourceEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resource: %s", resp.Status)
	}
}
