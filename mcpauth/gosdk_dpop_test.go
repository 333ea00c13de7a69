package mcpauth_test

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/mcpauth"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The two go-sdk streamable transports that send DPoP: the OAuthHandler
// with mcpauth.HTTPClient as its HTTP client, and mcpauth.HTTPClient alone.
var dpopRoutes = []struct {
	name    string
	handler bool
}{
	{"handler and HTTPClient", true},
	{"HTTPClient alone", false},
}

// connectDPoP connects a go-sdk client to the fixture's streamable endpoint
// with HTTPClient: mcpauth.HTTPClient(s, nil), and the OAuthHandler too
// when handler is set.
func connectDPoP(ctx context.Context, t *testing.T, f *fixture, s *authloop.Session, handler bool) *mcp.ClientSession {
	t.Helper()
	tr := &mcp.StreamableClientTransport{Endpoint: f.mcpURL, HTTPClient: mcpauth.HTTPClient(s, nil)}
	if handler {
		tr.OAuthHandler = mcpauth.NewGoSDKHandler(s)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpauth-test", Version: "1.0.0"}, nil)
	cs, err := client.Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return cs
}

// checkBound checks that the session holds a DPoP-bound token, bound to
// its key, and that every request the MCP server served carried a proof by
// that key.
func checkBound(t *testing.T, f *fixture, g *dpopGate, s *authloop.Session) {
	t.Helper()
	jkt := s.DPoPThumbprint()
	tok := s.Cached()
	if jkt == "" || tok == nil || !strings.EqualFold(tok.TokenType, "DPoP") {
		t.Fatalf("the session holds no DPoP-bound token (thumbprint %q, token %v)", jkt, tok != nil)
	}
	if got := f.as.TokenBinding(tok.AccessToken); got != jkt {
		t.Errorf("the token is bound to %q, want the session's key %q", got, jkt)
	}
	keys := g.proofKeys()
	if len(keys) != 1 || keys[jkt] == 0 {
		t.Errorf("the MCP server served proofs of the keys %v, want only the session's %q", keys, jkt)
	}
}

// An MCP client on the go-sdk's streamable transport gets DPoP-bound
// tokens from a server that offers DPoP and uses them through
// mcpauth.HTTPClient: every request to the MCP server (initialize, the
// notification, tools/list, tools/call, the event stream's GET and the
// closing DELETE) carries "Authorization: DPoP" and a proof for that
// request (method, URL, the token's hash) signed by the key the token is
// bound to, never shown twice; the tokens refreshed mid-session stay bound
// to the same key; one sign-in, and no refusal after it.
func TestGoSDKDPoP(t *testing.T) {
	for _, route := range dpopRoutes {
		t.Run(route.name, func(t *testing.T) {
			f, g := newDPoPFixture(t, oauthtest.Config{DPoP: true})
			ctx := testContext(t)
			s := f.session(f.mcpURL, store.NewMemory(), true)
			cs := connectDPoP(ctx, t, f, s, route.handler)
			if got := listTools(ctx, t, cs); strings.Join(got, ",") != "add,echo" {
				t.Fatalf("tools = %v, want add,echo", got)
			}
			refusedAfterLogin := f.refused.Load()
			for i := range 3 {
				f.clock.Advance(ttl + time.Second)
				if err := callEcho(ctx, cs, "dpop"); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if err := cs.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			g.check(t)
			checkBound(t, f, g, s)
			if served, _, bearer := g.counts(); served < 6 || bearer != 0 {
				t.Errorf("served %d requests with DPoP and %d with Bearer, want at least 6 and none", served, bearer)
			}
			if got := f.refused.Load(); got != refusedAfterLogin {
				t.Errorf("the MCP server refused %d requests after the login; want none", got-refusedAfterLogin)
			}
			if n := f.as.Count("authorize"); n != 1 {
				t.Errorf("authorize requests = %d, want 1", n)
			}
			for _, r := range f.as.Requests() {
				if r.Endpoint == "token" && r.DPoPJKT != s.DPoPThumbprint() {
					t.Errorf("a %s token request was accepted with the proof of key %q, want the session's", r.GrantType, r.DPoPJKT)
				}
			}
		})
	}
}

// The MCP server requires a nonce of its own (RFC 9449 §9), as the
// conformance suite's auth/dpop-nonce does, and the authorization server
// one of its own (§8): the first request with the token is answered 401
// use_dpop_nonce and sent again, once, with the nonce, and later requests
// carry it from the start; a new nonce costs one more challenge. A nonce
// challenge refreshes nothing and signs in no one.
func TestGoSDKDPoPNonceAtTheMCPServer(t *testing.T) {
	for _, route := range dpopRoutes {
		t.Run(route.name, func(t *testing.T) {
			f, g := newDPoPFixture(t, oauthtest.Config{DPoPNonce: true})
			g.setNonce("mcp-nonce-1")
			ctx := testContext(t)
			s := f.session(f.mcpURL, store.NewMemory(), true)
			cs := connectDPoP(ctx, t, f, s, route.handler)
			defer cs.Close()
			listTools(ctx, t, cs)
			if err := callEcho(ctx, cs, "one"); err != nil {
				t.Fatal(err)
			}
			if _, ch, _ := g.counts(); ch != 1 {
				t.Errorf("nonce challenges = %d, want 1 (the first request with the token)", ch)
			}
			tokens := f.as.Count("token")

			g.setNonce("mcp-nonce-2")
			for i := range 3 {
				if err := callEcho(ctx, cs, "two"); err != nil {
					t.Fatalf("call %d after the new nonce: %v", i, err)
				}
			}
			if _, ch, _ := g.counts(); ch != 2 {
				t.Errorf("nonce challenges = %d, want 2 (one per nonce)", ch)
			}
			if n := f.as.Count("token"); n != tokens {
				t.Errorf("token requests went from %d to %d after the MCP server's nonce challenge, want none: a nonce challenge is not a refused token", tokens, n)
			}
			g.check(t)
			checkBound(t, f, g, s)
			if n := f.as.Count("authorize"); n != 1 {
				t.Errorf("authorize requests = %d, want 1", n)
			}
		})
	}
}

// A lying MCP server challenges every proof with yet another nonce: the
// call fails after a bounded number of tries instead of looping, and
// nothing is refreshed for it. (Each request the go-sdk sends is sent at
// most 4 times: the nonce retry, and the retry after Session.Authorize
// learnt the next nonce, with its own nonce retry. The go-sdk sends the
// call twice when it has the OAuthHandler too, and then the DELETE of the
// connection it gives up.)
func TestGoSDKDPoPEndlessNonceChallenges(t *testing.T) {
	for _, route := range dpopRoutes {
		t.Run(route.name, func(t *testing.T) {
			f, g := newDPoPFixture(t, oauthtest.Config{DPoP: true})
			ctx := testContext(t)
			s := f.session(f.mcpURL, store.NewMemory(), true)
			cs := connectDPoP(ctx, t, f, s, route.handler)
			defer cs.Close()
			listTools(ctx, t, cs)
			tokens := f.as.Count("token")
			g.setLying()
			if err := callEcho(ctx, cs, "never"); err == nil {
				t.Fatal("the call succeeded at a server that accepts no proof")
			}
			if _, ch, _ := g.counts(); ch == 0 || ch > 16 {
				t.Errorf("nonce challenges = %d for one call, want 1 to 16", ch)
			}
			if n := f.as.Count("token"); n != tokens {
				t.Errorf("token requests went from %d to %d, want none for nonce challenges", tokens, n)
			}
			g.check(t)
		})
	}
}

// The go-sdk's streamable transport writes "Authorization: Bearer" itself
// from the OAuthHandler's token source: NewGoSDKHandler alone cannot send
// a DPoP-bound token with its proof. It never lets one go as Bearer (which
// RFC 9449 §7.2 has a server refuse, and a refusal would be refreshed again
// and again): the connection fails with ErrDPoPNeedsHTTPClient, whose
// message names the fix. With Config.DPoP off the handler alone works, with
// bearer tokens.
func TestGoSDKHandlerAloneWithDPoP(t *testing.T) {
	ctx := testContext(t)
	// At the 2026-07-28 wire the go-sdk sends server/discover first and
	// falls back to initialize; at 2025-11-25 the first sign-in happens in
	// the one Write of initialize, whose retry is the go-sdk's last try.
	for _, wire := range []string{"", "2025-11-25"} {
		t.Run("wire "+cmp.Or(wire, "default"), func(t *testing.T) {
			f, g := newDPoPFixture(t, oauthtest.Config{DPoP: true})
			s := f.session(f.mcpURL, store.NewMemory(), true)
			connect := func() error {
				client := mcp.NewClient(&mcp.Implementation{Name: "mcpauth-test", Version: "1.0.0"}, nil)
				cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: f.mcpURL, OAuthHandler: mcpauth.NewGoSDKHandler(s)}, &mcp.ClientSessionOptions{ProtocolVersion: wire})
				if err == nil {
					cs.Close()
				}
				return err
			}
			err := connect()
			if err == nil {
				t.Fatal("Connect succeeded without sending the DPoP-bound token")
			}
			if !errors.Is(err, mcpauth.ErrDPoPNeedsHTTPClient) || !strings.Contains(err.Error(), "HTTPClient: mcpauth.HTTPClient") {
				t.Errorf("Connect: %v; want ErrDPoPNeedsHTTPClient naming the fix", err)
			}
			// The session now holds the bound token: later connections fail
			// the same way, at their first refusal, and never refresh it.
			for i := range 10 {
				if err := connect(); !errors.Is(err, mcpauth.ErrDPoPNeedsHTTPClient) {
					t.Fatalf("connection %d: %v; want ErrDPoPNeedsHTTPClient", i, err)
				}
			}
			g.check(t)
			if n := f.as.Count("authorize"); n != 1 {
				t.Errorf("authorize requests = %d, want 1", n)
			}
			if n := f.as.Count("token"); n != 1 {
				t.Errorf("token requests = %d, want 1: the refusals must not refresh the token", n)
			}
		})
	}

	t.Run("DPoP off", func(t *testing.T) {
		f, g := newDPoPFixture(t, oauthtest.Config{DPoP: true})
		cfg := f.config(f.mcpURL, store.NewMemory(), true)
		cfg.DPoP = authloop.DPoPOff
		s, err := authloop.NewSession(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		cs := connectGoSDK(ctx, t, f, s)
		defer cs.Close()
		if err := callEcho(ctx, cs, "bearer"); err != nil {
			t.Fatal(err)
		}
		g.check(t)
		if served, _, bearer := g.counts(); served != 0 || bearer == 0 {
			t.Errorf("served %d requests with DPoP and %d with Bearer, want none and some", served, bearer)
		}
	})

	// A server that names its tokens DPoP without binding them (no proof
	// was sent: the session has no key): they go as Bearer, as
	// authloop.Transport sends them.
	t.Run("token_type DPoP, no key", func(t *testing.T) {
		f, g := newDPoPFixture(t, oauthtest.Config{TokenType: "DPoP"})
		s := f.session(f.mcpURL, store.NewMemory(), true)
		cs := connectGoSDK(ctx, t, f, s)
		defer cs.Close()
		if err := callEcho(ctx, cs, "bearer"); err != nil {
			t.Fatal(err)
		}
		g.check(t)
		if s.DPoPThumbprint() != "" || s.Cached().TokenType != "DPoP" {
			t.Errorf("key %q, token_type %q: the case is not the one meant", s.DPoPThumbprint(), s.Cached().TokenType)
		}
	})

	// DPoP on, at a server that does not speak it: the session proves
	// with a key, and the server issues bearer tokens, which the handler
	// alone sends as such.
	t.Run("DPoP on, bearer server", func(t *testing.T) {
		f, g := newDPoPFixture(t, oauthtest.Config{})
		cfg := f.config(f.mcpURL, store.NewMemory(), true)
		cfg.DPoP = authloop.DPoPOn
		s, err := authloop.NewSession(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		cs := connectGoSDK(ctx, t, f, s)
		defer cs.Close()
		if err := callEcho(ctx, cs, "bearer"); err != nil {
			t.Fatal(err)
		}
		g.check(t)
		if s.DPoPThumbprint() == "" {
			t.Error("the session has no DPoP key: the case is not the one meant")
		}
		if served, _, bearer := g.counts(); served != 0 || bearer == 0 {
			t.Errorf("served %d requests with DPoP and %d with Bearer, want none and some", served, bearer)
		}
	})
}

// Sixteen calls at once when the MCP server has just taken a new nonce:
// each is challenged and sent again with the nonce, none fails, no proof
// is shown twice, and nothing is refreshed. Then the grant is revoked and
// sixteen calls at once share one new sign-in, whose tokens are bound to
// the same key.
func TestGoSDKDPoPConcurrent(t *testing.T) {
	for _, route := range dpopRoutes {
		t.Run(route.name, func(t *testing.T) {
			f, g := newDPoPFixture(t, oauthtest.Config{DPoPNonce: true})
			g.setNonce("mcp-nonce-1")
			ctx := testContext(t)
			s := f.session(f.mcpURL, store.NewMemory(), true)
			cs := connectDPoP(ctx, t, f, s, route.handler)
			defer cs.Close()
			listTools(ctx, t, cs)
			key := s.DPoPThumbprint()
			tokens := f.as.Count("token")
			_, before, _ := g.counts()

			g.setNonce("mcp-nonce-2")
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					if err := callEcho(ctx, cs, "at once"); err != nil {
						t.Errorf("call after the new nonce: %v", err)
					}
				})
			}
			wg.Wait()
			if _, ch, _ := g.counts(); ch-before < 1 || ch-before > 16 {
				t.Errorf("nonce challenges for 16 calls = %d, want 1 to 16 (at most one each)", ch-before)
			}
			if n := f.as.Count("token"); n != tokens {
				t.Errorf("token requests went from %d to %d for a nonce, want none", tokens, n)
			}

			f.revokeThenCallConcurrently(t, func() error { return callEcho(ctx, cs, "after revocation") })
			g.check(t)
			checkBound(t, f, g, s)
			if s.DPoPThumbprint() != key {
				t.Error("the session's key changed with the new sign-in")
			}
		})
	}
}

// A new process on the same file store resumes the DPoP session: the key
// is read with the tokens, the stored token (expired meanwhile) is
// refreshed with a proof by that key, and the MCP server sees proofs by
// the same key as before; no new sign-in.
func TestGoSDKDPoPRestart(t *testing.T) {
	f, g := newDPoPFixture(t, oauthtest.Config{DPoP: true})
	ctx := testContext(t)
	st := fileStore(t)
	s := f.session(f.mcpURL, st, true)
	cs := connectDPoP(ctx, t, f, s, true)
	listTools(ctx, t, cs)
	key := s.DPoPThumbprint()
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	f.clock.Advance(ttl + time.Second)
	s2 := f.session(f.mcpURL, st, false)
	cs2 := connectDPoP(ctx, t, f, s2, true)
	defer cs2.Close()
	if err := callEcho(ctx, cs2, "resumed"); err != nil {
		t.Fatal(err)
	}
	if s2.DPoPThumbprint() != key {
		t.Errorf("the new process proves with key %q, want the stored %q", s2.DPoPThumbprint(), key)
	}
	g.check(t)
	checkBound(t, f, g, s2)
	if n := f.as.Count("authorize"); n != 1 {
		t.Errorf("authorize requests = %d, want 1", n)
	}
}

// An MCP server that asks for a nonce (use_dpop_nonce) without sending one
// in a DPoP-Nonce header: the call fails with an error that says so, after
// one try, and nothing is refreshed.
func TestGoSDKDPoPNonceChallengeWithoutNonce(t *testing.T) {
	for _, route := range dpopRoutes {
		t.Run(route.name, func(t *testing.T) {
			f, g := newDPoPFixture(t, oauthtest.Config{DPoP: true})
			ctx := testContext(t)
			s := f.session(f.mcpURL, store.NewMemory(), true)
			cs := connectDPoP(ctx, t, f, s, route.handler)
			defer cs.Close()
			listTools(ctx, t, cs)
			tokens := f.as.Count("token")
			g.setMute()
			g.setNonce("never-sent")
			err := callEcho(ctx, cs, "no nonce")
			if err == nil || !strings.Contains(err.Error(), "DPoP-Nonce") {
				t.Errorf("call: %v; want an error saying the server sent no DPoP-Nonce", err)
			}
			if _, ch, _ := g.counts(); ch != 1 {
				t.Errorf("nonce challenges = %d, want 1", ch)
			}
			if n := f.as.Count("token"); n != tokens {
				t.Errorf("token requests went from %d to %d, want none", tokens, n)
			}
			g.setNonce("") // let the closing DELETE through
			g.check(t)
		})
	}
}

// An MCP server that challenges four proofs in a row with a new nonce
// each, then accepts: authloop.Transport sends a request at most four
// times (its nonce retry, and the retry after Session.Authorize learnt a
// nonce, with its own nonce retry), so HTTPClient alone gives up; with the
// OAuthHandler too, the go-sdk calls Authorize with the still refused
// response, the handler hands Session.Authorize the request that went out
// (with its proof), which learns the nonce, and the go-sdk's retry passes.
func TestGoSDKDPoPHandlerLearnsNonceAfterTheTransport(t *testing.T) {
	for _, route := range dpopRoutes {
		t.Run(route.name, func(t *testing.T) {
			f, g := newDPoPFixture(t, oauthtest.Config{DPoP: true})
			ctx := testContext(t)
			s := f.session(f.mcpURL, store.NewMemory(), true)
			cs := connectDPoP(ctx, t, f, s, route.handler)
			defer cs.Close()
			listTools(ctx, t, cs)
			tokens := f.as.Count("token")
			g.setStubborn(4)
			err := callEcho(ctx, cs, "stubborn")
			if route.handler && err != nil {
				t.Errorf("call: %v; want the go-sdk's retry through the handler to pass", err)
			}
			if !route.handler && err == nil {
				t.Error("the call passed after four challenges without the handler: the case is not the one meant")
			}
			if n := f.as.Count("token"); n != tokens {
				t.Errorf("token requests went from %d to %d, want none for nonce challenges", tokens, n)
			}
			g.check(t)
		})
	}
}
