package integration_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/integration/peers"
	"github.com/authloop/authloop/mcpauth"
	"github.com/authloop/authloop/store"
)

// TestDPoPResourceNonceConcurrentRequests: 8 requests sent at once to a
// resource server that requires its own DPoP nonce all meet its
// use_dpop_nonce challenge (the server holds its answers until the 8 are
// there). The challenge refused each request without looking at the token
// (RFC 9449 §9): each is sent once more with the nonce, and none is a
// reason to refresh the token. Through Session.Client, and through
// mcpauth.HTTPClient (the challenge-driven Transport, which hands the 401
// to Session.Authorize).
func TestDPoPResourceNonceConcurrentRequests(t *testing.T) {
	oidcServer.start(t)
	meta := mustMetadata(t, oidc.Issuer)
	for _, route := range []string{"Session.Client", "mcpauth.HTTPClient"} {
		t.Run(route, func(t *testing.T) {
			ctx := t.Context()
			rs := startDPoPResource(t, meta, true)
			const n = 8
			rs.holdChallenges = n
			client, err := oidc.NewPublicClient(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tap := &dpopTap{tokenURL: meta.TokenEndpoint, next: transport}
			b := peers.NewHeadlessBrowser()
			defer b.CloseIdleConnections()
			s := newSession(t, &authloop.Config{
				OAuth2:       &oauth2.Config{ClientID: client.ID, Scopes: []string{"openid", "offline_access", "mcp:tools"}},
				Issuer:       meta.Issuer,
				Resource:     rs.url,
				Interactive:  true,
				Browser:      b.Open,
				HTTPClient:   tapClient(tap),
				Prompt:       io.Discard,
				LoginTimeout: time.Minute,
			}, nil)
			if _, err := s.Token(ctx); err != nil {
				t.Fatalf("sign-in: %v", err)
			}
			b.Wait()
			c := s.Client(ctx)
			if route == "mcpauth.HTTPClient" {
				c = mcpauth.HTTPClient(s, transport)
			}
			statuses := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					resp, err := c.Get(rs.url)
					if err != nil {
						t.Errorf("request %d: %v", i, err)
						return
					}
					resp.Body.Close()
					statuses[i] = resp.StatusCode
				})
			}
			wg.Wait()
			for i, st := range statuses {
				if st != http.StatusOK {
					t.Errorf("request %d: %d; want 200", i, st)
				}
			}
			var refreshes int
			for _, e := range tap.all() {
				if e.grant == "refresh_token" {
					refreshes++
				}
			}
			if refreshes != 0 {
				t.Errorf("%d refreshes for %d nonce challenges at the resource; want none (the token was never refused)", refreshes, n)
			}
			t.Logf("%d requests at once: statuses %v, refused %v, %d refreshes", n, statuses, rs.refusals(), refreshes)
		})
	}
}

// TestDPoPTwoSessionsShareTheKeyOIDCProvider: two Sessions on one file-store
// directory (as two processes would be: the store's locks are file locks)
// at oidc-provider. The second takes the first's sign-in and key; then
// both force refreshes at the same moment, four times: the refresh token
// is bound to the key, so every token request must prove the one stored
// key, and none may present a refresh token the other already used. Every
// token request is answered 200, and both sessions' tokens work at the
// resource server with that key.
func TestDPoPTwoSessionsShareTheKeyOIDCProvider(t *testing.T) {
	oidcServer.start(t)
	ctx := t.Context()
	meta := mustMetadata(t, oidc.Issuer)
	rs := startDPoPResource(t, meta, false)
	client, err := oidc.NewPublicClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tap := &dpopTap{tokenURL: meta.TokenEndpoint, next: transport}
	dir := filepath.Join(t.TempDir(), "store")
	config := func(browser authloop.Browser) *authloop.Config {
		st, err := store.NewFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		return &authloop.Config{
			OAuth2:       &oauth2.Config{ClientID: client.ID, Scopes: []string{"openid", "offline_access", "mcp:tools"}},
			Issuer:       meta.Issuer,
			Resource:     rs.url,
			Store:        st,
			Interactive:  true,
			Browser:      browser,
			HTTPClient:   tapClient(tap),
			Prompt:       io.Discard,
			LoginTimeout: time.Minute,
		}
	}
	b := peers.NewHeadlessBrowser()
	defer b.CloseIdleConnections()
	s1 := newSession(t, config(b.Open), nil)
	if _, err := s1.Token(ctx); err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	b.Wait()
	s2 := newSession(t, config(func(context.Context, string) error {
		return errors.New("the second session opened the browser")
	}), nil)
	if _, err := s2.Token(ctx); err != nil {
		t.Fatalf("the second session's Token: %v", err)
	}
	jkt := s1.DPoPThumbprint()
	if jkt == "" || s2.DPoPThumbprint() != jkt {
		t.Fatalf("keys %q and %q; want the one stored key in both", jkt, s2.DPoPThumbprint())
	}
	for round := range 4 {
		var wg sync.WaitGroup
		for i, s := range []*authloop.Session{s1, s2} {
			wg.Go(func() {
				if _, err := s.Refresh(ctx); err != nil {
					t.Errorf("round %d: session %d's refresh: %v", round+1, i+1, err)
				}
			})
		}
		wg.Wait()
		for i, s := range []*authloop.Session{s1, s2} {
			callResource(t, fmt.Sprintf("round %d, session %d", round+1, i+1), s, rs, jkt)
		}
	}
	ex := tap.all()
	var refreshes int
	for i, e := range ex {
		if e.status != http.StatusOK || e.proofJKT != jkt {
			t.Errorf("token request %d: %v (proof of %q); want 200 with a proof of %s", i+1, e, e.proofJKT, jkt)
		}
		if e.grant == "refresh_token" {
			refreshes++
		}
	}
	wantStoredKey(t, s1.Store(), s1.Key(), jkt)
	t.Logf("two sessions, 4 rounds of refreshes forced at once: %d refresh requests, all 200 with the stored key; resource refusals %v", refreshes, rs.refusals())
}
