package authloop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// machineFixture is an oauthtest server with a confidential client, on a
// fake clock, and a config of a program's session with a Grant.
type machineFixture struct {
	t     *testing.T
	srv   *oauthtest.Server
	clock *oauthtest.FakeClock
	cfg   *Config
}

const (
	machineID     = "ci-job"
	machineSecret = "s3cret-of-the-ci-job"
)

func newMachineFixture(t *testing.T, sc oauthtest.Config, g Grant) *machineFixture {
	t.Helper()
	f := &machineFixture{t: t, clock: oauthtest.NewFakeClock(epoch)}
	sc.Clock = f.clock
	sc.Clients = append(sc.Clients, oauthtest.Client{ID: machineID, Secret: machineSecret}, oauthtest.Client{ID: oauthtest.DefaultClientID})
	f.srv = oauthtest.NewServer(sc)
	t.Cleanup(f.srv.Close)
	f.cfg = &Config{
		OAuth2: &oauth2.Config{
			ClientID:     machineID,
			ClientSecret: machineSecret,
			Endpoint:     oauth2.Endpoint{TokenURL: f.srv.TokenEndpoint()},
			Scopes:       []string{"read"},
		},
		Issuer: f.srv.Issuer(),
		Grant:  g,
		Clock:  f.clock,
		Prompt: io.Discard,
		Browser: func(context.Context, string) error {
			t.Error("a program's session opened a browser")
			return errors.New("no browser here")
		},
	}
	return f
}

func (f *machineFixture) session() *Session {
	f.t.Helper()
	s, err := NewSession(f.cfg, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	s.backoffBase = time.Millisecond
	s.backoffCap = 20 * time.Millisecond
	f.t.Cleanup(func() { s.Close() })
	return s
}

// grants counts the token requests of grant type gt.
func (f *machineFixture) grants(gt string) int {
	n := 0
	for _, r := range f.srv.Requests() {
		if r.Endpoint == "token" && r.GrantType == gt {
			n++
		}
	}
	return n
}

func TestClientCredentialsSessionLifecycle(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{AccessTokenTTL: time.Hour}, ClientCredentials())
	s := f.session()
	ctx := context.Background()
	tok, err := s.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatal("the server does not know the token")
	}
	if got := f.grants("client_credentials"); got != 1 {
		t.Fatalf("%d client_credentials requests, want 1", got)
	}
	// Many callers, then the token past its refresh point: one request
	// per expiry, never a refresh_token grant, never a browser.
	for cycle := 2; cycle <= 4; cycle++ {
		f.clock.Advance(time.Hour - time.Second)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.Token(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if !f.srv.ValidAccessToken(got.AccessToken) {
					t.Error("Token returned a token the server does not know")
				}
			}()
		}
		wg.Wait()
		if got := f.grants("client_credentials"); got != cycle {
			t.Fatalf("after %d expiries: %d client_credentials requests, want %d", cycle-1, got, cycle)
		}
	}
	if n := f.grants("refresh_token") + f.srv.Count("authorize"); n != 0 {
		t.Errorf("%d refresh or authorization requests for a program's session", n)
	}
	rec, err := s.Store().Load(ctx, s.Key())
	if err != nil || rec.Token == nil || rec.Token.AccessToken != s.Cached().AccessToken {
		t.Fatalf("the token is not kept in the store: %v", err)
	}
	if s.Key().Grant != "client_credentials" {
		t.Errorf("the record's key names grant %q, want client_credentials", s.Key().Grant)
	}
}

// The form the session sends: the grant, the configured scope, the
// resource, the client's secret in the Authorization header only.
func TestClientCredentialsRequestForm(t *testing.T) {
	var got url.Values
	var basic bool
	f := newMachineFixture(t, oauthtest.Config{}, ClientCredentials())
	f.cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		body, _ := io.ReadAll(r.Body)
		got, _ = url.ParseQuery(string(body))
		_, _, basic = r.BasicAuth()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		return http.DefaultTransport.RoundTrip(r)
	})}
	f.cfg.Resource = f.srv.ResourceIdentifier()
	if _, err := f.session().Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}, "resource": {f.srv.ResourceIdentifier()}}
	for k, v := range want {
		if got.Get(k) != v[0] {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v[0])
		}
	}
	if got.Has("client_secret") || !basic {
		t.Errorf("the secret went in the form (%t) or not in Basic (%t)", got.Has("client_secret"), basic)
	}
}

func TestClientCredentialsRefusedIsTypedAndPaused(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{}, ClientCredentials())
	f.cfg.OAuth2.ClientSecret = "wrong"
	var failures int
	f.cfg.OnRefreshFailure = func(error) { failures++ }
	s := f.session()
	_, err := s.Token(context.Background())
	var gr *GrantRefusedError
	if !errors.As(err, &gr) || gr.Grant != "client_credentials" || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("err = %v; want a *GrantRefusedError for invalid_client", err)
	}
	if errors.Is(err, ErrLoginRequired) {
		t.Error("a refused program is not a login to run")
	}
	if !strings.Contains(gr.Fix, "ClientSecret") {
		t.Errorf("the fix does not name the setting: %s", gr.Fix)
	}
	// Refused: no request again before the pause ends, whoever asks.
	for range 3 {
		if _, err := s.Token(context.Background()); !errors.As(err, &gr) {
			t.Fatalf("again: %v", err)
		}
	}
	if got := f.grants("client_credentials"); got != 1 {
		t.Errorf("%d requests while paused, want 1", got)
	}
	f.clock.Advance(configPause + time.Second)
	s.Token(context.Background())
	if got := f.grants("client_credentials"); got != 2 {
		t.Errorf("%d requests after the pause, want 2", got)
	}
	if failures != 1 {
		t.Errorf("OnRefreshFailure called %d times, want once per episode", failures)
	}
}

func TestGrantSessionRetriesTransientFailures(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{}, ClientCredentials())
	f.srv.FailNext(2, oauthtest.Fault{Kind: oauthtest.FaultServerError})
	tok, err := f.session().Token(context.Background())
	if err != nil || !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatalf("after two 500s: %v", err)
	}
	if got := f.grants("client_credentials"); got != 3 {
		t.Errorf("%d requests, want 3 (two failed, retried)", got)
	}
}

// Login on a program's session runs its grant anew; it never opens a
// browser, and does not take the token it already has.
func TestGrantSessionLoginRunsTheGrant(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{}, ClientCredentials())
	s := f.session()
	first, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if again.AccessToken == first.AccessToken || f.grants("client_credentials") != 2 {
		t.Errorf("Login did not run the grant anew (%d requests)", f.grants("client_credentials"))
	}
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.grants("client_credentials") != 3 {
		t.Errorf("Refresh did not run the grant: %d requests", f.grants("client_credentials"))
	}
}

// A program's tokens and a person's never share a record, though client,
// issuer, resource and account are the same.
func TestGrantRecordApartFromAPersons(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{}, ClientCredentials())
	st := store.NewMemory()
	f.cfg.Store = st
	person := *f.cfg
	person.Grant = nil
	person.OAuth2 = &oauth2.Config{ClientID: machineID, ClientSecret: machineSecret, Endpoint: f.srv.Endpoint()}
	if person.sessionKey() == f.cfg.sessionKey() {
		t.Fatal("the same key for a person's and a program's session")
	}
	ps, err := NewSession(&person, &oauth2.Token{AccessToken: "a-persons-token", RefreshToken: "r", Expiry: epoch.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	tok, err := f.session().Token(context.Background())
	if err != nil || tok.AccessToken == "a-persons-token" {
		t.Fatalf("the program got the person's token, or none: %v", err)
	}
}

func TestGrantConfigRefused(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(*Config)
		want string
	}{
		"interactive": {func(c *Config) { c.Interactive = true }, "Interactive"},
		"no client":   {func(c *Config) { c.OAuth2.ClientID = "" }, "ClientID"},
	} {
		f := newMachineFixture(t, oauthtest.Config{}, ClientCredentials())
		c.edit(f.cfg)
		if _, err := NewSession(f.cfg, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v; want one naming %s", name, err, c.want)
		}
	}
}

// A JWT bearer grant reads its assertion file at every request: the
// platform rotates it.
func TestAssertionFileReadAtEachUse(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	src := AssertionFile(p)
	if _, err := src(context.Background()); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("a missing file: %v", err)
	}
	for _, content := range []string{"first.jwt.x\n", "second.jwt.y"} {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		form, err := JWTBearer(src).GrantForm(context.Background(), GrantTarget{})
		if err != nil {
			t.Fatal(err)
		}
		if got := form.Get("assertion"); got != strings.TrimSpace(content) || form.Get("grant_type") != grantJWTBearer {
			t.Errorf("form %v after writing %q", form, content)
		}
	}
	os.WriteFile(p, []byte(" \n"), 0o600)
	if _, err := src(context.Background()); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty file: %v", err)
	}
	os.WriteFile(p, []byte(strings.Repeat("a", maxAssertion)), 0o600)
	if _, err := src(context.Background()); err != nil {
		t.Errorf("an assertion of the largest size: %v", err)
	}
	os.WriteFile(p, []byte(strings.Repeat("a", maxAssertion+1)), 0o600)
	if _, err := src(context.Background()); err == nil || !strings.Contains(err.Error(), "65537 bytes") {
		t.Errorf("an oversized file: %v", err)
	}
}

// What an AssertionSource returns is checked before it is sent.
func TestJWTBearerChecksTheAssertion(t *testing.T) {
	for _, c := range []struct {
		a, want string
	}{
		{"", "empty"},
		{"a.b c", "white space"},
		{"a.b\nc", "white space"},
		{strings.Repeat("a", maxAssertion+1), "65537 bytes"},
	} {
		src := func(context.Context) (string, error) { return c.a, nil }
		if _, err := JWTBearer(src).GrantForm(context.Background(), GrantTarget{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("assertion %.20q: err = %v; want %q", c.a, err, c.want)
		}
	}
	if form, err := JWTBearer(func(context.Context) (string, error) { return strings.Repeat("a", maxAssertion), nil }).GrantForm(context.Background(), GrantTarget{}); err != nil || len(form.Get("assertion")) != maxAssertion {
		t.Errorf("the largest assertion: %v", err)
	}
	if _, err := JWTBearer(nil).GrantForm(context.Background(), GrantTarget{}); err == nil || !strings.Contains(err.Error(), "AssertionSource") {
		t.Errorf("no source: %v", err)
	}
	boom := errors.New("the platform's metadata server is down")
	if _, err := JWTBearer(func(context.Context) (string, error) { return "", boom }).GrantForm(context.Background(), GrantTarget{}); !errors.Is(err, boom) {
		t.Errorf("the source's error: %v", err)
	}
}

// keyClient returns a P-256 key and the oauthtest client registered with
// its public half (private_key_jwt).
func keyClient(t *testing.T, id string) (*ecdsa.PrivateKey, oauthtest.Client) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k, oauthtest.Client{ID: id, AuthMethod: oauthtest.AuthPrivateKeyJWT, PublicKey: &k.PublicKey}
}

// private_key_jwt: client credentials with a key, each request a new
// assertion for the audience the server wants; a wrong audience or
// another key is a refusal naming the key's settings.
func TestClientCredentialsWithPrivateKeyJWT(t *testing.T) {
	for _, c := range []struct {
		name, serverAud string
		aud             func(*oauthtest.Server) string
		ok              bool
	}{
		{"the issuer by default", "issuer", func(*oauthtest.Server) string { return "" }, true},
		{"the token endpoint when set", "token_endpoint", func(s *oauthtest.Server) string { return s.TokenEndpoint() }, true},
		{"the issuer where the token endpoint is wanted", "token_endpoint", func(*oauthtest.Server) string { return "" }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			key, client := keyClient(t, "keyed-job")
			f := newMachineFixture(t, oauthtest.Config{Clients: []oauthtest.Client{client}, AssertionAudience: c.serverAud}, ClientCredentials())
			f.cfg.OAuth2.ClientID, f.cfg.OAuth2.ClientSecret = "keyed-job", ""
			f.cfg.ClientKey = key
			f.cfg.ClientKeyAudience = c.aud(f.srv)
			s := f.session()
			tok, err := s.Token(context.Background())
			if !c.ok {
				var gr *GrantRefusedError
				if !errors.As(err, &gr) || !strings.Contains(gr.Fix, "ClientKeyAudience") {
					t.Fatalf("err = %v; want a refusal naming Config.ClientKeyAudience", err)
				}
				return
			}
			if err != nil || !f.srv.ValidAccessToken(tok.AccessToken) {
				t.Fatalf("Token: %v", err)
			}
			// A second grant needs a second assertion: the server refuses
			// a jti it has seen.
			if _, err := s.Refresh(context.Background()); err != nil {
				t.Fatalf("a second grant: %v", err)
			}
			if got := f.grants("client_credentials"); got != 2 {
				t.Errorf("%d grants, want 2", got)
			}
		})
	}
}

// A person's session with a key: the code exchange, the refresh, the DPoP
// nonce retry (a new assertion, or the replay is refused) and the
// revocation at logout all authenticate with private_key_jwt.
func TestPrivateKeyJWTThroughAPersonsSession(t *testing.T) {
	key, client := keyClient(t, "keyed-app")
	f := newMachineFixture(t, oauthtest.Config{Clients: []oauthtest.Client{client}, DPoPNonce: true}, nil)
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := testConfig(f.srv, b.open)
	cfg.OAuth2.ClientID = "keyed-app"
	cfg.ClientKey = key
	cfg.Clock = f.clock
	cfg.Interactive = true
	cfg.DPoP = DPoPOn
	s, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	f.srv.RotateDPoPNonce() // the refresh's first proof carries a stale nonce: retried with a new assertion
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if err := s.Logout(context.Background()); err != nil {
		t.Fatalf("logout: %v", err)
	}
	for _, r := range f.srv.Requests() {
		if (r.Endpoint == "token" || r.Endpoint == "revoke") && r.Error != "" && r.Error != "use_dpop_nonce" {
			t.Errorf("%s request refused: %s", r.Endpoint, r.Error)
		}
	}
	if f.grants("refresh_token") != 2 || f.grants("authorization_code") != 2 || f.srv.Count("revoke") == 0 {
		t.Errorf("the nonce retries or the revocation did not happen: %d code and %d refresh requests (want 2 each), %d revocations", f.grants("authorization_code"), f.grants("refresh_token"), f.srv.Count("revoke"))
	}
}

func TestClientKeyConfigRefused(t *testing.T) {
	key, _ := keyClient(t, "x")
	weak, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	for name, c := range map[string]struct {
		edit func(*Config)
		want string
	}{
		"key and secret": {func(c *Config) { c.ClientKey = key }, "ClientSecret"},
		"key, no client": {func(c *Config) { c.ClientKey, c.OAuth2.ClientSecret, c.OAuth2.ClientID = key, "", "" }, "ClientID"},
		"P-224":          {func(c *Config) { c.ClientKey, c.OAuth2.ClientSecret = weak, "" }, "P-256"},
		"key id, no key": {func(c *Config) { c.ClientKeyID = "k1" }, "ClientKey"},
		"audience alone": {func(c *Config) { c.ClientKeyAudience = "https://x" }, "ClientKey"},
	} {
		f := newMachineFixture(t, oauthtest.Config{}, nil)
		c.edit(f.cfg)
		if _, err := NewSession(f.cfg, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v; want one naming %s", name, err, c.want)
		}
	}
}

// A 403 insufficient_scope on a program's session runs its grant again
// for the challenged scopes (bounded like a person's step-up): no
// browser, no ErrLoginRequired.
func TestGrantSessionStepUp(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{}, ClientCredentials())
	s := f.session()
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.ResourceEndpoint(), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp := &http.Response{StatusCode: http.StatusForbidden, Header: http.Header{"Www-Authenticate": {`Bearer error="insufficient_scope", scope="read write"`}}, Request: req}
	if err := s.Authorize(context.Background(), req, resp); err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	got := s.Cached()
	if !covers(got.Extra("scope"), []string{"read", "write"}) {
		t.Errorf("after the step-up the token carries %q", scopeString(got))
	}
	if n := f.grants("client_credentials"); n != 2 {
		t.Errorf("%d grants, want 2", n)
	}
	// The server keeps refusing: the session gives up after its bound.
	for range maxStepUps + 2 {
		req.Header.Set("Authorization", "Bearer "+s.Cached().AccessToken)
		resp.Header.Set("Www-Authenticate", `Bearer error="insufficient_scope", scope="read write admin"`)
		if err := s.Authorize(context.Background(), req, resp); err != nil {
			break
		}
	}
	if n := f.grants("client_credentials"); n > 2+maxStepUps {
		t.Errorf("%d grants: the step-ups did not stop", n)
	}
}

// A program's session proves a DPoP key like a person's (Config.DPoP):
// its grants are bound to the key, kept in the record, and a restarted
// session proves with the same key.
func TestClientCredentialsWithDPoP(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{DPoPNonce: true}, ClientCredentials())
	f.cfg.DPoP = DPoPOn
	f.cfg.Store = store.NewMemory()
	s := f.session()
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	jkt := f.srv.TokenBinding(tok.AccessToken)
	if tok.Type() != "DPoP" || jkt == "" || jkt != s.DPoPThumbprint() {
		t.Fatalf("token type %q bound to %q, the session proves %q", tok.Type(), jkt, s.DPoPThumbprint())
	}
	s.Close()
	f.clock.Advance(2 * time.Hour)
	again := f.session()
	tok2, err := again.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := f.srv.TokenBinding(tok2.AccessToken); got != jkt {
		t.Errorf("the restarted session's token is bound to %q, want the stored key %q", got, jkt)
	}
}

// Login on a program's session waits for another process's grant under
// way and takes its token when that grant was obtained after Login was
// called, rather than asking the server again; a token obtained before
// the call is not taken.
func TestGrantSessionLoginAdoptsAGrantMadeMeanwhile(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{}, ClientCredentials())
	st := store.NewMemory()
	f.cfg.Store = st
	s := f.session()
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	unlock, err := st.Lock(context.Background(), s.Key(), "refresh")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *oauth2.Token, 1)
	go func() {
		tok, err := s.Login(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- tok
	}()
	eventually(t, "Login's flight to start", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.flight != nil })
	// Another process, holding the lock, obtains its token and saves it
	// while Login waits.
	f.clock.Advance(time.Second)
	elsewhere := *f.cfg
	elsewhere.Store = store.NewMemory()
	proc, err := NewSession(&elsewhere, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Close()
	theirs, err := proc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := st.Load(context.Background(), s.Key())
	if err != nil {
		t.Fatal(err)
	}
	rec.Token = toStored(theirs)
	if _, err := st.Save(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	unlock()
	got := <-done
	if got.AccessToken != theirs.AccessToken {
		t.Errorf("Login asked anew instead of taking the grant another process obtained meanwhile")
	}
	if n := f.grants("client_credentials"); n != 2 {
		t.Errorf("%d grants, want 2 (the first, the other process's)", n)
	}
	// A token another process saved before Login was called is not a new
	// grant: Login asks anew.
	proc.Login(context.Background())
	before, _ := st.Load(context.Background(), s.Key())
	before.Token = toStored(proc.Cached())
	st.Save(context.Background(), before)
	f.clock.Advance(time.Second)
	fresh, err := s.Login(context.Background())
	if err != nil || fresh.AccessToken == proc.Cached().AccessToken {
		t.Errorf("Login took a token obtained before it was called: %v", err)
	}
}

// Discovery for a program needs only the token endpoint: an authorization
// server whose metadata names no authorization endpoint (a machine-only
// server) serves a program's session, and is refused for a person's.
func TestGrantDiscoveryNeedsOnlyTheTokenEndpoint(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{}, ClientCredentials())
	var issuer string
	md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/.well-known/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q,"code_challenge_methods_supported":["S256"],"grant_types_supported":["client_credentials"]}`, issuer, f.srv.TokenEndpoint())
	}))
	defer md.Close()
	issuer = md.URL
	f.cfg.Issuer = issuer
	f.cfg.OAuth2.Endpoint = oauth2.Endpoint{}
	tok, err := f.session().Token(context.Background())
	if err != nil || !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatalf("a program at a server without an authorization endpoint: %v", err)
	}
	person := testConfig(f.srv, nil)
	person.Issuer = issuer
	person.OAuth2.Endpoint = oauth2.Endpoint{}
	if _, err := Login(context.Background(), person); err == nil || !strings.Contains(err.Error(), "no authorization or token endpoint") {
		t.Errorf("a person's login at a server without an authorization endpoint: %v", err)
	}
}
