package integration_test

// Programs with no person present (issue 18): a Session with Config.Grant
// = authloop.ClientCredentials() at Hydra and oidc-provider, with
// client_secret_basic, in one process and in eight sharing a file store.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/integration/peers"
	"github.com/authloop/authloop/store"
)

// machine is a peer as the machine-identity tests see it.
type machine struct {
	srv *server
	// newClient registers a fresh client of the client credentials grant.
	newClient func(ctx context.Context, o peers.MachineClientOptions) (peers.Client, error)
	// introspect asks the peer about an access token: RFC 7662, with what
	// the peer needs (Hydra's admin API; oidc-provider's endpoint as its
	// static confidential client).
	introspect func(ctx context.Context, token string) (active bool, client string, err error)
	// introspection is where a child process asks (machineChild).
	introspection func() machineIntrospection
}

var hydraMachine = &machine{
	srv: hydraServer,
	newClient: func(ctx context.Context, o peers.MachineClientOptions) (peers.Client, error) {
		return hydra.NewMachineClient(ctx, o)
	},
	introspect: func(ctx context.Context, token string) (bool, string, error) {
		in, err := hydra.Introspect(ctx, token)
		if err != nil {
			return false, "", err
		}
		return in.Active, in.Sub, nil // a client credentials token's subject is the client
	},
	introspection: func() machineIntrospection {
		return machineIntrospection{URL: hydra.AdminURL + "/admin/oauth2/introspect", ClientField: "sub"}
	},
}

var oidcMachine = &machine{
	srv: oidcServer,
	newClient: func(ctx context.Context, o peers.MachineClientOptions) (peers.Client, error) {
		return oidc.NewMachineClient(ctx, o)
	},
	introspect: func(ctx context.Context, token string) (bool, string, error) {
		in, err := oidc.Introspect(ctx, token)
		if err != nil {
			return false, "", err
		}
		return in.Active, in.ClientID, nil
	},
	introspection: func() machineIntrospection {
		return machineIntrospection{
			URL:         oidc.Issuer + "/token/introspection",
			ClientID:    peers.OIDCConfidentialClientID,
			Secret:      peers.OIDCConfidentialClientSecret,
			ClientField: "client_id",
		}
	},
}

var allMachines = []*machine{hydraMachine, oidcMachine}

// forEachMachine runs f as a subtest per peer, in parallel.
func forEachMachine(t *testing.T, f func(t *testing.T, m *machine)) {
	for _, m := range allMachines {
		t.Run(m.srv.name, func(t *testing.T) {
			t.Parallel()
			m.srv.start(t)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("%s's log (tail):\n%s", m.srv.name, tail(m.srv.output(), 3000))
				}
			})
			f(t, m)
		})
	}
}

// mustAccept asserts that the peer takes the access token as the client's.
func (m *machine) mustAccept(t *testing.T, token, clientID string) {
	t.Helper()
	active, client, err := m.introspect(t.Context(), token)
	if err != nil {
		t.Fatal(err)
	}
	if !active || client != clientID {
		t.Fatalf("%s's introspection of the access token %s: active %v, client %q; want active, client %q",
			m.srv.name, authloop.Fingerprint(token), active, client, clientID)
	}
}

// tokenRequest is one request to the token endpoint as tokenLog saw it.
type tokenRequest struct {
	grant     string
	auth      string // client authentication: client_secret_basic, client_secret_post, private_key_jwt, none
	assertion string // client_assertion, for private_key_jwt
	status    int
	code      string // the OAuth error code of a failure
}

// tokenLog is an http.RoundTripper that logs the requests to a token
// endpoint: grant, client authentication, answer.
type tokenLog struct {
	tokenURL string
	next     http.RoundTripper
	mu       sync.Mutex
	reqs     []tokenRequest
}

func (l *tokenLog) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.URL.String() != l.tokenURL || req.Body == nil {
		return l.next.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	r := tokenRequest{grant: form.Get("grant_type"), assertion: form.Get("client_assertion")}
	switch {
	case form.Has("client_assertion_type"):
		r.auth = "private_key_jwt"
	case strings.HasPrefix(req.Header.Get("Authorization"), "Basic "):
		r.auth = "client_secret_basic"
	case form.Has("client_secret"):
		r.auth = "client_secret_post"
	default:
		r.auth = "none"
	}
	resp, err := l.next.RoundTrip(req)
	if err == nil {
		r.status = resp.StatusCode
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(b))
			var oe struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal(b, &oe)
			r.code = oe.Error
		}
	}
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.mu.Unlock()
	return resp, err
}

// all returns the requests logged so far.
func (l *tokenLog) all() []tokenRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]tokenRequest(nil), l.reqs...)
}

// count returns how many requests of grant type gt were sent.
func (l *tokenLog) count(gt string) int {
	n := 0
	for _, r := range l.all() {
		if r.grant == gt {
			n++
		}
	}
	return n
}

// client returns an http.Client through the log, on the shared transport,
// following no redirects.
func (l *tokenLog) client() *http.Client {
	return &http.Client{
		Transport:     l,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// machineTTL is the access token lifetime of the machine clients: short,
// so that the tests cross expiries; long enough that a token taken by one
// round of callers on a loaded machine is not stale before the round ends.
const machineTTL = 5 * time.Second

// machineConfig is a program's Config at the peer: only the token
// endpoint and the issuer, the grant, a file store, the log's client; no
// background renewal and no margin, so that the test decides when a token
// is due (at its expiry).
func machineConfig(t *testing.T, m *machine, c peers.Client, g authloop.Grant) (*authloop.Config, *tokenLog) {
	t.Helper()
	meta := mustMetadata(t, m.srv.issuer())
	log := &tokenLog{tokenURL: meta.TokenEndpoint, next: transport}
	st, err := store.NewFile(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return &authloop.Config{
		OAuth2: &oauth2.Config{
			ClientID:     c.ID,
			ClientSecret: c.Secret,
			Endpoint:     oauth2.Endpoint{TokenURL: meta.TokenEndpoint},
			Scopes:       []string{peers.MachineScope},
		},
		Issuer:             meta.Issuer,
		Grant:              g,
		Store:              st,
		HTTPClient:         log.client(),
		Prompt:             io.Discard,
		DisableAutoRefresh: true,
		RefreshBuffer:      authloop.NoRefreshBuffer,
	}, log
}

// tokenRound has n goroutines call Token at once and returns the token
// they all got; it fails the test when they did not all get the same.
func tokenRound(t *testing.T, s *authloop.Session, n int) *oauth2.Token {
	t.Helper()
	toks := make([]*oauth2.Token, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { toks[i], errs[i] = s.Token(t.Context()) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Token (caller %d of %d): %v", i+1, n, errs[i])
		}
		if toks[i].AccessToken != toks[0].AccessToken {
			t.Fatalf("callers of one round got different access tokens (%s, %s)", authloop.Fingerprint(toks[0].AccessToken), authloop.Fingerprint(toks[i].AccessToken))
		}
	}
	return toks[0]
}

// checkGrantAcrossExpiries runs the program's session through three
// expiries and a forced renewal: rounds of 16 callers, one grant request
// per expiry, each token new and accepted by the peer, no refresh token,
// no other grant, the client authenticating with wantAuth, the store
// saving once per token under a key that names the grant.
func checkGrantAcrossExpiries(t *testing.T, m *machine, cfg *authloop.Config, log *tokenLog, clientID, wantAuth string) {
	t.Helper()
	const callers = 16
	s := newSession(t, cfg, nil)
	var prev *oauth2.Token
	for cycle := 1; cycle <= 3; cycle++ {
		if prev != nil {
			time.Sleep(time.Until(prev.Expiry) + 100*time.Millisecond) // past the expiry: the token is due
		}
		tok := tokenRound(t, s, callers)
		if again := tokenRound(t, s, callers); again.AccessToken != tok.AccessToken {
			t.Fatalf("cycle %d: a second round got another token although the first had not expired", cycle)
		}
		if n := log.count("client_credentials"); n != cycle {
			t.Fatalf("cycle %d: %d client_credentials requests; want %d (one per expiry, whatever the callers)", cycle, n, cycle)
		}
		if prev != nil && tok.AccessToken == prev.AccessToken {
			t.Fatalf("cycle %d: the expired token was handed out again", cycle)
		}
		if tok.RefreshToken != "" {
			t.Errorf("cycle %d: the client credentials grant gave a refresh token", cycle)
		}
		if left := time.Until(tok.Expiry); left <= 0 || left > machineTTL+time.Second {
			t.Fatalf("cycle %d: the access token expires in %v; want about %v (is the client's lifespan in effect?)", cycle, left, machineTTL)
		}
		m.mustAccept(t, tok.AccessToken, clientID)
		prev = tok
	}
	// Refresh on a program's session runs the grant again, at once.
	tok, err := s.Refresh(t.Context())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if tok.AccessToken == prev.AccessToken {
		t.Fatal("Refresh handed out the token it was to replace")
	}
	m.mustAccept(t, tok.AccessToken, clientID)
	reqs := log.all()
	for i, r := range reqs {
		if r.grant != "client_credentials" || r.auth != wantAuth || r.status != http.StatusOK {
			t.Errorf("token request %d: %+v; want client_credentials with %s, answered 200", i+1, r, wantAuth)
		}
	}
	if len(reqs) != 4 {
		t.Errorf("%d token requests; want 4 (three expiries and the Refresh)", len(reqs))
	}
	keys, err := cfg.Store.List(t.Context())
	if err != nil || len(keys) != 1 {
		t.Fatalf("the store holds %d records (%v); want 1", len(keys), err)
	}
	if keys[0].Grant != "client_credentials" {
		t.Errorf("the record's key names the grant %q; want client_credentials", keys[0].Grant)
	}
	rec, err := cfg.Store.Load(t.Context(), keys[0])
	if err != nil {
		t.Fatal(err)
	}
	if rec.Generation != 4 || rec.Token == nil || rec.Token.AccessToken != tok.AccessToken || rec.Token.RefreshToken != "" {
		t.Errorf("the record: generation %d, %v; want generation 4 (one save per token) holding the last token and no refresh token", rec.Generation, rec.Token)
	}
	t.Logf("%s, client credentials with %s: 4 tokens of %v (token_type %q), 4 requests, each answered 200; record key %s", m.srv.name, wantAuth, machineTTL, tok.TokenType, keys[0])
}

// TestClientCredentialsSecretBasic: a program's Session with
// Config.Grant = ClientCredentials() and a client_secret_basic client at
// each peer gets a token with no person and no browser, keeps it while it
// is good (16 callers at once, twice), gets one new token per expiry (one
// request, whatever the callers), and Refresh runs the grant again; the
// peer's introspection takes every token as the client's.
func TestClientCredentialsSecretBasic(t *testing.T) {
	forEachMachine(t, func(t *testing.T, m *machine) {
		c, err := m.newClient(t.Context(), peers.MachineClientOptions{AccessTokenTTL: machineTTL})
		if err != nil {
			t.Fatalf("register a client credentials client at %s: %v", m.srv.name, err)
		}
		cfg, log := machineConfig(t, m, c, authloop.ClientCredentials())
		// client_secret_basic, as both peers registered the client.
		cfg.OAuth2.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		checkGrantAcrossExpiries(t, m, cfg, log, c.ID, "client_secret_basic")
	})
}

// TestClientCredentialsWrongSecret: a secret the peer does not take is a
// *GrantRefusedError naming invalid_client, after one request (not
// retried, never a browser, not ErrLoginRequired).
func TestClientCredentialsWrongSecret(t *testing.T) {
	forEachMachine(t, func(t *testing.T, m *machine) {
		c, err := m.newClient(t.Context(), peers.MachineClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.Secret += "-wrong"
		cfg, log := machineConfig(t, m, c, authloop.ClientCredentials())
		cfg.OAuth2.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		s := newSession(t, cfg, nil)
		_, err = s.Token(t.Context())
		var gr *authloop.GrantRefusedError
		if !errors.As(err, &gr) || errors.Is(err, authloop.ErrLoginRequired) {
			t.Fatalf("Token with a wrong secret: %v; want a *GrantRefusedError, not ErrLoginRequired", err)
		}
		var oe *authloop.OAuthError
		if !errors.As(err, &oe) || oe.Code != "invalid_client" {
			t.Errorf("the refusal wraps %v; want an *OAuthError invalid_client", oe)
		}
		if reqs := log.all(); len(reqs) != 1 || reqs[0].status != http.StatusUnauthorized && reqs[0].status != http.StatusBadRequest {
			t.Errorf("token requests %+v; want one, refused", reqs)
		}
		t.Logf("%s, wrong secret: %v", m.srv.name, err)
	})
}

// modeGrant: a child holds an authloop Session with Config.Grant =
// ClientCredentials() on the shared file store.
const modeGrant = "grant"

// machineChild is what a modeGrant child needs beyond childConfig.
type machineChild struct {
	ClientSecret  string
	Introspection machineIntrospection
}

// machineIntrospection is how a child asks the peer whether its token is
// good: RFC 7662 at URL, with client_secret_basic when ClientID is set;
// ClientField names the answer's field that holds the client.
type machineIntrospection struct {
	URL, ClientID, Secret, ClientField string
}

// openGrantHolder is openHolder for modeGrant. The tap reports, with each
// grant request, the access token in the store at that moment (the one
// the request replaces: the session sends it under the record's lock).
func openGrantHolder(c childConfig, hc *http.Client) (*holder, error) {
	st, err := store.NewFile(c.StoreDir)
	if err != nil {
		return nil, err
	}
	tap := hc.Transport.(*tokenTap)
	tap.presented = func() string {
		ctx := context.Background()
		keys, err := st.List(ctx)
		if err != nil || len(keys) != 1 {
			return fmt.Sprintf("(%d records: %v)", len(keys), err)
		}
		rec, err := st.Load(ctx, keys[0])
		if err != nil || rec.Token == nil {
			return fmt.Sprintf("(no token: %v)", err)
		}
		return authloop.Fingerprint(rec.Token.AccessToken)
	}
	cfg := &authloop.Config{
		OAuth2: &oauth2.Config{
			ClientID:     c.ClientID,
			ClientSecret: c.Machine.ClientSecret,
			Endpoint:     oauth2.Endpoint{TokenURL: c.TokenURL, AuthStyle: oauth2.AuthStyleInHeader},
			Scopes:       c.Scopes,
		},
		Issuer:     c.Issuer,
		Grant:      authloop.ClientCredentials(),
		Store:      st,
		HTTPClient: hc,
		Prompt:     io.Discard,
	}
	if c.OnDemand {
		cfg.DisableAutoRefresh = true
		cfg.RefreshBuffer = authloop.NoRefreshBuffer
	}
	s, err := authloop.NewSession(cfg, nil)
	if err != nil {
		return nil, err
	}
	if s.Cached() == nil {
		s.Close()
		return nil, errors.New("no saved token in the store")
	}
	in := c.Machine.Introspection
	return &holder{
		token:  s.Token,
		client: s.Client,
		dead: func(err error) bool {
			var gr *authloop.GrantRefusedError
			return errors.As(err, &gr) || errors.Is(err, authloop.ErrLoginRequired)
		},
		close: func() { s.Close() },
		verify: func(ctx context.Context) (bool, string) {
			tok, err := s.Token(ctx)
			if err != nil {
				return false, "Token: " + err.Error()
			}
			return introspectAs(ctx, in, tok.AccessToken, c.ClientID)
		},
	}, nil
}

// introspectAs reports whether the peer's introspection takes token as
// clientID's.
func introspectAs(ctx context.Context, in machineIntrospection, token, clientID string) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URL, strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if in.ClientID != "" {
		req.SetBasicAuth(url.QueryEscape(in.ClientID), url.QueryEscape(in.Secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, "introspection: " + err.Error()
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&out); err != nil {
		return false, fmt.Sprintf("introspection: %s: %v", resp.Status, err)
	}
	active, _ := out["active"].(bool)
	client, _ := out[in.ClientField].(string)
	return active && client == clientID, fmt.Sprintf("introspection: %s, active %v, %s %q", resp.Status, active, in.ClientField, client)
}

// TestProcessesShareClientCredentials: 8 processes × 50 goroutines share
// one program's session (Config.Grant = ClientCredentials(), a
// client_secret_basic client) through a file store, through at least 10
// expiries of 2-second access tokens, with the background renewal (at half
// the lifetime) and on demand (DisableAutoRefresh, NoRefreshBuffer). One
// grant request per expiry, whichever process sends it: each request
// replaces a different stored token (none is replaced twice, as a second
// process's request for the same expiry would), every request is answered
// 200, the record is saved once per token, no call fails, no expired token
// is handed out, and every process ends with a token the peer's
// introspection takes.
func TestProcessesShareClientCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test: skipped with -short")
	}
	const (
		processes  = 8
		goroutines = 50
		cycles     = 10
		ttl        = 2 * time.Second
	)
	forEachMachine(t, func(t *testing.T, m *machine) {
		for _, onDemand := range []bool{false, true} {
			name := map[bool]string{false: "background", true: "on-demand"}[onDemand]
			t.Run(name, func(t *testing.T) {
				c, err := m.newClient(t.Context(), peers.MachineClientOptions{AccessTokenTTL: ttl})
				if err != nil {
					t.Fatal(err)
				}
				cfg, log := machineConfig(t, m, c, authloop.ClientCredentials())
				cfg.OAuth2.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
				// The first token, before the children start.
				s, err := authloop.NewSession(cfg, nil)
				if err != nil {
					t.Fatal(err)
				}
				_, err = s.Token(t.Context())
				s.Close()
				if err != nil {
					t.Fatal(err)
				}
				child := childConfig{
					Mode:     modeGrant,
					ClientID: c.ID,
					TokenURL: cfg.OAuth2.Endpoint.TokenURL,
					Issuer:   cfg.Issuer,
					Scopes:   cfg.OAuth2.Scopes,
					StoreDir: cfg.Store.(*store.File).Dir(),
					OnDemand: onDemand,
					Machine:  machineChild{ClientSecret: c.Secret, Introspection: m.introspection()},
				}
				res := runChildren(t, child, runSpec{processes: processes, goroutines: goroutines, refreshes: cycles, duration: 60 * time.Second})
				gen := storedGeneration(t, child)
				t.Logf("%s, %s (%v access tokens): %s; the record was saved %d times (the parent's first token included)", m.srv.name, name, ttl, res.summary(), gen)
				if res.RefreshOK < cycles {
					t.Errorf("%d client_credentials requests answered 200 in %v; want at least %d", res.RefreshOK, res.Elapsed.Round(time.Millisecond), cycles)
				}
				if res.Represented != 0 || res.AcceptedTwice != 0 || res.InvalidGrant != 0 || res.OtherFailures != 0 {
					t.Errorf("%d stored tokens replaced twice or more, %d replaced twice with success, %d invalid_grant, %d other failed token requests; want none", res.Represented, res.AcceptedTwice, res.InvalidGrant, res.OtherFailures)
				}
				if res.Transient != 0 {
					t.Logf("%d token requests answered 5xx (retried): %v", res.Transient, res.Failures)
				}
				if res.TokenRequests != res.Refreshes {
					t.Errorf("%d token requests, %d of them client_credentials: the children sent other grants", res.TokenRequests, res.Refreshes)
				}
				if res.LoginRequired != 0 || res.Errors != 0 {
					t.Errorf("%d calls refused for good, %d failed; first: %s", res.LoginRequired, res.Errors, res.FirstError)
				}
				if res.Expired != 0 {
					t.Errorf("%d expired tokens handed out", res.Expired)
				}
				if res.Lost != 0 {
					t.Errorf("%d processes ended without a token the peer takes: %q", res.Lost, res.Finals)
				}
				if want := uint64(1 + res.RefreshOK); gen != want {
					t.Errorf("the record's generation is %d; want %d (the parent's token and one per grant)", gen, want)
				}
				if n := log.count("client_credentials"); n != 1 {
					t.Errorf("the parent sent %d grant requests; want 1", n)
				}
			})
		}
	})
}
