package authloop

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/store"

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
	// The file is rotated here only after each hour: no background
	// renewal before it, with the file's expired token.
	w.cfg.DisableAutoRefresh = true
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
	flaky := &flakyStore{Store: store.NewMemory()}
	person.Store = flaky
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
		// The provider's session cannot save its renewed tokens: the new
		// ID token serves all the same (the session saves it later).
		flaky.failSaves.Store(1000)
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

// A program's refresh token (a server that issues one with the JWT bearer
// grant) keeps the token its subject's: a restarted session takes the
// refreshed token, without a grant of its own.
func TestJWTBearerRefreshedTokenKeepsItsSubject(t *testing.T) {
	w := newWorkloadFixture(t)
	w.srv.Close()
	w.srv = oauthtest.NewServer(oauthtest.Config{Clock: w.clock, TrustedIssuers: []oauthtest.TrustedIssuer{w.platform.Trusted()}, JWTBearerRefreshTokens: true})
	defer w.srv.Close()
	w.cfg.OAuth2.Endpoint.TokenURL = w.srv.TokenEndpoint()
	w.cfg.Issuer = w.srv.Issuer()
	w.cfg.Store = store.NewMemory()
	w.cfg.DisableAutoRefresh = true
	w.rotate(w.srv.Issuer())
	s := w.session()
	ctx := context.Background()
	if _, err := s.Token(ctx); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour)
	refreshed, err := s.Token(ctx)
	if err != nil || w.grants("refresh_token") != 1 {
		t.Fatalf("the refresh: %v (%d refresh requests)", err, w.grants("refresh_token"))
	}
	again := w.session()
	tok, err := again.Token(ctx)
	if err != nil || tok.AccessToken != refreshed.AccessToken {
		t.Fatalf("a restarted session did not take the refreshed token: %v", err)
	}
	if n := w.grants(oauthtest.JWTBearerGrantType); n != 1 {
		t.Errorf("%d JWT bearer grants, want the first only", n)
	}
}

// A grant asks for the resource's scopes, but not for a person's
// (openid, offline_access) unless configured.
func TestProgramScopes(t *testing.T) {
	got := programScopes([]string{"read", "openid", "write", "offline_access"}, nil)
	if strings.Join(got, " ") != "read write" {
		t.Errorf("from metadata: %q", got)
	}
	got = programScopes([]string{"openid", "read", "offline_access"}, []string{"openid"})
	if strings.Join(got, " ") != "openid read" {
		t.Errorf("openid configured: %q", got)
	}
	if got := programScopes(nil, nil); len(got) != 0 {
		t.Errorf("none: %q", got)
	}
}

// A stored token is another subject's unless both name the same one; an
// assertion that names none (not a JWT) owns no stored token but the
// session's own.
func TestOwnStored(t *testing.T) {
	mk := func(access, sub string) *oauth2.Token {
		tok := &oauth2.Token{AccessToken: access}
		if sub != "" {
			tok = markSubject(tok, sub)
		}
		return tok
	}
	own := mk("own", "")
	for _, c := range []struct {
		name         string
		stored, held *oauth2.Token
		mine         string
		bound, want  bool
	}{
		{"client credentials", mk("a", ""), nil, "", false, true},
		{"same subject", mk("a", "iss alice"), nil, "iss alice", true, true},
		{"another subject", mk("a", "iss bob"), nil, "iss alice", true, false},
		{"none stored", mk("a", ""), nil, "iss alice", true, false},
		{"mine unknown", mk("a", ""), nil, "", true, false},
		{"the session's own", own, own, "", true, true},
	} {
		got := ownStored(c.stored, c.held, c.mine, c.bound)
		if (got != nil) != c.want {
			t.Errorf("%s: ownStored = %v, want used %t", c.name, got != nil, c.want)
		}
	}
	if got := ownStored(nil, nil, "x", true); got != nil {
		t.Error("nil stored")
	}
	for jwt, want := range map[string]string{
		"e30." + b64(`{"iss":"https://k8s","sub":"sa:ci"}`) + ".sig": "https://k8s sa:ci",
		"e30." + b64(`{"iss":"https://k8s"}`) + ".sig":               "",
		"e30." + b64(`{"sub":"x"}`) + ".sig":                         "",
		"opaque-token":                                               "",
		"a.b.c.d":                                                    "",
		"e30.!!!.sig":                                                "",
	} {
		if got := subjectOf(jwt); got != want {
			t.Errorf("subjectOf(%q) = %q, want %q", jwt, got, want)
		}
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// formRecorder records the forms of the requests a client sends.
type formRecorder struct {
	mu    sync.Mutex
	forms []url.Values
}

func (r *formRecorder) client() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodPost {
			return http.DefaultTransport.RoundTrip(req) // the metadata
		}
		body, _ := io.ReadAll(req.Body)
		form, _ := url.ParseQuery(string(body))
		r.mu.Lock()
		r.forms = append(r.forms, form)
		r.mu.Unlock()
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		return http.DefaultTransport.RoundTrip(req)
	})}
}

// The identity provider's exchange: found through its issuer's metadata
// when no token endpoint is given, and asked for an ID-JAG for exactly the
// session's authorization server, resource and scopes (RFC 8693 §2.1, the
// ID-JAG draft).
func TestIdentityAssertionExchangeRequest(t *testing.T) {
	clock := oauthtest.NewFakeClock(epoch)
	idp := oauthtest.NewServer(oauthtest.Config{TokenExchange: true, Clock: clock})
	defer idp.Close()
	as := oauthtest.NewServer(oauthtest.Config{Clock: clock, TrustedIssuers: []oauthtest.TrustedIssuer{idp.TrustedIssuer()}})
	defer as.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	person := testConfig(idp, b.open)
	person.Clock = clock
	idTok, err := Login(context.Background(), person)
	if err != nil {
		t.Fatal(err)
	}
	idToken := func(context.Context) (string, error) { return idTok.Extra("id_token").(string), nil }
	for _, scopes := range [][]string{{"read"}, nil} {
		rec := &formRecorder{}
		idpCfg := &Config{OAuth2: &oauth2.Config{ClientID: idp.ClientID()}, Issuer: idp.Issuer(), HTTPClient: rec.client()}
		cfg := &Config{
			OAuth2:   &oauth2.Config{ClientID: as.ClientID(), Endpoint: oauth2.Endpoint{TokenURL: as.TokenEndpoint()}, Scopes: scopes},
			Issuer:   as.Issuer(),
			Resource: as.ResourceIdentifier(),
			Grant:    IdentityAssertion(idpCfg, idToken),
			Clock:    clock,
		}
		s, err := NewSession(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Token(context.Background())
		s.Close()
		if err != nil {
			t.Fatalf("scopes %q: %v", scopes, err)
		}
		if len(rec.forms) != 1 {
			t.Fatalf("%d requests to the identity provider's token endpoint, want 1", len(rec.forms))
		}
		got := rec.forms[0]
		want := url.Values{
			"grant_type": {grantTokenExchange}, "requested_token_type": {tokenTypeIDJAG}, "subject_token_type": {tokenTypeIDToken},
			"subject_token": {idTok.Extra("id_token").(string)}, "audience": {as.Issuer()}, "resource": {as.ResourceIdentifier()},
			"client_id": {idp.ClientID()},
		}
		if len(scopes) > 0 {
			want.Set("scope", strings.Join(scopes, " "))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("scopes %q: the exchange's form\n got %v\nwant %v", scopes, got, want)
		}
	}
	bad := IdentityAssertion(&Config{OAuth2: &oauth2.Config{ClientID: "x"}}, idToken)
	if _, err := bad.GrantForm(context.Background(), GrantTarget{Issuer: as.Issuer()}); err == nil || !strings.Contains(err.Error(), "neither OAuth2.Endpoint.TokenURL nor Issuer") {
		t.Errorf("an identity provider without endpoint or issuer: %v", err)
	}
	if _, err := IdentityAssertion(nil, idToken).GrantForm(context.Background(), GrantTarget{Issuer: as.Issuer()}); err == nil {
		t.Error("no identity provider: no error")
	}
	if _, err := IdentityAssertion(&Config{OAuth2: &oauth2.Config{ClientID: "x", Endpoint: oauth2.Endpoint{TokenURL: idp.TokenEndpoint()}}}, idToken).GrantForm(context.Background(), GrantTarget{}); err == nil || !strings.Contains(err.Error(), "issuer") {
		t.Errorf("no issuer to be the audience: %v", err)
	}
}

// IDTokenOf needs an ID token: a session signed in without openid holds
// none, and a refresh that brings none is an error naming the fix.
func TestIDTokenOfWithoutOpenID(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := testConfig(srv, b.open)
	cfg.OAuth2.Scopes = []string{"read", "offline_access"}
	tok, err := Login(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = IDTokenOf(s)(context.Background())
	if err == nil || !strings.Contains(err.Error(), "openid") {
		t.Errorf("err = %v; want one naming the openid scope", err)
	}
	if n := srv.Count("token"); n != 2 {
		t.Errorf("%d token requests, want 2 (the sign-in, one refresh for a new ID token)", n)
	}
}

// A program's stored token from another authorization server (its issuer
// in the token) is never refreshed there: the grant runs at this one.
func TestGrantSessionTokenIssuedElsewhere(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{}, ClientCredentials())
	old := withExtra(&oauth2.Token{AccessToken: "from-b", RefreshToken: "rt-b", Expiry: epoch.Add(-time.Minute)}, map[string]any{issuerKey: "https://b.example"})
	s, err := NewSession(f.cfg, old)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok, err := s.Token(context.Background())
	if err != nil || !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatalf("Token: %v", err)
	}
	if f.grants("refresh_token") != 0 || f.grants("client_credentials") != 1 {
		t.Errorf("%d refreshes, %d grants; want the grant only", f.grants("refresh_token"), f.grants("client_credentials"))
	}
}

// The identity provider's client authentication follows its metadata, as
// a session's does: a provider that lists only client_secret_post gets the
// secret in the body.
func TestIdentityAssertionProviderAuthFromMetadata(t *testing.T) {
	clock := oauthtest.NewFakeClock(epoch)
	idp := oauthtest.NewServer(oauthtest.Config{TokenExchange: true, Clock: clock, Clients: []oauthtest.Client{{ID: "gw", Secret: "gw-secret", AuthMethod: oauthtest.AuthClientSecretPost}}})
	defer idp.Close()
	as := oauthtest.NewServer(oauthtest.Config{Clock: clock, TrustedIssuers: []oauthtest.TrustedIssuer{idp.TrustedIssuer()}, Clients: []oauthtest.Client{{ID: "gw"}}})
	defer as.Close()
	var mdURL string
	md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q,"code_challenge_methods_supported":["S256"],"token_endpoint_auth_methods_supported":["client_secret_post"]}`, mdURL, idp.TokenEndpoint())
	}))
	defer md.Close()
	mdURL = md.URL
	b := &approvingBrowser{}
	defer b.wg.Wait()
	person := testConfig(idp, b.open)
	person.OAuth2.ClientID, person.OAuth2.ClientSecret = "gw", "gw-secret"
	person.OAuth2.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	person.Clock = clock
	idTok, err := Login(context.Background(), person)
	if err != nil {
		t.Fatal(err)
	}
	idpCfg := &Config{OAuth2: &oauth2.Config{ClientID: "gw", ClientSecret: "gw-secret"}, Issuer: mdURL}
	cfg := &Config{
		OAuth2: &oauth2.Config{ClientID: "gw", Endpoint: oauth2.Endpoint{TokenURL: as.TokenEndpoint()}},
		Issuer: as.Issuer(),
		Grant:  IdentityAssertion(idpCfg, func(context.Context) (string, error) { return idTok.Extra("id_token").(string), nil }),
		Clock:  clock,
	}
	s, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatalf("Token: %v", err)
	}
}
