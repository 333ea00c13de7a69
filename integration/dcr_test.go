package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/integration/peers"
	"github.com/authloop/authloop/store"
)

// Dynamic client registration through authloop: a Config with only the
// issuer and the scopes (no client id, no endpoints) discovers the server,
// registers a native public client (RFC 7591) with it, signs in and
// refreshes; a second Session on the same file store takes the kept
// registration and tokens without registering again or signing in, and
// refreshes with them.
func TestDynamicRegistration(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server) {
		ctx := t.Context()
		meta := mustMetadata(t, srv.issuer())
		if meta.RegistrationEndpoint == "" {
			t.Fatalf("%s advertises no registration_endpoint", srv.name)
		}
		rec := &recorder{next: transport}
		st, err := store.NewFile(filepath.Join(t.TempDir(), "store"))
		if err != nil {
			t.Fatal(err)
		}
		config := func(browser authloop.Browser) *authloop.Config {
			return &authloop.Config{
				OAuth2:      &oauth2.Config{Scopes: []string{"openid", "offline_access"}},
				Issuer:      srv.issuer(),
				ClientName:  "authloop integration (DCR)",
				Store:       st,
				Interactive: true,
				Browser:     browser,
				HTTPClient: &http.Client{
					Transport:     rec,
					Timeout:       30 * time.Second,
					CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
				},
				Prompt:       io.Discard,
				LoginTimeout: time.Minute,
			}
		}
		f := &fixture{srv: srv, meta: meta}

		// First run: register, sign in, refresh.
		b := peers.NewHeadlessBrowser()
		defer b.CloseIdleConnections()
		s1 := newSession(t, config(b.Open), nil)
		tok, err := s1.Token(ctx)
		if _, werr := b.Wait(); err == nil && werr != nil {
			t.Fatalf("the headless browser: %v", werr)
		}
		if err != nil {
			t.Fatalf("Token of a session with only the issuer: %v\nrequests: %s", err, rec.summary())
		}
		regs := rec.posts(meta.RegistrationEndpoint)
		if len(regs) != 1 {
			t.Fatalf("%d registration requests; want 1", len(regs))
		}
		t.Logf("%s: authloop's registration request: %s", srv.name, regs[0])
		kept, err := st.Load(ctx, s1.Key())
		if err != nil {
			t.Fatal(err)
		}
		if kept.Client == nil || kept.Client.ClientID == "" || kept.Client.ClientSecret != "" {
			t.Fatalf("the record keeps client %v; want the registered public client", kept.Client)
		}
		clientID := kept.Client.ClientID
		if srv == hydraServer {
			c, err := hydra.GetClient(ctx, clientID)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("hydra: the registered client: token_endpoint_auth_method %v, grant_types %v, redirect_uris %v, scope %v", c["token_endpoint_auth_method"], c["grant_types"], c["redirect_uris"], c["scope"])
			if c["token_endpoint_auth_method"] != "none" {
				t.Errorf("hydra registered token_endpoint_auth_method %v; want none", c["token_endpoint_auth_method"])
			}
		}
		if tok.RefreshToken == "" {
			t.Fatal("the login gave no refresh token")
		}
		t.Logf("%s: token_type %q", srv.name, tok.TokenType)
		mustUserinfoAs(t, f, s1)
		nt, err := s1.Refresh(ctx)
		if err != nil {
			t.Fatalf("refresh with the registered client: %v", err)
		}
		if nt.RefreshToken == tok.RefreshToken {
			t.Error("the refresh token did not rotate")
		}
		mustUserinfoAs(t, f, s1)
		s1.Close()
		if got := rec.grants(); got["authorization_code"] != 1 || got["refresh_token"] != 1 {
			t.Fatalf("token requests %v; want one code exchange and one refresh", got)
		}

		// Second run, same store: the kept registration and tokens.
		var browserOpened atomic.Bool
		s2 := newSession(t, config(func(context.Context, string) error {
			browserOpened.Store(true)
			return authloop.ErrNoBrowser
		}), nil)
		if s2.Key() != s1.Key() {
			t.Fatalf("the second session's key %v differs from the first's %v", s2.Key(), s1.Key())
		}
		got, err := s2.Token(ctx)
		if err != nil {
			t.Fatalf("Token of the second session: %v", err)
		}
		if got.AccessToken != nt.AccessToken {
			t.Error("the second session did not take the saved token")
		}
		nt2, err := s2.Refresh(ctx)
		if err != nil {
			t.Fatalf("refresh in the second session: %v", err)
		}
		if nt2.AccessToken == nt.AccessToken {
			t.Error("the second session's refresh gave the same access token")
		}
		mustUserinfoAs(t, f, s2)
		if n := len(rec.posts(meta.RegistrationEndpoint)); n != 1 {
			t.Errorf("%d registration requests after the second session; want the first one only", n)
		}
		if g := rec.grants(); g["authorization_code"] != 1 || g["refresh_token"] != 2 {
			t.Errorf("token requests %v; want one code exchange and two refreshes", g)
		}
		if browserOpened.Load() {
			t.Error("the second session opened the browser")
		}
		kept2, err := st.Load(ctx, s2.Key())
		if err != nil {
			t.Fatal(err)
		}
		if kept2.Client == nil || kept2.Client.ClientID != clientID {
			t.Errorf("the record's client after the second session: %v; want %s", kept2.Client, clientID)
		}
	})
}

// recorder is an http.RoundTripper that keeps every POST's path and body
// (registration requests, token requests) for the assertions.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	url  string
	body string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{url: req.URL.String(), body: string(b)})
		r.mu.Unlock()
	}
	return r.next.RoundTrip(req)
}

// posts returns the bodies of the POSTs to u.
func (r *recorder) posts(u string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		if q.url == u {
			out = append(out, q.body)
		}
	}
	return out
}

// grants counts the form POSTs by grant_type.
func (r *recorder) grants() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, q := range r.reqs {
		if form, err := url.ParseQuery(q.body); err == nil && form.Get("grant_type") != "" {
			out[form.Get("grant_type")]++
		}
	}
	return out
}

func (r *recorder) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for _, q := range r.reqs {
		body := q.body
		if !json.Valid([]byte(body)) {
			body = "(form)"
		}
		parts = append(parts, q.url+" "+body)
	}
	return strings.Join(parts, "; ")
}
