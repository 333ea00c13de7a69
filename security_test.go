package authloop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net"
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

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// The security suite's attacks on the library (docs/SECURITY.md). Each
// test performs the attack against oauthtest (or a hostile server of its
// own) and watches every request the library sends through a recorder.

// recorder is an http.RoundTripper that keeps every request the library
// sends, with its body, and collects the secret values that cross it in
// either direction: codes, verifiers, tokens, client secrets, device codes.
type recorder struct {
	base http.RoundTripper

	mu      sync.Mutex
	reqs    []recorded
	secrets map[string]string // value -> what it is
}

type recorded struct {
	method, url, host string
	auth              string
	form              url.Values
	status            int
}

func newRecorder() *recorder {
	return &recorder{base: &http.Transport{DisableKeepAlives: true}, secrets: map[string]string{}}
}

func (r *recorder) client() *http.Client {
	return &http.Client{Transport: r, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// secretRequestFields and secretResponseFields hold values that must never
// be printed nor put in a URL.
var (
	secretRequestFields  = []string{"code", "code_verifier", "refresh_token", "client_secret", "device_code", "token"}
	secretResponseFields = []string{"access_token", "refresh_token", "id_token", "device_code", "client_secret", "registration_access_token"}
)

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := recorded{method: req.Method, url: req.URL.String(), host: req.URL.Host, auth: req.Header.Get("Authorization")}
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec.form, _ = url.ParseQuery(string(body))
		r.addJSON(body, secretResponseFields) // a registration request carries no secret; harmless
	}
	r.mu.Lock()
	for _, f := range secretRequestFields {
		for _, v := range rec.form[f] {
			r.addLocked(v, "request "+f)
		}
	}
	if u, p, ok := req.BasicAuth(); ok {
		r.addLocked(p, "basic auth secret of "+u)
	}
	if b := bearerOf(rec.auth); b != "" {
		r.addLocked(b, "bearer token sent")
	}
	r.mu.Unlock()
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		r.mu.Lock()
		r.reqs = append(r.reqs, rec)
		r.mu.Unlock()
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	r.addJSON(body, secretResponseFields)
	rec.status = resp.StatusCode
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) addJSON(body []byte, fields []string) {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range fields {
		if s, ok := m[f].(string); ok {
			r.addLocked(s, "response "+f)
		}
	}
}

func (r *recorder) addLocked(v, what string) {
	if len(v) >= 8 { // shorter values (a client id "c") would match anything
		r.secrets[v] = what
	}
}

func (r *recorder) add(v, what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(v, what)
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func (r *recorder) secretValues() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.secrets))
	for k, v := range r.secrets {
		out[k] = v
	}
	return out
}

// to returns the requests sent to the server at base (scheme://host).
func (r *recorder) to(base string) []recorded {
	u, _ := url.Parse(base)
	var out []recorded
	for _, q := range r.requests() {
		if q.host == u.Host {
			out = append(out, q)
		}
	}
	return out
}

// assertNoSecretIn fails t if text holds any secret the recorder saw.
func assertNoSecretIn(t *testing.T, r *recorder, what, text string) {
	t.Helper()
	for v, kind := range r.secretValues() {
		if strings.Contains(text, v) {
			t.Errorf("%s holds a %s (%s): %.400s", what, kind, Fingerprint(v), text)
		}
	}
}

// secConfig is testConfig with the recorder's client.
func secConfig(srv *oauthtest.Server, b Browser, rec *recorder) *Config {
	cfg := testConfig(srv, b)
	cfg.HTTPClient = rec.client()
	return cfg
}

// Login CSRF during a real login: before the person's browser comes back,
// a hostile page sends the listener the attacker's own code with guessed,
// empty and missing states. The login ends with the person's code; the
// attacker's code never reaches the token endpoint.
func TestAttackLoginCSRF(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	rec := newRecorder()
	var wg sync.WaitGroup
	defer wg.Wait()
	var forgedStatuses []int
	var mu sync.Mutex
	browser := func(ctx context.Context, authURL string) error {
		u, _ := url.Parse(authURL)
		redirect := u.Query().Get("redirect_uri")
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			for _, qs := range []string{"code=attacker-code-1234&state=guessed", "code=attacker-code-1234&state=", "code=attacker-code-1234",
				"error=access_denied&state=guessed", "code=attacker-code-1234&state=" + url.QueryEscape(u.Query().Get("state")) + "x"} {
				resp, err := c.Get(redirect + "?" + qs)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				forgedStatuses = append(forgedStatuses, resp.StatusCode)
				mu.Unlock()
			}
			_, _, _ = oauthtest.Browse(context.WithoutCancel(ctx), nil, authURL)
		}()
		return nil
	}
	tok, err := Login(context.Background(), secConfig(srv, browser, rec))
	if err != nil {
		t.Fatal(err)
	}
	if !srv.ValidAccessToken(tok.AccessToken) {
		t.Fatal("the login did not end with the person's token")
	}
	wg.Wait()
	for _, st := range forgedStatuses {
		if st != http.StatusBadRequest {
			t.Errorf("a forged callback got %d", st)
		}
	}
	if len(forgedStatuses) != 5 {
		t.Errorf("%d forged callbacks sent", len(forgedStatuses))
	}
	for _, q := range rec.requests() {
		if strings.Contains(q.form.Encode(), "attacker-code") {
			t.Errorf("the attacker's code was sent to %s", q.url)
		}
	}
}

// Authorization server mix-up (RFC 9207): the login starts at server A, but
// the authorization response comes from server B (the person was sent
// there, or B replays its own response), with B's code and B's iss. The
// login is refused before any code is redeemed, at A or at B; and when A's
// metadata promises iss, a response without one is refused too.
func TestAttackMixUp(t *testing.T) {
	a := oauthtest.NewServer(oauthtest.Config{})
	defer a.Close()
	for _, omitIss := range []bool{false, true} {
		b := oauthtest.NewServer(oauthtest.Config{OmitIssuerInResponse: omitIss})
		rec := newRecorder()
		var wg sync.WaitGroup
		toB := func(ctx context.Context, authURL string) error {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, _ = oauthtest.Browse(context.WithoutCancel(ctx), nil, strings.Replace(authURL, a.URL, b.URL, 1))
			}()
			return nil
		}
		cfg := secConfig(a, toB, rec)
		cfg.OAuth2.Endpoint = oauth2.Endpoint{} // discovered: A promises iss
		_, err := Login(context.Background(), cfg)
		wg.Wait()
		var mm *IssuerMismatchError
		if !errors.As(err, &mm) {
			t.Errorf("omitIss=%v: err = %v, want an IssuerMismatchError", omitIss, err)
		}
		if n := a.Count("token") + b.Count("token"); n != 0 {
			t.Errorf("omitIss=%v: %d token requests; the mixed-up code must not be redeemed anywhere", omitIss, n)
		}
		if len(rec.to(b.URL)) != 0 {
			t.Errorf("omitIss=%v: the library sent requests to B: %v", omitIss, rec.to(b.URL))
		}
		b.Close()
	}
}

// hostileAS serves authorization server metadata of its own making at its
// RFC 8414 URL and counts every other request.
func hostileAS(t *testing.T, doc func(base string) string) (*httptest.Server, *int) {
	t.Helper()
	var mu sync.Mutex
	others := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/") {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, doc("http://"+r.Host))
			return
		}
		mu.Lock()
		others++
		mu.Unlock()
		http.Error(w, "no", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	return srv, &others
}

func neverBrowser(t *testing.T) Browser {
	return func(context.Context, string) error {
		t.Error("a browser was opened")
		return nil
	}
}

// PKCE downgrade: the server's metadata offers only plain. authloop
// refuses before opening a browser or sending anything but the discovery
// request, and never sends code_challenge_method=plain.
func TestAttackPKCEDowngrade(t *testing.T) {
	for _, methods := range []string{`["plain"]`, `[]`, `["plain","s256"]`} {
		srv, others := hostileAS(t, func(base string) string {
			return fmt.Sprintf(`{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"code_challenge_methods_supported":%s}`,
				base, base+"/authorize", base+"/token", methods)
		})
		cfg := &Config{OAuth2: &oauth2.Config{ClientID: "c"}, Issuer: srv.URL, Browser: neverBrowser(t), Prompt: io.Discard}
		_, err := Login(context.Background(), cfg)
		if !errors.Is(err, discovery.ErrNoS256) {
			t.Errorf("%s: err = %v, want ErrNoS256", methods, err)
		}
		if *others != 0 {
			t.Errorf("%s: %d requests beyond discovery", methods, *others)
		}
	}
	// Against a server that offers both, the request asks for S256 only.
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	b := &approvingBrowser{}
	if _, err := Login(context.Background(), testConfig(srv, b.open)); err != nil {
		t.Fatal(err)
	}
	b.wg.Wait()
	u, _ := url.Parse(b.urls[0])
	if m := u.Query()["code_challenge_method"]; len(m) != 1 || m[0] != "S256" || strings.Contains(b.urls[0], "plain") {
		t.Errorf("authorization request: %s", b.urls[0])
	}
}

// Metadata whose issuer differs from the URL it was fetched for: the
// hostile document names server B as the issuer at server A's address, so
// that iss=B would pass. Refused before any browser or token request.
func TestAttackMetadataIssuerMismatch(t *testing.T) {
	b := oauthtest.NewServer(oauthtest.Config{})
	defer b.Close()
	srv, others := hostileAS(t, func(string) string {
		return fmt.Sprintf(`{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"code_challenge_methods_supported":["S256"]}`,
			b.Issuer(), b.AuthorizationEndpoint(), b.TokenEndpoint())
	})
	rec := newRecorder()
	cfg := &Config{OAuth2: &oauth2.Config{ClientID: b.ClientID()}, Issuer: srv.URL, Browser: neverBrowser(t), Prompt: io.Discard, HTTPClient: rec.client()}
	_, err := Login(context.Background(), cfg)
	if !errors.Is(err, discovery.ErrIssuerMismatch) {
		t.Errorf("err = %v, want ErrIssuerMismatch", err)
	}
	if *others != 0 || len(rec.to(b.URL)) != 0 {
		t.Errorf("requests beyond discovery: %d to the hostile server, %d to B", *others, len(rec.to(b.URL)))
	}
}

// prServer is a protected resource (an MCP server) whose RFC 9728 metadata
// names the authorization server and the resource the test sets.
type prServer struct {
	*httptest.Server
	mu       sync.Mutex
	as       string
	resource string // "" means the server's own /mcp
}

func newPRServer(t *testing.T, as string) *prServer {
	p := &prServer{as: as}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		as, res := p.as, p.resource
		p.mu.Unlock()
		if res == "" {
			res = p.URL + "/mcp"
		}
		if r.URL.Path == "/.well-known/oauth-protected-resource/mcp" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"resource":%q,"authorization_servers":[%q],"scopes_supported":["read"]}`, res, as)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *prServer) set(as, resource string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.as, p.resource = as, resource
}

// Protected resource metadata naming another resource: the resource's
// metadata says it is for another URL, whose authorization server would
// then get this resource's login. Refused: no browser, no request to the
// named authorization server.
func TestAttackResourceMetadataForAnotherResource(t *testing.T) {
	as := oauthtest.NewServer(oauthtest.Config{})
	defer as.Close()
	pr := newPRServer(t, as.Issuer())
	pr.set(as.Issuer(), as.ResourceEndpoint())
	rec := newRecorder()
	cfg := resourceConfig(as, pr.URL+"/mcp", neverBrowser(t))
	cfg.HTTPClient = rec.client()
	s, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Token(context.Background())
	if !errors.Is(err, discovery.ErrResourceMismatch) {
		t.Errorf("err = %v, want ErrResourceMismatch", err)
	}
	if n := len(rec.to(as.URL)); n != 0 {
		t.Errorf("%d requests to the authorization server the wrong metadata named", n)
	}
}

// Tokens offered to another issuer's endpoints. A refresh token is
// presented only to the server that issued it: never to the one a changed
// configuration, a tampered record or a resource's changed metadata now
// names. Server B records everything it receives.
func TestAttackTokensToAnotherIssuer(t *testing.T) {
	ctx := context.Background()
	a := oauthtest.NewServer(oauthtest.Config{})
	defer a.Close()
	b := oauthtest.NewServer(oauthtest.Config{})
	defer b.Close()
	login := func(t *testing.T, cfg *Config) *oauth2.Token {
		t.Helper()
		br := &approvingBrowser{}
		c := *cfg
		c.Browser = br.open
		tok, err := Login(ctx, &c)
		br.wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	noTokensAtB := func(t *testing.T, rec *recorder, tok *oauth2.Token) {
		t.Helper()
		for _, q := range rec.to(b.URL) {
			text := q.url + " " + q.auth + " " + q.form.Encode()
			for _, v := range []string{tok.AccessToken, tok.RefreshToken} {
				if strings.Contains(text, v) || strings.Contains(text, url.QueryEscape(v)) {
					t.Errorf("A's token %s sent to B: %s %s", Fingerprint(v), q.method, q.url)
				}
			}
		}
		if n := b.Count("token") + b.Count("revoke"); n != 0 {
			t.Errorf("B's token and revocation endpoints got %d requests", n)
		}
	}

	t.Run("configuration now names another issuer", func(t *testing.T) {
		st := store.NewMemory()
		cfgA := testConfig(a, nil)
		cfgA.OAuth2.Endpoint = oauth2.Endpoint{}
		cfgA.Store = st
		tok := login(t, cfgA)
		s, err := NewSession(cfgA, tok)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Refresh(ctx); err != nil { // keeps A's metadata in the record
			t.Fatal(err)
		}
		tok = s.Cached()
		s.Close()

		rec := newRecorder()
		cfgB := testConfig(b, neverBrowser(t))
		cfgB.OAuth2.Endpoint = oauth2.Endpoint{}
		cfgB.Store = st
		cfgB.HTTPClient = rec.client()
		s, err = NewSession(cfgB, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Token(ctx); !errors.Is(err, ErrLoginRequired) {
			t.Errorf("err = %v, want ErrLoginRequired", err)
		}
		if err := s.Logout(ctx); err != nil {
			t.Errorf("logout: %v", err)
		}
		noTokensAtB(t, rec, tok)
	})

	t.Run("the record keeps another issuer's metadata", func(t *testing.T) {
		st := store.NewMemory()
		cfgA := testConfig(a, nil)
		cfgA.OAuth2.Endpoint = oauth2.Endpoint{}
		cfgA.Store = st
		tok := login(t, cfgA)
		s, err := NewSession(cfgA, tok)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		// Tamper: the record of A's key keeps B's metadata.
		rec0, err := st.Load(ctx, s.Key())
		if err != nil {
			t.Fatal(err)
		}
		mdB, err := discovery.AuthServer(ctx, nil, b.Issuer())
		if err != nil {
			t.Fatal(err)
		}
		rec0.Metadata, _ = json.Marshal(sessionMeta{AuthServer: mdB.Raw})
		if _, err := st.Save(ctx, rec0); err != nil {
			t.Fatal(err)
		}
		rec := newRecorder()
		cfg := *cfgA
		cfg.HTTPClient = rec.client()
		s, err = NewSession(&cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Refresh(ctx); err != nil {
			t.Fatalf("refresh at A: %v", err)
		}
		if err := s.Logout(ctx); err != nil {
			t.Errorf("logout: %v", err)
		}
		noTokensAtB(t, rec, tok)
		if a.Count("revoke") != 1 {
			t.Errorf("A's revocation endpoint got %d requests", a.Count("revoke"))
		}
	})

	t.Run("the resource's metadata now names another server", func(t *testing.T) {
		st := store.NewMemory()
		pr := newPRServer(t, a.Issuer())
		cfg := resourceConfig(a, pr.URL+"/mcp", nil)
		cfg.Interactive = false
		cfg.Store = st
		br := &approvingBrowser{}
		cfg.Browser = br.open
		s, err := NewSession(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Login(ctx)
		br.wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		s.Close()

		pr.set(b.Issuer(), "")
		rec := newRecorder()
		cfg.HTTPClient = rec.client()
		cfg.Browser = neverBrowser(t)
		s, err = NewSession(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Refresh(ctx); err != nil { // at A, whose token it is
			t.Errorf("refresh: %v", err)
		}
		a.RevokeAll()
		if _, err := s.Refresh(ctx); !errors.Is(err, ErrLoginRequired) {
			t.Errorf("after A revoked: %v, want ErrLoginRequired", err)
		}
		noTokensAtB(t, rec, tok)
		noTokensAtB(t, rec, s.Cached())
	})

	t.Run("a token from Login handed to a session of a resource that moved", func(t *testing.T) {
		pr := newPRServer(t, a.Issuer())
		cfg := resourceConfig(a, pr.URL+"/mcp", nil)
		cfg.Interactive = false
		tok := login(t, cfg)
		pr.set(b.Issuer(), "")
		rec := newRecorder()
		cfg.HTTPClient = rec.client()
		cfg.Browser = neverBrowser(t)
		cfg.Store = store.NewMemory()
		s, err := NewSession(cfg, tok)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err = s.Refresh(ctx); !errors.Is(err, ErrLoginRequired) || !strings.Contains(err.Error(), "never sent") {
			t.Errorf("refresh: %v, want ErrLoginRequired naming both servers", err)
		}
		if err := s.Logout(ctx); err == nil || !strings.Contains(err.Error(), "not revoked") {
			t.Errorf("logout: %v, want the tokens not revoked", err)
		}
		noTokensAtB(t, rec, tok)
		// When the resource has not moved, such a token refreshes as before.
		pr.set(a.Issuer(), "")
		tok = login(t, cfg)
		s2, err := NewSession(cfg, tok)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		if _, err := s2.Refresh(ctx); err != nil {
			t.Errorf("refresh at the same server: %v", err)
		}
	})
}

// Plain http off loopback: endpoints, issuers and redirect URIs that would
// carry a code or token in clear across a network are refused before
// anything is sent.
func TestAttackPlainHTTPEndpoints(t *testing.T) {
	rec := newRecorder()
	for _, mutate := range []func(*Config){
		func(c *Config) { c.OAuth2.Endpoint.TokenURL = "http://as.example.com/token" },
		func(c *Config) { c.OAuth2.Endpoint.AuthURL = "http://as.example.com/authorize" },
		func(c *Config) { c.Issuer = "http://as.example.com" },
		func(c *Config) { c.OAuth2.Endpoint = oauth2.Endpoint{}; c.Issuer = "http://10.0.0.1" },
		func(c *Config) { c.OAuth2.Endpoint.TokenURL = "http://127.0.0.1.nip.io/token" },
		func(c *Config) { c.OAuth2.Endpoint.TokenURL = "http://localhost.evil.example/token" },
		func(c *Config) { c.OAuth2.RedirectURL = "http://192.168.1.2:8080/callback" },
		func(c *Config) { c.OAuth2.RedirectURL = "https://app.example.com/callback" },
	} {
		cfg := &Config{
			OAuth2:  &oauth2.Config{ClientID: "c", Endpoint: oauth2.Endpoint{AuthURL: "https://as.example.com/authorize", TokenURL: "https://as.example.com/token"}},
			Browser: neverBrowser(t), Prompt: io.Discard, HTTPClient: rec.client(),
		}
		mutate(cfg)
		if _, err := Login(context.Background(), cfg); err == nil {
			t.Errorf("Login accepted %+v", cfg.OAuth2.Endpoint)
		}
		if _, err := NewSession(cfg, &oauth2.Token{AccessToken: "at-value-123", RefreshToken: "rt-value-123"}); err == nil {
			t.Errorf("NewSession accepted %+v", cfg.OAuth2.Endpoint)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
	// A discovered plain-http revocation endpoint off loopback is not used
	// either: the refresh token is not sent to it.
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	cfg := testConfig(srv, nil)
	cfg.RevocationURL = "http://as.example.com/revoke"
	cfg.HTTPClient = rec.client()
	s, err := NewSession(cfg, &oauth2.Token{AccessToken: "at-value-123", RefreshToken: "rt-value-123"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Logout(context.Background()); err == nil {
		t.Error("logout through a plain-http revocation endpoint reported success")
	}
	for _, q := range rec.requests() {
		if strings.Contains(q.url, "as.example.com") {
			t.Errorf("request sent to %s", q.url)
		}
	}
}

// fullRun signs in through every route the library has (loopback, device,
// dynamic registration), refreshes, fails and logs out, through rec, with
// debug logging into logs and the person's lines into prompt; it returns
// the errors it met.
func fullRun(t *testing.T, rec *recorder, logs, prompt io.Writer) []error {
	t.Helper()
	ctx := context.Background()
	logger := slogDebug(logs)
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	srv := oauthtest.NewServer(oauthtest.Config{JWTAccessTokens: true, RegistrationManagement: true})
	defer srv.Close()
	srv.AddClient(oauthtest.Client{ID: "conf", Secret: "client-secret-value-xyz", AuthMethod: "client_secret_post"})
	rec.add("client-secret-value-xyz", "configured client secret")

	// Loopback login of a confidential client, refresh, transient and
	// final failures, logout.
	br := &approvingBrowser{}
	cfg := testConfig(srv, br.open)
	cfg.OAuth2.ClientID, cfg.OAuth2.ClientSecret = "conf", "client-secret-value-xyz"
	cfg.OAuth2.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	cfg.HTTPClient, cfg.Logger, cfg.Prompt = rec.client(), logger, prompt
	cfg.Store = store.NewMemory()
	tok, err := Login(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	br.wg.Wait()
	s, err := NewSession(cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	s.backoffBase, s.backoffCap = time.Millisecond, 5*time.Millisecond
	_, err = s.Refresh(ctx)
	keep(err)
	srv.FailNext(2, oauthtest.Fault{Kind: oauthtest.FaultHTML})
	_, err = s.Refresh(ctx)
	keep(err)
	srv.FailNext(10, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
	_, err = s.Refresh(ctx)
	keep(err)
	resp, err := s.Client(ctx).Get(srv.ResourceEndpoint())
	if err == nil {
		resp.Body.Close()
	}
	keep(err)
	texts := []string{fmt.Sprintf("%v %+v %#v %s", s, s, s, s), fmt.Sprintf("%v %+v %#v", cfg, *cfg, *cfg)}
	if rec0, err := cfg.Store.Load(ctx, s.Key()); err == nil {
		texts = append(texts, fmt.Sprintf("%v %+v %s %v", rec0, rec0, rec0, rec0.Token))
	}
	logger.Info("values", "session", s, "config", *cfg)
	srv.RevokeAll()
	_, err = s.Refresh(ctx)
	keep(err)
	keep(s.Logout(ctx))
	s.Close()

	// Device flow.
	fastDevicePolls(t)
	// The 503s left over from above meet the first polls, which back off
	// (RFC 8628 §3.5) four times, doubling: 1 ms a second, not 10.
	devicePollUnit = time.Millisecond
	dcfg := deviceConfig(srv)
	dcfg.HTTPClient, dcfg.Logger, dcfg.Prompt = rec.client(), logger, prompt
	dcfg.OnDeviceCode = nil
	srv.DeviceNext()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			if codes := srv.PendingUserCodes(); len(codes) > 0 {
				_ = srv.ApproveDevice(codes[0])
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_, err = Login(ctx, dcfg)
	keep(err)
	<-done

	// Dynamic registration through the resource (MCP) route.
	br2 := &approvingBrowser{}
	rcfg := resourceConfig(srv, srv.ResourceEndpoint(), br2.open)
	rcfg.OAuth2.ClientID = ""
	rcfg.HTTPClient, rcfg.Logger, rcfg.Prompt = rec.client(), logger, prompt
	rs, err := NewSession(rcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rs.Token(ctx)
	keep(err)
	br2.wg.Wait()
	// Its port taken, the next login updates the registration (RFC 7592,
	// with the registration access token).
	if len(br2.urls) > 0 {
		u, _ := url.Parse(br2.urls[0])
		ru, _ := url.Parse(u.Query().Get("redirect_uri"))
		if ln, err := net.Listen("tcp4", ru.Host); err == nil {
			_, err = rs.Login(ctx)
			keep(err)
			br2.wg.Wait()
			ln.Close()
		}
	}
	texts = append(texts, fmt.Sprintf("%v %+v %#v", rs, rs, rs))
	keep(rs.Logout(ctx))
	rs.Close()

	// Failures whose errors could quote what they saw.
	bad := oauthtest.NewServer(oauthtest.Config{})
	defer bad.Close()
	bcfg := testConfig(bad, nil)
	bcfg.HTTPClient, bcfg.Logger, bcfg.Prompt = rec.client(), logger, prompt
	bs, err := NewSession(bcfg, &oauth2.Token{AccessToken: "stale-access-value-1", RefreshToken: "stale-refresh-value-1", Expiry: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	rec.add("stale-access-value-1", "held access token")
	rec.add("stale-refresh-value-1", "held refresh token")
	_, err = bs.Token(ctx)
	keep(err)
	bs.Close()

	for _, text := range texts {
		fmt.Fprintln(logs, text)
	}
	return errs
}

// Tokens and secrets never appear in what the library prints: its debug
// log, the lines for the person, its errors (Error and %+v), and the %v,
// %+v, %#v and slog forms of its sessions, configurations and records.
// The secrets are collected from the wire, so none is missed.
func TestAttackNothingPrintedLeaks(t *testing.T) {
	rec := newRecorder()
	var logs, prompt lockedBuf
	errs := fullRun(t, rec, &logs, &prompt)
	if len(rec.secretValues()) < 10 {
		t.Fatalf("only %d secrets seen on the wire", len(rec.secretValues()))
	}
	if !strings.Contains(logs.String(), "refresh attempt failed") || !strings.Contains(prompt.String(), "http") {
		t.Fatalf("the run printed too little to check:\n%s\n%s", logs.String(), prompt.String())
	}
	if len(errs) < 3 {
		t.Fatalf("the run met only %d errors: %v", len(errs), errs)
	}
	assertNoSecretIn(t, rec, "the debug log", logs.String())
	assertNoSecretIn(t, rec, "the prompt", prompt.String())
	for _, err := range errs {
		assertNoSecretIn(t, rec, "an error", fmt.Sprintf("%v | %+v | %#v", err, err, err))
	}
}

// A refresh token (or any token, code or secret) is never put in a URL:
// every request of a full run carries them in bodies and headers only.
func TestAttackNoSecretInURL(t *testing.T) {
	rec := newRecorder()
	var logs, prompt lockedBuf
	fullRun(t, rec, &logs, &prompt)
	reqs := rec.requests()
	if len(reqs) < 15 {
		t.Fatalf("only %d requests recorded", len(reqs))
	}
	for _, q := range reqs {
		u, _ := url.Parse(q.url)
		for v, kind := range rec.secretValues() {
			for _, part := range []string{q.url, u.Path, u.RawQuery, u.Query().Encode()} {
				if strings.Contains(part, v) || strings.Contains(part, url.QueryEscape(v)) {
					t.Errorf("a %s (%s) in the URL of %s %s", kind, Fingerprint(v), q.method, u.Redacted())
				}
			}
		}
		if u.User != nil {
			t.Errorf("credentials in the URL of %s", u.Redacted())
		}
	}
}

// Certificate checks are never off by default: with the default HTTP
// client, a token endpoint with a self-signed certificate fails the TLS
// handshake and no token is sent; the caller's own client that trusts the
// certificate works. No non-test code turns verification off.
func TestAttackSelfSignedCertificate(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	target, _ := url.Parse(srv.URL)
	var mu sync.Mutex
	reached := 0
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached++
		mu.Unlock()
		r.URL.Scheme, r.URL.Host, r.Host, r.RequestURI = target.Scheme, target.Host, target.Host, ""
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	tlsSrv.Config.ErrorLog = discardLog()
	defer tlsSrv.Close()

	br := &approvingBrowser{}
	tok, err := Login(context.Background(), testConfig(srv, br.open))
	br.wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(srv, neverBrowser(t))
	cfg.OAuth2.Endpoint.TokenURL = tlsSrv.URL + "/token"
	cfg.RevocationURL = tlsSrv.URL + "/revoke"
	s, err := NewSession(cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	s.backoffBase, s.backoffCap = time.Millisecond, 5*time.Millisecond // its retries wait real time
	_, err = s.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("refresh through a self-signed certificate with the default client: %v", err)
	}
	mu.Lock()
	if reached != 0 {
		t.Errorf("%d requests reached the server behind the untrusted certificate", reached)
	}
	mu.Unlock()
	s.Close()
	if _, err := discovery.AuthServer(context.Background(), nil, tlsSrv.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("discovery with the default client: %v", err)
	}

	cfg.HTTPClient = tlsSrv.Client() // the caller trusts it
	s, err = NewSession(cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	s.backoffBase, s.backoffCap = time.Millisecond, 5*time.Millisecond
	defer s.Close()
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Errorf("refresh with a client that trusts the certificate: %v", err)
	}
}

// No code of the module but tests turns certificate verification off or
// weakens TLS: every package uses Go's defaults or the caller's client.
func TestNoInsecureTLSInSource(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for _, bad := range []string{"InsecureSkipVerify", "VerifyPeerCertificate", "tls.VersionTLS10", "tls.VersionSSL30"} {
			if bytes.Contains(data, []byte(bad)) {
				t.Errorf("%s uses %s", path, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("only %d source files scanned", n)
	}
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

// lockedBuf is a bytes.Buffer safe for the concurrent writes of loggers.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func slogDebug(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// A resource that redirects: http.Client follows redirects through the
// Transport, which would add the bearer token to every hop. A hop to
// another origin (another host, port or scheme: an open redirect on the
// API, a compromised or hostile server) gets no token, and its 401 starts
// no refresh; a hop within the origin keeps it.
func TestAttackRedirectCarriesNoToken(t *testing.T) {
	as := oauthtest.NewServer(oauthtest.Config{})
	defer as.Close()
	var mu sync.Mutex
	var evilAuth, apiAuth []string
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		evilAuth = append(evilAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", resource_metadata="`+"http://"+r.Host+`/prm"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer evil.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/elsewhere":
			http.Redirect(w, r, evil.URL+"/steal", http.StatusFound)
		case "/elsewhere-307":
			http.Redirect(w, r, evil.URL+"/steal", http.StatusTemporaryRedirect)
		case "/hop":
			http.Redirect(w, r, "/api", http.StatusFound)
		case "/hop-then-elsewhere":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			mu.Lock()
			apiAuth = append(apiAuth, r.Header.Get("Authorization"))
			mu.Unlock()
		}
	}))
	defer api.Close()
	br := &approvingBrowser{}
	cfg := testConfig(as, br.open)
	tok, err := Login(context.Background(), cfg)
	br.wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	client := s.Client(context.Background())
	before := as.Count("token")
	for _, p := range []string{"/elsewhere", "/elsewhere-307", "/hop-then-elsewhere", "/hop"} {
		resp, err := client.Get(api.URL + p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	client.CloseIdleConnections()
	mu.Lock()
	defer mu.Unlock()
	if len(evilAuth) != 3 {
		t.Fatalf("the other origin got %d requests, want 3", len(evilAuth))
	}
	for _, a := range evilAuth {
		if a != "" {
			t.Errorf("a redirect to another origin carried Authorization %q", Fingerprint(a))
		}
	}
	if len(apiAuth) != 1 || apiAuth[0] != "Bearer "+tok.AccessToken {
		t.Errorf("the redirect within the origin carried %v, want the token", apiAuth)
	}
	if n := as.Count("token") - before; n != 0 {
		t.Errorf("the other origin's 401 started %d token requests", n)
	}
}
