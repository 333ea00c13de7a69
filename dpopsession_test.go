package authloop

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/dpop"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// dpopFixture is a DPoP-speaking oauthtest server, a store, and a browser
// that approves every sign-in.
type dpopFixture struct {
	t     *testing.T
	srv   *oauthtest.Server
	store store.Store
	b     *approvingBrowser
	proxy *headerRecorder
}

func newDPoPFixture(t *testing.T, sc oauthtest.Config) *dpopFixture {
	t.Helper()
	srv := oauthtest.NewServer(sc)
	t.Cleanup(srv.Close)
	f := &dpopFixture{t: t, srv: srv, store: store.NewMemory(), b: &approvingBrowser{}, proxy: &headerRecorder{base: http.DefaultTransport}}
	t.Cleanup(f.b.wg.Wait)
	return f
}

// config discovers the endpoints (so that the metadata decides DPoPAuto),
// signs in when needed, and sends every request through the recorder.
func (f *dpopFixture) config() *Config {
	cfg := testConfig(f.srv, f.b.open)
	cfg.OAuth2.Endpoint = oauth2.Endpoint{}
	cfg.Store = f.store
	cfg.Interactive = true
	cfg.DisableAutoRefresh = true
	cfg.HTTPClient = &http.Client{Transport: f.proxy}
	return cfg
}

// signedIn is a fixture on a server of sc and a session of its config,
// signed in: the session and its token.
func signedIn(t *testing.T, sc oauthtest.Config) (*dpopFixture, *Session, *oauth2.Token) {
	t.Helper()
	f := newDPoPFixture(t, sc)
	s := f.session(f.config())
	tok, err := s.Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return f, s, tok
}

// send sends a request of method to rawURL with exactly the header h (as
// a program that sends it itself) and returns the status.
func (f *dpopFixture) send(method, rawURL string, h http.Header) int {
	f.t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (f *dpopFixture) session(cfg *Config) *Session {
	f.t.Helper()
	s, err := NewSession(cfg, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { s.Close() })
	return s
}

// resource calls the server's resource through the session's client and
// returns what it answered.
func (f *dpopFixture) resource(s *Session, method string, body string) (int, map[string]any) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.ResourceEndpoint(), strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if body == "" {
		req.Body, req.GetBody = http.NoBody, nil
	}
	resp, err := s.Client(context.Background()).Do(req)
	if err != nil {
		f.t.Fatalf("%s resource: %v", method, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// headerRecorder records the DPoP and Authorization headers of every
// request it sends, by endpoint path.
type headerRecorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	sent []sentRequest
}

type sentRequest struct {
	path, method, authorization, dpop string
}

func (h *headerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.sent = append(h.sent, sentRequest{r.URL.Path, r.Method, r.Header.Get("Authorization"), r.Header.Get("DPoP")})
	h.mu.Unlock()
	return h.base.RoundTrip(r)
}

func (h *headerRecorder) requests(pathSuffix string) []sentRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []sentRequest
	for _, r := range h.sent {
		if strings.HasSuffix(r.path, pathSuffix) {
			out = append(out, r)
		}
	}
	return out
}

// tokenRequests returns the server's log of token requests of grant.
func tokenRequests(srv *oauthtest.Server, grant string) []oauthtest.Request {
	var out []oauthtest.Request
	for _, q := range srv.Requests() {
		if q.Endpoint == "token" && q.GrantType == grant {
			out = append(out, q)
		}
	}
	return out
}

// A DPoP sign-in at a server whose metadata offers ES256 (DPoPAuto), then
// refreshes, resource requests, and a restart from the store: every token
// is bound to the one key the record keeps, every token request and
// resource request proves it, and the resource accepts the requests.
func TestDPoPSessionBindsEveryTokenToTheStoredKey(t *testing.T) {
	f, s, tok := signedIn(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	jkt := s.DPoPThumbprint()
	if jkt == "" || tok.TokenType != "DPoP" || f.srv.TokenBinding(tok.AccessToken) != jkt {
		t.Fatalf("after the sign-in: thumbprint %q, token type %q, bound to %q; want a DPoP token bound to the session's key", jkt, tok.TokenType, f.srv.TokenBinding(tok.AccessToken))
	}
	rec, err := f.store.Load(context.Background(), s.key)
	if err != nil || len(rec.DPoPKey) == 0 {
		t.Fatalf("the record holds no DPoP key: %v", err)
	}
	if k, err := dpop.ParsePrivateKey(rec.DPoPKey); err != nil || k.Thumbprint() != jkt {
		t.Fatalf("the record's key is not the session's: %v", err)
	}
	if strings.Contains(rec.String(), string(rec.DPoPKey)) {
		t.Error("the record's String shows the key")
	}
	auth := f.proxy.requests("/authorize")
	if len(auth) != 0 {
		t.Fatalf("the authorization request went through the HTTP client: %v", auth)
	}
	if u := f.b.urls; len(u) != 1 || !strings.Contains(u[0], "dpop_jkt="+url.QueryEscape(jkt)) {
		t.Errorf("the authorization request does not carry dpop_jkt=%s: %v", jkt, u)
	}
	for i := range 3 {
		tok, err = s.Refresh(context.Background())
		if err != nil {
			t.Fatalf("refresh %d: %v", i+1, err)
		}
		if tok.TokenType != "DPoP" || f.srv.TokenBinding(tok.AccessToken) != jkt {
			t.Fatalf("refresh %d: type %q, bound to %q; want DPoP bound to %s", i+1, tok.TokenType, f.srv.TokenBinding(tok.AccessToken), jkt)
		}
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			body := ""
			if method == http.MethodPost {
				body = `{"x":1}`
			}
			if status, m := f.resource(s, method, body); status != http.StatusOK || m["cnf"] == nil {
				t.Fatalf("refresh %d, %s resource: HTTP %d %v; want 200 with the token's binding", i+1, method, status, m)
			}
		}
	}
	for _, q := range append(tokenRequests(f.srv, "authorization_code"), tokenRequests(f.srv, "refresh_token")...) {
		if q.Status != http.StatusOK || q.DPoPJKT != jkt {
			t.Errorf("token request %s: HTTP %d, proof by %q; want 200 with a proof by %s", q.GrantType, q.Status, q.DPoPJKT, jkt)
		}
	}
	for _, r := range f.proxy.requests("/resource") {
		if !strings.HasPrefix(r.authorization, "DPoP ") || r.dpop == "" {
			t.Errorf("a resource request went as %q with proof %v; want the DPoP scheme and a proof", r.authorization[:min(len(r.authorization), 5)], r.dpop != "")
		}
	}
	// A restarted process: the key comes from the record.
	s.Close()
	s2 := f.session(f.config())
	if s2.DPoPThumbprint() != jkt {
		t.Fatalf("the restarted session proves with %q; want the stored key %s", s2.DPoPThumbprint(), jkt)
	}
	tok2, err := s2.Refresh(context.Background())
	if err != nil || f.srv.TokenBinding(tok2.AccessToken) != jkt {
		t.Fatalf("refresh after the restart: %v; bound to %q", err, f.srv.TokenBinding(tok2.AccessToken))
	}
	if status, _ := f.resource(s2, http.MethodGet, ""); status != http.StatusOK {
		t.Fatalf("resource after the restart: HTTP %d", status)
	}
	if n := len(tokenRequests(f.srv, "authorization_code")); n != 1 {
		t.Errorf("%d sign-ins; want the one", n)
	}
}

// Nonces (RFC 9449 §8, §9) at the token endpoint and at the resource: each
// challenge is answered once with the nonce, and nothing is refreshed or
// spent for it; a rotated nonce is learnt from the next challenge.
func TestDPoPNonceChallengesAnsweredOnce(t *testing.T) {
	f, s, _ := signedIn(t, oauthtest.Config{DPoPNonce: true, Scopes: []string{"openid", "offline_access"}})
	codes := tokenRequests(f.srv, "authorization_code")
	if len(codes) != 2 || codes[0].Error != "use_dpop_nonce" || codes[1].Status != http.StatusOK {
		t.Fatalf("code redemptions: %+v; want use_dpop_nonce, then 200 with the nonce", codes)
	}
	for range 2 {
		if status, _ := f.resource(s, http.MethodPost, `{"a":"b"}`); status != http.StatusOK {
			t.Fatalf("resource: HTTP %d; want 200 once the nonce is known", status)
		}
	}
	// oauthtest's resource shares the token endpoint's nonce, which serves
	// it until the resource teaches its own.
	res := f.proxy.requests("/resource")
	if len(res) != 2 {
		t.Fatalf("%d resource requests for two calls; want 2: the token endpoint's nonce serves the resource of the same origin", len(res))
	}
	// The server moves on to a new nonce: the next refresh and the next
	// resource request are each challenged once, and sent again.
	f.srv.RotateDPoPNonce()
	refreshes := len(tokenRequests(f.srv, "refresh_token"))
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs := tokenRequests(f.srv, "refresh_token")[refreshes:]
	if len(rs) != 2 || rs[0].Error != "use_dpop_nonce" || rs[1].Status != http.StatusOK {
		t.Fatalf("refreshes after the rotation: %+v; want use_dpop_nonce, then 200", rs)
	}
	f.srv.RotateDPoPNonce()
	before := len(f.proxy.requests("/resource"))
	if status, _ := f.resource(s, http.MethodPost, `{"a":"b"}`); status != http.StatusOK {
		t.Fatalf("resource after a rotation: HTTP %d", status)
	}
	if got := len(f.proxy.requests("/resource")) - before; got != 2 {
		t.Errorf("%d requests for one resource call after a rotation; want the challenged one and its retry", got)
	}
	if got := len(tokenRequests(f.srv, "refresh_token")); got != refreshes+2 {
		t.Errorf("a resource nonce challenge led to %d refresh requests", got-refreshes-2)
	}
}

// A resource request whose body cannot be sent again gets the nonce
// challenge as it came, and sends nothing more.
func TestDPoPResourceNonceUnreplayableBody(t *testing.T) {
	f, s, _ := signedIn(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	f.srv.ChallengeResourceNonce(1)
	req, _ := http.NewRequest(http.MethodPost, f.srv.ResourceEndpoint(), io.NopCloser(strings.NewReader("once")))
	resp, err := s.Client(context.Background()).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(f.proxy.requests("/resource")) != 1 {
		t.Fatalf("HTTP %d after %d requests; want the 401 after one", resp.StatusCode, len(f.proxy.requests("/resource")))
	}
	// The nonce is kept: the next request carries it.
	if status, _ := f.resource(s, http.MethodGet, ""); status != http.StatusOK || len(f.proxy.requests("/resource")) != 2 {
		t.Fatalf("the next request: HTTP %d after %d requests; want 200 at once", status, len(f.proxy.requests("/resource")))
	}
}

// Session.Authorize, as an MCP SDK calls it on a 401: a nonce challenge
// is answered with nil (send again) and the nonce learnt, never with a
// refresh; the same challenge again, with no new nonce, is an error.
func TestDPoPAuthorizeLearnsTheNonceWithoutRefreshing(t *testing.T) {
	f, s, tok := signedIn(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	nonce := f.srv.ChallengeResourceNonce(1)
	req, _ := http.NewRequest(http.MethodGet, f.srv.ResourceEndpoint(), nil)
	h, err := s.AuthHeader(context.Background(), req.Method, req.URL.String())
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("HTTP %d; want the nonce challenge", resp.StatusCode)
	}
	if err := s.Authorize(context.Background(), req, resp); err != nil {
		t.Fatalf("Authorize on a nonce challenge: %v; want nil (send again with the nonce)", err)
	}
	if got := s.Cached(); got.AccessToken != tok.AccessToken || len(tokenRequests(f.srv, "refresh_token")) != 0 {
		t.Fatal("a nonce challenge refreshed the token")
	}
	h2, err := s.AuthHeader(context.Background(), http.MethodGet, f.srv.ResourceEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	p, err := dpop.Parse(h2.Get("DPoP"))
	if err != nil || p.Nonce != nonce {
		t.Fatalf("the next proof carries nonce %q (%v); want %q", p.Nonce, err, nonce)
	}
	// The challenge again with the nonce the proof carried: an error.
	req2, _ := http.NewRequest(http.MethodGet, f.srv.ResourceEndpoint(), nil)
	req2.Header = h2
	again := &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{
		"Www-Authenticate": {`DPoP error="use_dpop_nonce", algs="ES256"`},
		"Dpop-Nonce":       {nonce},
	}, Body: http.NoBody}
	if err := s.Authorize(context.Background(), req2, again); err == nil || !strings.Contains(err.Error(), "DPoP nonce") {
		t.Fatalf("Authorize on a challenge without a new nonce: %v; want an error naming the nonce", err)
	}
}

// AuthHeader gives what a program sends itself (authloop token for curl):
// the DPoP scheme and a proof for exactly this method and URL, which the
// resource accepts once and refuses replayed; a bearer session's header is
// Bearer with no proof.
func TestDPoPAuthHeader(t *testing.T) {
	f, s, _ := signedIn(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	h, err := s.AuthHeader(context.Background(), http.MethodGet, f.srv.ResourceEndpoint()+"?q=1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.Get("Authorization"), "DPoP ") || h.Get("DPoP") == "" {
		t.Fatalf("headers %v; want the DPoP scheme and a proof", h.Get("Authorization")[:5])
	}
	send := func() int { return f.send(http.MethodGet, f.srv.ResourceEndpoint()+"?q=1", h.Clone()) }
	if got := send(); got != http.StatusOK {
		t.Fatalf("the request with AuthHeader's headers: HTTP %d", got)
	}
	if got := send(); got != http.StatusUnauthorized {
		t.Errorf("the same proof a second time: HTTP %d; want 401 (replay)", got)
	}
	if h, err := s.AuthHeader(context.Background(), http.MethodGet, "https://api.example.com/v1?x=1"); err != nil || h.Get("DPoP") == "" {
		t.Errorf("AuthHeader for an https URL: %v", err)
	}
	for _, bad := range []struct{ method, url string }{{"", f.srv.ResourceEndpoint()}, {"GET", "/relative"}, {"GET", "ftp://x.example/"}} {
		if _, err := s.AuthHeader(context.Background(), bad.method, bad.url); err == nil {
			t.Errorf("AuthHeader(%q, %q) succeeded; want an error", bad.method, bad.url)
		}
	}
}

// A stolen DPoP-bound access token is worth nothing: as Bearer, or with a
// proof of another key, the resource refuses it.
func TestDPoPLeakedTokenRefused(t *testing.T) {
	f, s, tok := signedIn(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	get := func(h http.Header) int { return f.send(http.MethodGet, f.srv.ResourceEndpoint(), h) }
	if got := get(http.Header{"Authorization": {"Bearer " + tok.AccessToken}}); got != http.StatusUnauthorized {
		t.Errorf("the token as Bearer: HTTP %d; want 401", got)
	}
	thief, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	proof, err := thief.Proof(dpop.ProofParams{Method: http.MethodGet, URL: f.srv.ResourceEndpoint(), AccessToken: tok.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(http.Header{"Authorization": {"DPoP " + tok.AccessToken}, "Dpop": {proof}}); got != http.StatusUnauthorized {
		t.Errorf("the token with another key's proof: HTTP %d; want 401", got)
	}
	// The refresh token, stolen from the record, is no better.
	rec, _ := f.store.Load(context.Background(), s.key)
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rec.Token.RefreshToken}, "client_id": {f.srv.ClientID()}}
	resp, err := http.PostForm(f.srv.TokenEndpoint(), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Error("the bound refresh token was refreshed without a proof")
	}
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Errorf("the session's own refresh after the thief's try: %v", err)
	}
}

// A server without DPoP: DPoPAuto sends no proof and stores no key;
// DPoPOn sends proofs, which the server ignores, and the bearer tokens it
// answers with are used as Bearer. DPoPOff at a DPoP server: no proof, no
// key, bearer tokens.
func TestDPoPModes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		server    oauthtest.Config
		mode      DPoPMode
		proofs    bool
		tokenType string
	}{
		{"auto, server without DPoP", oauthtest.Config{}, DPoPAuto, false, "Bearer"},
		{"on, server without DPoP", oauthtest.Config{}, DPoPOn, true, "Bearer"},
		{"off, DPoP server", oauthtest.Config{DPoP: true}, DPoPOff, false, "Bearer"},
		{"auto, DPoP server", oauthtest.Config{DPoP: true}, DPoPAuto, true, "DPoP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.server.Scopes = []string{"openid", "offline_access"}
			f := newDPoPFixture(t, tc.server)
			cfg := f.config()
			cfg.DPoP = tc.mode
			s := f.session(cfg)
			if _, err := s.Login(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			tok := s.Cached()
			if tok.TokenType != tc.tokenType {
				t.Errorf("token type %q; want %q", tok.TokenType, tc.tokenType)
			}
			for _, r := range f.proxy.requests("/token") {
				if (r.dpop != "") != tc.proofs {
					t.Errorf("a token request with proof %v; want %v", r.dpop != "", tc.proofs)
				}
			}
			rec, _ := f.store.Load(context.Background(), s.key)
			if (len(rec.DPoPKey) > 0) != tc.proofs {
				t.Errorf("the record holds a key: %v; want %v", len(rec.DPoPKey) > 0, tc.proofs)
			}
			if status, _ := f.resource(s, http.MethodGet, ""); status != http.StatusOK {
				t.Fatalf("resource: HTTP %d", status)
			}
			last := f.proxy.requests("/resource")
			scheme, _, _ := strings.Cut(last[len(last)-1].authorization, " ")
			if want := map[string]string{"Bearer": "Bearer", "DPoP": "DPoP"}[tc.tokenType]; scheme != want {
				t.Errorf("resource request as %q; want %q", scheme, want)
			}
		})
	}
}

// The program's own key (Config.DPoPKey, a hardware key say) proves, and
// is never written to the store; Login with it gives a token a Session
// given the same key uses.
func TestDPoPProgramKeyNeverStored(t *testing.T) {
	f := newDPoPFixture(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := dpop.NewKey(priv)
	cfg := f.config()
	cfg.DPoPKey = priv
	tok, err := Login(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f.srv.TokenBinding(tok.AccessToken) != k.Thumbprint() {
		t.Fatalf("Login's token is bound to %q; want the program's key", f.srv.TokenBinding(tok.AccessToken))
	}
	s, err := NewSession(cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.DPoPThumbprint() != k.Thumbprint() {
		t.Fatal("the session does not prove with the program's key")
	}
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec, err := f.store.Load(context.Background(), s.key)
	if err != nil || len(rec.DPoPKey) != 0 {
		t.Fatalf("the program's key was stored (%d bytes), %v", len(rec.DPoPKey), err)
	}
	// Without the key, Login keeps nothing and asks for bearer tokens.
	cfg2 := f.config()
	tok2, err := Login(context.Background(), cfg2)
	if err != nil || tok2.TokenType != "Bearer" {
		t.Fatalf("Login without DPoPKey: %v, type %q; want a bearer token", err, tok2.TokenType)
	}
	// A key that is not P-256 is refused before anything is sent.
	cfg3 := f.config()
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	cfg3.DPoPKey = p384
	if _, err := NewSession(cfg3, nil); err == nil || !strings.Contains(err.Error(), "Config.DPoPKey") {
		t.Fatalf("a P-384 key: %v; want an error naming Config.DPoPKey", err)
	}
}

// Two sessions on one store (two processes): the second adopts the first's
// sign-in and its key, and refreshes the bound refresh token; a logout
// deletes the key with the record, and the next sign-in makes another.
func TestDPoPKeySharedThroughTheStore(t *testing.T) {
	f := newDPoPFixture(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	a := f.session(f.config())
	if _, err := a.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := f.session(f.config())
	if b.DPoPThumbprint() != a.DPoPThumbprint() {
		t.Fatal("the second session does not prove with the stored key")
	}
	tok, err := b.Refresh(context.Background())
	if err != nil || f.srv.TokenBinding(tok.AccessToken) != a.DPoPThumbprint() {
		t.Fatalf("the second session's refresh: %v", err)
	}
	if _, err := a.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if status, _ := f.resource(a, http.MethodGet, ""); status != http.StatusOK {
		t.Fatalf("the first session after the second's refresh: HTTP %d", status)
	}
	old := a.DPoPThumbprint()
	if err := a.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.DPoPThumbprint() == old || a.DPoPThumbprint() == "" {
		t.Errorf("the sign-in after a logout proves with the old key")
	}
}

// A record whose key cannot be read: the session does not start, and the
// error says what to do; no key material is printed.
func TestDPoPCorruptStoredKey(t *testing.T) {
	f := newDPoPFixture(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	// The record's key names the discovered issuer: sign in once.
	s := f.session(f.config())
	if _, err := s.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	key := s.key
	rec, err := f.store.Load(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Repeat([]byte{0x5a}, 40)
	rec.DPoPKey = bad
	if _, err := f.store.Save(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	_, err = NewSession(f.config(), nil)
	if err == nil || !strings.Contains(err.Error(), "DPoP key") || !strings.Contains(err.Error(), "logout") {
		t.Fatalf("a corrupt key: %v; want an error saying so and how to fix it", err)
	}
	if strings.Contains(err.Error(), string(bad)) {
		t.Error("the error shows the key's bytes")
	}
}

// The key is never logged: a debug log of a DPoP sign-in, refreshes and
// resource calls holds neither the private key nor a proof.
func TestDPoPKeyNeverLogged(t *testing.T) {
	f := newDPoPFixture(t, oauthtest.Config{DPoPNonce: true, Scopes: []string{"openid", "offline_access"}})
	var logs bytes.Buffer
	cfg := f.config()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := f.session(cfg)
	if _, err := s.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.resource(s, http.MethodGet, "")
	rec, _ := f.store.Load(context.Background(), s.key)
	k, err := dpop.ParsePrivateKey(rec.DPoPKey)
	if err != nil {
		t.Fatal(err)
	}
	var jwk map[string]string
	_ = json.Unmarshal(k.PublicJWK(), &jwk)
	for _, secret := range []string{string(rec.DPoPKey), jwk["x"]} {
		if secret != "" && strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds key material")
		}
	}
	for _, r := range f.proxy.requests("") {
		if r.dpop != "" && strings.Contains(logs.String(), r.dpop[:40]) {
			t.Error("the log holds a DPoP proof")
		}
	}
	if !strings.Contains(logs.String(), "DPoP nonce") {
		t.Error("the nonce retry was not logged at debug level: the test shows nothing")
	}
}

// Login through a protected resource (only Config.Resource set) keeps
// nothing: without Config.DPoPKey it asks for a bearer token, which a
// Session given it can use, rather than a token bound to a key that is
// lost when Login returns.
func TestDPoPLoginThroughResourceKeepsNoLostKey(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{DPoP: true, ResourceIdentifier: "/resource/"})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := resourceConfig(srv, srv.ResourceEndpoint(), b.open)
	tok, err := Login(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || srv.TokenBinding(tok.AccessToken) != "" {
		t.Fatalf("Login through the resource gave a %q token bound to %q; want a bearer token", tok.TokenType, srv.TokenBinding(tok.AccessToken))
	}
	cfg.Store = store.NewMemory()
	s, err := NewSession(cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := s.Client(context.Background()).Get(srv.ResourceEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the Session given Login's token: HTTP %d", resp.StatusCode)
	}
}

// A refresh token bound to one key, refreshed by a session that proves
// with another (Config.DPoPKey changed): the server's invalid_dpop_proof
// is a configuration error naming DPoPKey, and the refresh token is kept,
// so the session with the right key still refreshes.
func TestDPoPWrongKeyKeepsTheRefreshToken(t *testing.T) {
	f := newDPoPFixture(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	a := f.session(f.config())
	if _, err := a.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.config()
	cfg.DPoPKey = other
	cfg.Interactive = false
	b := f.session(cfg)
	_, err = b.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Config.DPoPKey") || errors.Is(err, ErrLoginRequired) {
		t.Fatalf("refresh with another key: %v; want a configuration error naming Config.DPoPKey", err)
	}
	if !b.CanRefresh() {
		t.Error("the refused proof dropped the refresh token")
	}
	if _, err := a.Refresh(context.Background()); err != nil {
		t.Fatalf("the session with the bound key: %v", err)
	}
}

// Session.Authorize on a DPoP request refused with invalid_token knows
// which token was refused (from "Authorization: DPoP <token>") and
// refreshes it at once.
func TestDPoPAuthorizeRefreshesTheRefusedToken(t *testing.T) {
	f, s, tok := signedIn(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	h, err := s.AuthHeader(context.Background(), http.MethodGet, f.srv.ResourceEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, f.srv.ResourceEndpoint(), nil)
	req.Header = h
	resp := &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{
		"Www-Authenticate": {`DPoP error="invalid_token", algs="ES256"`},
	}, Body: http.NoBody, Request: req}
	if err := s.Authorize(context.Background(), req, resp); err != nil {
		t.Fatal(err)
	}
	if s.Cached().AccessToken == tok.AccessToken || len(tokenRequests(f.srv, "refresh_token")) != 1 {
		t.Fatalf("Authorize on a refused DPoP token made %d refreshes; want one", len(tokenRequests(f.srv, "refresh_token")))
	}
}

// The device flow (RFC 8628) with DPoP: the device code's polls carry
// proofs (the device authorization request does not need one), a nonce
// challenge on a poll is answered once, and the token is bound to the
// session's key.
func TestDPoPDeviceFlow(t *testing.T) {
	fastDevicePolls(t)
	srv := oauthtest.NewServer(oauthtest.Config{DPoPNonce: true, DeviceAutoApprovePolls: 2})
	defer srv.Close()
	cfg := deviceConfig(srv)
	cfg.DPoP = DPoPOn // the endpoints are configured: no metadata to offer ES256
	cfg.Interactive = true
	cfg.Store = store.NewMemory()
	s, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok, err := s.Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "DPoP" || srv.TokenBinding(tok.AccessToken) != s.DPoPThumbprint() || s.DPoPThumbprint() == "" {
		t.Fatalf("device flow token: type %q, bound to %q; want DPoP bound to %q", tok.TokenType, srv.TokenBinding(tok.AccessToken), s.DPoPThumbprint())
	}
	polls := tokenRequests(srv, "urn:ietf:params:oauth:grant-type:device_code")
	if len(polls) < 2 || polls[0].Error != "use_dpop_nonce" || polls[len(polls)-1].Status != http.StatusOK {
		t.Fatalf("device polls: %+v; want a nonce challenge first and a 200 last", polls)
	}
}

// Eight requests refused at once by a resource's nonce challenge: each is
// sent again with the nonce, whichever learnt it first, and none leads to
// a refresh (found at oidc-provider by integration's
// TestDPoPResourceNonceConcurrentRequests).
func TestDPoPConcurrentNonceChallengesRefreshNothing(t *testing.T) {
	f, s, _ := signedIn(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	const n = 8
	f.srv.ChallengeResourceNonce(n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := s.Client(context.Background()).Get(f.srv.ResourceEndpoint())
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != http.StatusOK {
			t.Errorf("HTTP %d; want 200", st)
		}
	}
	if got := len(tokenRequests(f.srv, "refresh_token")); got != 0 {
		t.Errorf("%d refreshes for nonce challenges; want none", got)
	}
}

// The nonces of one origin's two roles (RFC 9449 §8 and §9): a resource
// request proves with the token endpoint's nonce until the resource server
// teaches its own, and from then on each role keeps its own, so a server
// that uses two costs no challenge when the session goes from one to the
// other; another origin's nonce is never used.
func TestDPoPNoncePerRoleAndOrigin(t *testing.T) {
	d := &dpopClient{now: time.Now, nonces: map[string]string{}}
	k, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	nonceOf := func(rawURL, token string) string {
		t.Helper()
		proof, nonce, err := d.proof(k, http.MethodPost, rawURL, token)
		if err != nil {
			t.Fatal(err)
		}
		p, err := dpop.Parse(proof)
		if err != nil || p.Nonce != nonce {
			t.Fatalf("the proof carries %q, the nonce returned is %q (%v)", p.Nonce, nonce, err)
		}
		return nonce
	}
	const tokenURL, resourceURL = "https://as.example/token", "https://as.example/userinfo"
	d.learn(tokenURL, false, http.Header{"Dpop-Nonce": {"A"}})
	if got := nonceOf(resourceURL, "at"); got != "A" {
		t.Errorf("a resource request before its server sent a nonce carries %q; want the token endpoint's A", got)
	}
	d.learn(resourceURL, true, http.Header{"Dpop-Nonce": {"B"}})
	for range 2 {
		if got := nonceOf(tokenURL, ""); got != "A" {
			t.Errorf("a token request carries %q; want A", got)
		}
		if got := nonceOf(resourceURL, "at"); got != "B" {
			t.Errorf("a resource request carries %q; want B", got)
		}
	}
	if got := nonceOf("https://other.example/api", "at"); got != "" {
		t.Errorf("a request to another origin carries %q; want no nonce", got)
	}
	d.learn(tokenURL, false, http.Header{"Dpop-Nonce": {strings.Repeat("n", maxNonce+1)}})
	if got := nonceOf(tokenURL, ""); got != "A" {
		t.Errorf("an oversized nonce replaced A: %d bytes", len(got))
	}
	d.learn(tokenURL, false, http.Header{"Dpop-Nonce": {strings.Repeat("n", maxNonce)}})
	if got := nonceOf(tokenURL, ""); len(got) != maxNonce {
		t.Errorf("a nonce of %d bytes, the most kept, was not kept", maxNonce)
	}
}

// SetDPoPNonce: a program that sends its requests itself hands the session
// the nonce of a resource server's refusal, and the next proof for that
// server carries it; bad nonces and a session without DPoP are refused.
func TestDPoPSetNonce(t *testing.T) {
	f, s, _ := signedIn(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	nonce := f.srv.ChallengeResourceNonce(1)
	if err := s.SetDPoPNonce(f.srv.ResourceEndpoint(), nonce); err != nil {
		t.Fatal(err)
	}
	h, err := s.AuthHeader(context.Background(), http.MethodGet, f.srv.ResourceEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	if status := f.send(http.MethodGet, f.srv.ResourceEndpoint(), h); status != http.StatusOK {
		t.Fatalf("HTTP %d; want 200: the proof carries the nonce set", status)
	}
	for _, bad := range []string{"", "a b", `a"b`, "a\nb", strings.Repeat("n", maxNonce+1), "é"} {
		if err := s.SetDPoPNonce(f.srv.ResourceEndpoint(), bad); err == nil {
			t.Errorf("SetDPoPNonce(%q) accepted", bad)
		}
	}
	if err := s.SetDPoPNonce("/relative", nonce); err == nil {
		t.Error("SetDPoPNonce of a relative URL accepted")
	}
	cfg := f.config()
	cfg.DPoP = DPoPOff
	off := f.session(cfg)
	if err := off.SetDPoPNonce(f.srv.ResourceEndpoint(), nonce); err == nil {
		t.Error("SetDPoPNonce accepted by a session without DPoP")
	}
}

// AuthHeader refuses a method that is no HTTP method, and a token with a
// control character, which would add header lines of the server's choosing
// to the request a program sends itself.
func TestDPoPAuthHeaderRefusesWhatNoHeaderMayCarry(t *testing.T) {
	f, s, _ := signedIn(t, oauthtest.Config{Scopes: []string{"openid", "offline_access"}})
	for _, m := range []string{"GET /x", "GE\nT", "(GET)", "GÉT"} {
		if _, err := s.AuthHeader(context.Background(), m, f.srv.ResourceEndpoint()); err == nil {
			t.Errorf("AuthHeader(%q) accepted", m)
		}
	}
	if _, err := s.AuthHeader(context.Background(), "PROPFIND", f.srv.ResourceEndpoint()); err != nil {
		t.Errorf("an extension method refused: %v", err)
	}
	tok := s.Cached()
	bad := *tok
	bad.AccessToken = tok.AccessToken + "\r\nX-Evil: 1"
	s2, err := NewSession(f.config(), &bad)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if h, err := s2.AuthHeader(context.Background(), http.MethodGet, f.srv.ResourceEndpoint()); err == nil {
		t.Fatalf("a token with a line break gave headers %q", h.Get("Authorization"))
	}
}

// DPoPMode's names, as the command's --dpop takes them.
func TestDPoPModeNames(t *testing.T) {
	for _, m := range []DPoPMode{DPoPAuto, DPoPOn, DPoPOff} {
		got, err := ParseDPoPMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseDPoPMode(%q) = %v, %v; want %v", m.String(), got, err, m)
		}
	}
	for _, bad := range []string{"", "ON", "yes", "DPoPMode(3)"} {
		if _, err := ParseDPoPMode(bad); err == nil || !strings.Contains(err.Error(), "auto, on or off") {
			t.Errorf("ParseDPoPMode(%q): %v; want an error naming the three modes", bad, err)
		}
	}
	if got := DPoPMode(7).String(); got != "DPoPMode(7)" {
		t.Errorf("DPoPMode(7).String() = %q", got)
	}
}

// Which answers are nonce challenges: the token endpoint's 400 (or 401)
// use_dpop_nonce, and a resource's 401 DPoP challenge naming a nonce other
// than the one sent, at most 1024 bytes long.
func TestDPoPNonceChallengeRecognised(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   bool
	}{
		{400, `{"error":"use_dpop_nonce"}`, true},
		{401, `{"error":"use_dpop_nonce"}`, true},
		{200, `{"error":"use_dpop_nonce"}`, false},
		{500, `{"error":"use_dpop_nonce"}`, false},
		{400, `{"error":"invalid_dpop_proof"}`, false},
		{400, `not json`, false},
	} {
		if got := useDPoPNonce(tc.status, []byte(tc.body)); got != tc.want {
			t.Errorf("useDPoPNonce(%d, %s) = %v; want %v", tc.status, tc.body, got, tc.want)
		}
	}
	resp := func(status int, challenge, nonce string) *http.Response {
		h := http.Header{}
		if challenge != "" {
			h.Set("WWW-Authenticate", challenge)
		}
		if nonce != "" {
			h.Set("DPoP-Nonce", nonce)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	long := strings.Repeat("n", maxNonce)
	for _, tc := range []struct {
		r    *http.Response
		sent string
		want bool
	}{
		{resp(401, `DPoP error="use_dpop_nonce"`, "n1"), "", true},
		{resp(401, `DPoP error="use_dpop_nonce"`, long), "", true},
		{resp(401, `DPoP error="use_dpop_nonce"`, long+"n"), "", false},
		{resp(401, `DPoP error="use_dpop_nonce"`, "n1"), "n1", false},
		{resp(401, `DPoP error="use_dpop_nonce"`, ""), "", false},
		{resp(401, `DPoP error="invalid_token"`, "n1"), "", false},
		{resp(401, `Bearer error="use_dpop_nonce"`, "n1"), "", false},
		{resp(403, `DPoP error="use_dpop_nonce"`, "n1"), "", false},
	} {
		if got := nonceChallenge(tc.r, tc.sent); got != tc.want {
			t.Errorf("nonceChallenge(%d %v, sent %q) = %v; want %v", tc.r.StatusCode, tc.r.Header, tc.sent[:min(len(tc.sent), 8)], got, tc.want)
		}
	}
}

// Processes sharing a record with different keys: one signs in with its
// own Config.DPoPKey over a record that holds another key; a process
// without the program's key does not present the refresh token bound to
// it (a server that answers invalid_grant, as oidc-provider does, would
// have the grant dropped for everyone): it sends nothing, says which key
// the token is bound to, and the grant stays for the program.
func TestDPoPRefreshTokenBoundToAnotherKeyIsNotSent(t *testing.T) {
	f := newDPoPFixture(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	a := f.session(f.config())
	if _, err := a.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := f.config()
	pcfg.DPoPKey = priv
	p := f.session(pcfg)
	tok, err := p.Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tok.Extra(dpopJKTKey).(string); got != p.DPoPThumbprint() {
		t.Fatalf("the token names key %q; want the program's %s", got, p.DPoPThumbprint())
	}
	rec, _ := f.store.Load(context.Background(), p.key)
	if got, _ := rec.Token.Extra[dpopJKTKey].(string); got != p.DPoPThumbprint() {
		t.Fatalf("the stored token names key %q; want %s", got, p.DPoPThumbprint())
	}
	bcfg := f.config()
	bcfg.Interactive = false
	b := f.session(bcfg)
	before := len(tokenRequests(f.srv, "refresh_token"))
	_, err = b.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), p.DPoPThumbprint()) || !strings.Contains(err.Error(), "proves with key "+a.DPoPThumbprint()) || !strings.Contains(err.Error(), "Config.DPoPKey") {
		t.Fatalf("refresh by a process with another key: %v; want an error naming the bound key, its own and Config.DPoPKey", err)
	}
	if n := len(tokenRequests(f.srv, "refresh_token")) - before; n != 0 {
		t.Fatalf("%d refresh requests; the bound refresh token must not be presented with another key", n)
	}
	if _, err := p.Refresh(context.Background()); err != nil {
		t.Fatalf("the program's own refresh after the other process's try: %v", err)
	}
}

// The Transport keeps the nonce of every answer, the retry's too: a server
// that answers the retry with yet another nonce has the next request prove
// with that one; a token with a space goes out as it is (only control
// characters are refused); a nonce of 1024 bytes, the most, can be set.
func TestDPoPTransportLearnsTheRetrysNonce(t *testing.T) {
	f, s, _ := signedIn(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	var mu sync.Mutex
	var nonces []string
	calls := 0
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		p, err := dpop.Parse(r.Header.Get("DPoP"))
		if err != nil {
			return nil, err
		}
		nonces = append(nonces, p.Nonce)
		calls++
		h := http.Header{}
		status := http.StatusOK
		switch calls {
		case 1:
			status = http.StatusUnauthorized
			h.Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
			h.Set("DPoP-Nonce", "n1")
		case 2:
			h.Set("DPoP-Nonce", "n2")
		}
		return &http.Response{StatusCode: status, Header: h, Body: http.NoBody, Request: r}, nil
	})
	c := &http.Client{Transport: &Transport{Session: s, Base: base}}
	for range 2 {
		resp, err := c.Get("https://api.example.com/v1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
	}
	if want := []string{"", "n1", "n2"}; !slices.Equal(nonces, want) {
		t.Errorf("the proofs carried nonces %q; want %q", nonces, want)
	}
	spaced := *s.Cached()
	spaced.AccessToken = "tok en"
	s2, err := NewSession(f.config(), &spaced)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if h, err := s2.AuthHeader(context.Background(), http.MethodGet, "https://api.example.com/v1"); err != nil || h.Get("Authorization") != "DPoP tok en" {
		t.Errorf("a token with a space: %q, %v; want it sent as it is", h.Get("Authorization"), err)
	}
	if err := s.SetDPoPNonce("https://api.example.com/v1", strings.Repeat("n", maxNonce)); err != nil {
		t.Errorf("a nonce of %d bytes: %v", maxNonce, err)
	}
}

// The bounds of what the session takes: a token endpoint's nonce of 1024
// bytes (the most) is answered with a retry; SetDPoPNonce takes every
// visible ASCII character but quote and backslash ('!' and '~' included);
// AuthHeader takes every RFC 9110 token character as a method ('~'
// included) and refuses a space.
func TestDPoPBoundsOfNoncesAndMethods(t *testing.T) {
	f := newDPoPFixture(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	cfg := f.config()
	long := strings.Repeat("n", maxNonce)
	var mu sync.Mutex
	var challenged bool
	var retryNonce string
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			body, _ := r.GetBody()
			b, _ := io.ReadAll(body)
			if strings.Contains(string(b), "grant_type=refresh_token") {
				mu.Lock()
				defer mu.Unlock()
				if !challenged {
					challenged = true
					h := http.Header{"Content-Type": {"application/json"}, "Dpop-Nonce": {long}}
					return &http.Response{StatusCode: http.StatusBadRequest, Header: h, Body: io.NopCloser(strings.NewReader(`{"error":"use_dpop_nonce"}`)), Request: r}, nil
				}
				if p, err := dpop.Parse(r.Header.Get("DPoP")); err == nil {
					retryNonce = p.Nonce
				}
			}
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	cfg.MaxRetries = NoRetries // the nonce's one retry is the token request's own
	s := f.session(cfg)
	if _, err := s.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatalf("refresh after a 1024-byte nonce challenge: %v", err)
	}
	if retryNonce != long {
		t.Errorf("the retry carried a nonce of %d bytes; want the %d the server sent", len(retryNonce), maxNonce)
	}
	if err := s.SetDPoPNonce("https://api.example.com/", "!abc~"); err != nil {
		t.Errorf("SetDPoPNonce of visible ASCII: %v", err)
	}
	if _, err := s.AuthHeader(context.Background(), "M~", "https://api.example.com/"); err != nil {
		t.Errorf("AuthHeader with a method of token characters: %v", err)
	}
	bcfg := f.config()
	bcfg.DPoP = DPoPOff
	bearer := f.session(bcfg)
	if _, err := bearer.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, ss := range []*Session{s, bearer} {
		if _, err := ss.AuthHeader(context.Background(), "G T", "https://api.example.com/"); err == nil {
			t.Error("AuthHeader accepted a method with a space")
		}
	}
}
