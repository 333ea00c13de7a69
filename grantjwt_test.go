package authloop

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// workloadFixture is an authorization server that trusts a workload
// platform's issuer, a public client, and the platform's token file.
type workloadFixture struct {
	*machineFixture
	platform *oauthtest.AssertionIssuer
	file     string
}

func newWorkloadFixture(t *testing.T) *workloadFixture {
	t.Helper()
	platform := oauthtest.NewAssertionIssuer("https://kubernetes.default.svc")
	w := &workloadFixture{platform: platform, file: filepath.Join(t.TempDir(), "token")}
	w.machineFixture = newMachineFixture(t, oauthtest.Config{TrustedIssuers: []oauthtest.TrustedIssuer{platform.Trusted()}, RequireJTI: true, AccessTokenTTL: time.Hour}, JWTBearer(AssertionFile(w.file)))
	w.cfg.OAuth2.ClientID = oauthtest.DefaultClientID // public: the assertion is the credential
	w.cfg.OAuth2.ClientSecret = ""
	return w
}

// rotate writes a new workload token, as the platform does.
func (w *workloadFixture) rotate(aud string) {
	w.t.Helper()
	tok := w.platform.Sign(w.platform.Claims("system:serviceaccount:ci:runner", aud, w.clock.Now(), 10*time.Minute))
	if err := os.WriteFile(w.file, []byte(tok+"\n"), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// The workload's token file is read at each grant: after a rotation the
// new token goes (the old one, sent again, would be a replay the server
// refuses).
func TestJWTBearerWorkloadSession(t *testing.T) {
	w := newWorkloadFixture(t)
	w.rotate(w.srv.Issuer())
	s := w.session()
	ctx := context.Background()
	for round := 1; round <= 3; round++ {
		tok, err := s.Token(ctx)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !w.srv.ValidAccessToken(tok.AccessToken) {
			t.Fatalf("round %d: a token the server does not know", round)
		}
		if got := w.grants(oauthtest.JWTBearerGrantType); got != round {
			t.Fatalf("round %d: %d JWT bearer requests", round, got)
		}
		w.clock.Advance(time.Hour)
		w.rotate(w.srv.Issuer())
	}
	if n := len(w.srv.Requests()) - w.grants(oauthtest.JWTBearerGrantType); n != 0 {
		t.Errorf("%d requests other than the JWT bearer grant", n)
	}
}

// A refused assertion is an error, once: no retry, no other grant, no
// browser (the MCP conformance suite's wif-no-retry and
// wif-grant-fallback), until the pause ends.
func TestJWTBearerRefusedNeverFallsBack(t *testing.T) {
	w := newWorkloadFixture(t)
	w.cfg.Interactive = false
	w.rotate("https://another-server.example")
	s := w.session()
	for range 3 {
		_, err := s.Token(context.Background())
		var gr *GrantRefusedError
		if !errors.As(err, &gr) || gr.Grant != oauthtest.JWTBearerGrantType || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(gr.Fix, "audience") {
			t.Fatalf("err = %v; want a *GrantRefusedError naming the assertion's audience", err)
		}
	}
	if got := len(w.srv.Requests()); got != 1 {
		t.Errorf("%d requests after a refused assertion, want the one", got)
	}
	if _, err := s.Login(context.Background()); err == nil {
		t.Error("Login with the same refused assertion succeeded")
	}
}

// Enterprise-managed authorization: the person's session at the identity
// provider gives the ID token; the program's session exchanges it for an
// ID-JAG there, and presents that at its authorization server; again,
// without a browser, when the token expires (the provider's session
// renews an expired ID token with its refresh token).
func TestIdentityAssertionSession(t *testing.T) {
	clock := oauthtest.NewFakeClock(epoch)
	idp := oauthtest.NewServer(oauthtest.Config{TokenExchange: true, Clock: clock, AccessTokenTTL: 30 * time.Minute})
	defer idp.Close()
	as := oauthtest.NewServer(oauthtest.Config{
		Clock:          clock,
		TrustedIssuers: []oauthtest.TrustedIssuer{idp.TrustedIssuer()},
		Clients:        []oauthtest.Client{{ID: idp.ClientID(), Secret: "app-secret"}},
		AccessTokenTTL: time.Hour,
	})
	defer as.Close()

	b := &approvingBrowser{}
	defer b.wg.Wait()
	person := testConfig(idp, b.open)
	person.Clock = clock
	idTok, err := Login(context.Background(), person)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := NewSession(person, idTok)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()

	idpCfg := &Config{OAuth2: &oauth2.Config{ClientID: idp.ClientID(), Endpoint: oauth2.Endpoint{TokenURL: idp.TokenEndpoint()}}}
	cfg := &Config{
		OAuth2:   &oauth2.Config{ClientID: idp.ClientID(), ClientSecret: "app-secret", Endpoint: oauth2.Endpoint{TokenURL: as.TokenEndpoint()}},
		Issuer:   as.Issuer(),
		Resource: as.ResourceIdentifier(),
		Grant:    IdentityAssertion(idpCfg, IDTokenOf(ps)),
		Clock:    clock,
		Prompt:   io.Discard,
	}
	s, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for round := 1; round <= 2; round++ {
		tok, err := s.Token(context.Background())
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !as.ValidAccessToken(tok.AccessToken) {
			t.Fatalf("round %d: the authorization server does not know the token", round)
		}
		if ex, jb := idp.CountGrant(oauthtest.TokenExchangeGrantType), as.CountGrant(oauthtest.JWTBearerGrantType); ex != round || jb != round {
			t.Fatalf("round %d: %d exchanges, %d JWT bearer grants", round, ex, jb)
		}
		clock.Advance(time.Hour) // past both the token and the ID token
	}
	if got := idp.CountGrant("refresh_token"); got != 1 {
		t.Errorf("the identity provider's session refreshed %d times, want once (its ID token had expired)", got)
	}
	if got := idp.Count("authorize"); got != 1 {
		t.Errorf("%d sign-ins at the identity provider, want the person's first", got)
	}
}

// The identity provider refuses the exchange: a *GrantRefusedError naming
// the exchange, and nothing reaches the authorization server.
func TestIdentityAssertionExchangeRefused(t *testing.T) {
	clock := oauthtest.NewFakeClock(epoch)
	idp := oauthtest.NewServer(oauthtest.Config{TokenExchange: true, Clock: clock})
	defer idp.Close()
	as := oauthtest.NewServer(oauthtest.Config{Clock: clock, TrustedIssuers: []oauthtest.TrustedIssuer{idp.TrustedIssuer()}})
	defer as.Close()
	idpCfg := &Config{OAuth2: &oauth2.Config{ClientID: idp.ClientID(), Endpoint: oauth2.Endpoint{TokenURL: idp.TokenEndpoint()}}}
	forged := func(context.Context) (string, error) { return "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2ln", nil }
	cfg := &Config{
		OAuth2: &oauth2.Config{ClientID: as.ClientID(), Endpoint: oauth2.Endpoint{TokenURL: as.TokenEndpoint()}},
		Issuer: as.Issuer(),
		Grant:  IdentityAssertion(idpCfg, forged),
		Clock:  clock,
	}
	s, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Token(context.Background())
	var gr *GrantRefusedError
	if !errors.As(err, &gr) || gr.Grant != oauthtest.TokenExchangeGrantType || !strings.Contains(gr.Fix, "identity provider") {
		t.Fatalf("err = %v; want the exchange's *GrantRefusedError", err)
	}
	if n := as.Count("token"); n != 0 {
		t.Errorf("%d requests reached the authorization server", n)
	}
}
