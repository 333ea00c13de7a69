package redisstore

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore/redistest"
)

// sessionConfig is a configuration for srv's test client on st, signing
// in headless.
func sessionConfig(srv *oauthtest.Server, st store.Store) *authloop.Config {
	return &authloop.Config{
		OAuth2: &oauth2.Config{ClientID: srv.ClientID(), Endpoint: srv.Endpoint(), Scopes: []string{"read"}},
		Issuer: srv.Issuer(),
		Store:  st,
		Browser: func(ctx context.Context, u string) error {
			_, _, err := oauthtest.Browse(context.WithoutCancel(ctx), &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, u)
			return err
		},
		Prompt:             discard{},
		DisableAutoRefresh: true,
		HTTPClient:         &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second},
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Sessions on two Redis clients (standing for two machines) share one
// sign-in: when both find the token due, one refresh is made, the other
// session adopts its result, and the rotated refresh token is presented
// once. The server detects reuse, so a second presentation would revoke
// the grant.
func TestSessionsOnTwoClientsShareOneRefresh(t *testing.T) {
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	prefix := "{sess}:"
	storeOn := func() *Store {
		c := rs.Client()
		t.Cleanup(func() { c.Close() })
		st, err := New(c, Options{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	ctx := ctxT(t)
	tok, err := authloop.Login(ctx, sessionConfig(srv, storeOn()))
	if err != nil {
		t.Fatal(err)
	}
	s1, err := authloop.NewSession(sessionConfig(srv, storeOn()), tok)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := authloop.NewSession(sessionConfig(srv, storeOn()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.Cached() == nil || s2.Cached().AccessToken != tok.AccessToken {
		t.Fatal("the second session did not load the sign-in from Redis")
	}
	var wg sync.WaitGroup
	toks := make([]*oauth2.Token, 2)
	errs := make([]error, 2)
	for i, s := range []*authloop.Session{s1, s2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], errs[i] = s.Refresh(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
	}
	if toks[0].AccessToken != toks[1].AccessToken {
		t.Error("the sessions hold different tokens: each refreshed")
	}
	refreshes := 0
	for _, r := range srv.Requests() {
		if r.Endpoint == "token" && r.GrantType == "refresh_token" {
			refreshes++
		}
	}
	if refreshes != 1 {
		t.Errorf("%d refresh requests, want 1", refreshes)
	}
	if !srv.ValidAccessToken(toks[0].AccessToken) {
		t.Error("the shared token is not valid at the server (the grant was revoked?)")
	}
}

// With Redis down, a session keeps handing out its valid token; a refresh
// fails as the store's unavailability (never by refreshing without the
// lock), and works again once Redis is back.
func TestSessionWhileRedisIsDown(t *testing.T) {
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := rs.Client()
	defer c.Close()
	st, err := New(c, Options{Prefix: "{down}:"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	cfg := sessionConfig(srv, st)
	tok, err := authloop.Login(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := authloop.NewSession(cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs.Stop()
	got, err := s.Token(ctx)
	if err != nil || got.AccessToken != tok.AccessToken {
		t.Fatalf("Token with Redis down: %v; want the valid token", err)
	}
	if _, err := s.Refresh(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Refresh with Redis down: %v, want an error wrapping store.ErrUnavailable", err)
	}
	for _, r := range srv.Requests() {
		if r.Endpoint == "token" && r.GrantType == "refresh_token" {
			t.Fatal("a refresh was sent without the lock")
		}
	}
	rs.Start()
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatalf("Refresh after Redis is back: %v", err)
	}
}

// A session refreshes under a store whose leases are short (LockTTL 1 s,
// which New accepts: MinLockTTL is 100 ms): the lease it holds is all it
// can hold, so the refresh must go out under it.
func TestSessionRefreshesUnderAOneSecondLease(t *testing.T) {
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	st, err := New(rs.Client(), Options{Prefix: "{short}:", LockTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	cfg := sessionConfig(srv, st)
	tok, err := authloop.Login(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := authloop.NewSession(cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatalf("Refresh under a 1 s lease: %v", err)
	}
}
