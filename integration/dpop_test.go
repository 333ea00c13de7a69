package integration_test

// DPoP (RFC 9449) against the real peers: oidc-provider binds tokens to the
// session's key (with and without nonces), a resource server of ours checks
// the proofs and the binding, a stolen token or a replayed proof is refused,
// and Hydra, which has no DPoP, gets bearer sessions without an error.

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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/dpop"
	"github.com/authloop/authloop/integration/peers"
	"github.com/authloop/authloop/mcpauth"
	"github.com/authloop/authloop/store"
)

// TestDPoPOIDCProvider: a session signs in at oidc-provider (headless
// browser), refreshes three times, calls a resource server that checks
// every proof and the token's cnf.jkt, is restarted from its file store (a
// new Session on the same directory) and refreshes twice more: every
// token is token_type DPoP and bound to the key whose thumbprint
// Session.DPoPThumbprint gives and whose private part the record keeps; a
// proof signed by another key, or one shown twice, is refused. "nonce" runs
// it against an oidc-provider that requires its nonces (use_dpop_nonce on a
// proof without one) beside a resource server that requires its own.
func TestDPoPOIDCProvider(t *testing.T) {
	oidcServer.start(t)
	for _, v := range []struct {
		name  string
		nonce bool
	}{{"no-nonce", false}, {"nonce", true}} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			op := oidc
			if v.nonce {
				op = startOIDCProvider(t, peers.OIDCProviderOptions{DPoPNonce: true})
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("oidc-provider's log (tail):\n%s", tail(op.Output(), 3000))
				}
			})
			testDPoPLifecycle(t, op, v.nonce)
		})
	}
}

// startOIDCProvider starts an oidc-provider of the test's own beside the
// shared one, and stops it when the test ends.
func startOIDCProvider(t *testing.T, opts peers.OIDCProviderOptions) *peers.OIDCProvider {
	t.Helper()
	opts.Dir = filepath.Join(".", "oidc")
	op, err := peers.StartOIDCProvider(t.Context(), opts)
	if err != nil {
		t.Fatalf("a second oidc-provider (%+v) did not start: %v", opts, err)
	}
	t.Cleanup(op.Stop)
	return op
}

func testDPoPLifecycle(t *testing.T, op *peers.OIDCProvider, nonce bool) {
	ctx := t.Context()
	meta := mustMetadata(t, op.Issuer)
	if !meta.SupportsDPoP("ES256") {
		t.Fatalf("oidc-provider's metadata does not list ES256 in dpop_signing_alg_values_supported")
	}
	rs := startDPoPResource(t, meta, nonce)
	client, err := op.NewPublicClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tap := &dpopTap{tokenURL: meta.TokenEndpoint, next: transport}
	dir := filepath.Join(t.TempDir(), "store")
	var st *store.File
	config := func(browser authloop.Browser) *authloop.Config {
		st, err = store.NewFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		return &authloop.Config{
			OAuth2: &oauth2.Config{
				ClientID: client.ID,
				Scopes:   []string{"openid", "offline_access", "mcp:tools"},
			},
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

	// Sign-in: the key is made, dpop_jkt names it, the code exchange proves it.
	b := peers.NewHeadlessBrowser()
	defer b.CloseIdleConnections()
	var authURL string
	s1 := newSession(t, config(func(ctx context.Context, u string) error {
		authURL = u
		return b.Open(ctx, u)
	}), nil)
	tok, err := s1.Token(ctx)
	if _, werr := b.Wait(); err == nil && werr != nil {
		t.Fatalf("the headless browser: %v", werr)
	}
	if err != nil {
		t.Fatalf("sign-in: %v\ntoken requests: %v", err, tap.all())
	}
	jkt := s1.DPoPThumbprint()
	if jkt == "" {
		t.Fatal("the session has no DPoP key after signing in at a server that offers ES256")
	}
	if au, err := url.Parse(authURL); err != nil || au.Query().Get("dpop_jkt") != jkt {
		t.Errorf("the authorization request's dpop_jkt is %q; want the key's thumbprint %s", au.Query().Get("dpop_jkt"), jkt)
	}
	wantBound(t, "sign-in", tok, jkt, rs.url)
	wantStoredKey(t, st, s1.Key(), jkt)
	callResource(t, "sign-in", s1, rs, jkt)
	first := tok

	// Three refreshes: each rotates the refresh token and binds the new
	// access token to the same key.
	for i := range 3 {
		nt, err := s1.Refresh(ctx)
		if err != nil {
			t.Fatalf("refresh %d: %v\ntoken requests: %v", i+1, err, tap.all())
		}
		what := fmt.Sprintf("refresh %d", i+1)
		wantBound(t, what, nt, jkt, rs.url)
		if nt.RefreshToken == "" || nt.RefreshToken == tok.RefreshToken {
			t.Errorf("%s: the refresh token did not rotate", what)
		}
		callResource(t, what, s1, rs, jkt)
		tok = nt
	}
	s1.Close()

	// A restart: a new Session on the same store directory takes the key
	// and the tokens, signs in no more, and refreshes with the same key.
	s2 := newSession(t, config(func(context.Context, string) error {
		return errors.New("the restarted session opened the browser")
	}), nil)
	got, err := s2.Token(ctx)
	if err != nil {
		t.Fatalf("Token after the restart: %v", err)
	}
	if got.AccessToken != tok.AccessToken {
		t.Error("the restarted session did not take the stored access token")
	}
	if s2.DPoPThumbprint() != jkt {
		t.Fatalf("the restarted session's key %s; want the stored key %s", s2.DPoPThumbprint(), jkt)
	}
	callResource(t, "after the restart", s2, rs, jkt)
	for i := range 2 {
		nt, err := s2.Refresh(ctx)
		if err != nil {
			t.Fatalf("refresh %d after the restart: %v\ntoken requests: %v", i+1, err, tap.all())
		}
		what := fmt.Sprintf("refresh %d after the restart", i+1)
		wantBound(t, what, nt, jkt, rs.url)
		if nt.RefreshToken == tok.RefreshToken {
			t.Errorf("%s: the refresh token did not rotate", what)
		}
		callResource(t, what, s2, rs, jkt)
		tok = nt
	}
	wantStoredKey(t, st, s2.Key(), jkt)

	// What the resource server refuses, sent by hand with the session's
	// current token.
	before := rs.refusals()
	other, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	otherProof, err := other.Proof(dpop.ProofParams{Method: http.MethodGet, URL: rs.url, AccessToken: tok.AccessToken, Nonce: rs.nonce})
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, rs, "a proof signed by another key", http.Header{
		"Authorization": {"DPoP " + tok.AccessToken}, "Dpop": {otherProof},
	}, "thumbprint")
	h, err := s2.AuthHeader(ctx, http.MethodGet, rs.url)
	if err != nil {
		t.Fatal(err)
	}
	if status, code, reason, err := rs.send(ctx, http.MethodGet, h); err != nil || status != http.StatusOK {
		t.Fatalf("the session's own AuthHeader at the resource: %d %s %s %v; want 200", status, code, reason, err)
	}
	wantRefused(t, rs, "the same proof and token again (a replay)", h, "replayed")
	h, err = s2.AuthHeader(ctx, http.MethodGet, rs.url)
	if err != nil {
		t.Fatal(err)
	}
	h.Set("Authorization", "DPoP "+first.AccessToken) // another token of the same key, still valid
	wantRefused(t, rs, "a fresh proof for one token with another token of the same key", h, "ath")

	// The token endpoint: every request proved the key, and nothing failed
	// but the nonce challenges the nonce variant expects.
	ex := tap.all()
	var codes, refreshes, challenges int
	for i, e := range ex {
		switch {
		case !e.proof || e.proofJKT != jkt:
			t.Errorf("token request %d (%s) carried no proof of the session's key: %+v", i+1, e.grant, e)
		case e.status == http.StatusOK && e.tokenType != "DPoP":
			t.Errorf("token request %d (%s): token_type %q; want DPoP", i+1, e.grant, e.tokenType)
		case e.errCode == "use_dpop_nonce":
			challenges++
			if !e.nonceBack || i+1 == len(ex) || ex[i+1].grant != e.grant || ex[i+1].proofNonce == "" || ex[i+1].status != http.StatusOK {
				t.Errorf("token request %d (%s): use_dpop_nonce not followed by one retry with the nonce that succeeded: %+v", i+1, e.grant, ex[i:])
			}
		case e.status != http.StatusOK:
			t.Errorf("token request %d (%s) failed: %+v", i+1, e.grant, e)
		case e.grant == "authorization_code":
			codes++
		case e.grant == "refresh_token":
			refreshes++
		}
	}
	if codes != 1 || refreshes != 5 {
		t.Errorf("%d code exchanges and %d refreshes answered 200; want 1 and 5", codes, refreshes)
	}
	// Each process learns the nonce once: at its first token request.
	if want := map[bool]int{false: 0, true: 2}[nonce]; challenges != want {
		t.Errorf("%d use_dpop_nonce answers at the token endpoint; want %d (one per session)", challenges, want)
	}
	// The resource server refused only what was sent by hand, and the
	// nonce variant's first request of each session (nonce learnt, retried).
	for reason, n := range before {
		if nonce && strings.Contains(reason, "nonce") && n == 2 {
			continue
		}
		t.Errorf("the resource server refused %d requests of the sessions: %s", n, reason)
	}
	if nonce && len(before) != 1 {
		t.Errorf("the resource server's refusals of the sessions: %v; want one nonce challenge per session", before)
	}
	rs.mu.Lock()
	accepted, methods := rs.accepted, fmt.Sprint(rs.methods)
	rs.mu.Unlock()
	var nonceOn200 int
	for _, e := range ex {
		if e.status == http.StatusOK && e.nonceBack {
			nonceOn200++
		}
	}
	t.Logf("token requests: %d (%d code exchange, %d refreshes, %d use_dpop_nonce answers, %d answers 200 with a DPoP-Nonce); resource: %d accepted (%v), refused %v",
		len(ex), codes, refreshes, challenges, nonceOn200, accepted, methods, rs.refusals())
	for i, e := range ex {
		if e.errCode != "" {
			t.Logf("token request %d: %s → %d %s %q (DPoP-Nonce in the answer: %v)", i+1, e.grant, e.status, e.errCode, e.errDesc, e.nonceBack)
		}
	}
	dpopUserinfo(t, op, meta, nonce)
}

// dpopUserinfo: oidc-provider's userinfo takes a session's DPoP-bound
// token (no resource: an opaque token) through Session.Client. With nonces
// required, the session needs no challenge there (the nonce it learnt at
// the token endpoint, same origin, is good), and a proof without a nonce
// is answered 401 use_dpop_nonce with a DPoP-Nonce header.
func dpopUserinfo(t *testing.T, op *peers.OIDCProvider, meta *discovery.AuthServerMetadata, nonce bool) {
	t.Helper()
	ctx := t.Context()
	client, err := op.NewPublicClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tap := &dpopTap{tokenURL: meta.TokenEndpoint, next: transport}
	b := peers.NewHeadlessBrowser()
	defer b.CloseIdleConnections()
	s := newSession(t, &authloop.Config{
		OAuth2:       &oauth2.Config{ClientID: client.ID, Scopes: []string{"openid", "offline_access"}},
		Issuer:       meta.Issuer,
		Interactive:  true,
		Browser:      b.Open,
		HTTPClient:   tapClient(tap),
		Prompt:       io.Discard,
		LoginTimeout: time.Minute,
	}, nil)
	tok, err := s.Token(ctx)
	if _, werr := b.Wait(); err == nil && werr != nil {
		t.Fatalf("the headless browser: %v", werr)
	}
	if err != nil {
		t.Fatalf("sign-in (userinfo): %v", err)
	}
	for i := range 2 {
		resp, err := s.Client(ctx).Get(meta.UserinfoEndpoint)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("userinfo %d through the session's client: %s; want 200", i+1, resp.Status)
		}
	}
	if got := tap.schemes(); !slices.Equal(got, []string{"DPoP", "DPoP"}) || tap.otherProofs() != 2 {
		t.Errorf("userinfo requests went with the schemes %q and %d proofs; want 2 × DPoP with a proof, no challenge", got, tap.otherProofs())
	}
	if !nonce {
		return
	}
	other, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	proof, err := other.Proof(dpop.ProofParams{Method: http.MethodGet, URL: meta.UserinfoEndpoint, AccessToken: tok.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, meta.UserinfoEndpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "DPoP "+tok.AccessToken)
	req.Header.Set("DPoP", proof)
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ch, _ := discovery.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate")...)
	if resp.StatusCode != http.StatusUnauthorized || len(ch) == 0 || ch[0].ErrorCode() != "use_dpop_nonce" || resp.Header.Get("DPoP-Nonce") == "" {
		t.Errorf("userinfo, a proof without a nonce: %s, challenge %v, DPoP-Nonce %v; want 401 use_dpop_nonce with a nonce", resp.Status, ch, resp.Header.Get("DPoP-Nonce") != "")
		return
	}
	t.Logf("userinfo, a proof without a nonce: %s, WWW-Authenticate %q, with DPoP-Nonce", resp.Status, resp.Header.Values("WWW-Authenticate"))
}

// wantBound checks that tok is a DPoP token whose cnf.jkt is jkt and whose
// aud is the resource.
func wantBound(t *testing.T, what string, tok *oauth2.Token, jkt, resource string) {
	t.Helper()
	if tok.TokenType != "DPoP" {
		t.Errorf("%s: token_type %q; want DPoP", what, tok.TokenType)
	}
	claims := jwtClaims(t, tok.AccessToken)
	cnf, _ := claims["cnf"].(map[string]any)
	if got, _ := cnf["jkt"].(string); got != jkt {
		t.Errorf("%s: the access token's cnf.jkt is %q; want the session's key %s", what, got, jkt)
	}
	if aud := audiences(claims); !slices.Equal(aud, []string{resource}) {
		t.Errorf("%s: aud %q; want [%s]", what, aud, resource)
	}
}

// wantStoredKey checks that the record in the store keeps the private key
// whose thumbprint is jkt.
func wantStoredKey(t *testing.T, st store.Store, key store.Key, jkt string) {
	t.Helper()
	rec, err := st.Load(t.Context(), key)
	if err != nil {
		t.Fatalf("the stored record: %v", err)
	}
	if len(rec.DPoPKey) == 0 {
		t.Fatal("the stored record keeps no DPoP key")
	}
	k, err := dpop.ParsePrivateKey(rec.DPoPKey)
	if err != nil {
		t.Fatalf("the stored DPoP key: %v", err)
	}
	if k.Thumbprint() != jkt {
		t.Fatalf("the stored key's thumbprint %s; want %s", k.Thumbprint(), jkt)
	}
}

// callResource sends a GET and a POST with a body through the session's
// client and wants both accepted with the session's key.
func callResource(t *testing.T, what string, s *authloop.Session, rs *dpopResource, jkt string) {
	t.Helper()
	c := s.Client(t.Context())
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"n":1}`)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, rs.url, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %s at the resource: %v", what, method, err)
		}
		var out struct {
			JKT    string `json:"jkt"`
			Error  string `json:"error"`
			Reason string `json:"reason"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || out.JKT != jkt {
			t.Fatalf("%s: %s at the resource: %d %s (%s), key %q; want 200 with the key %s", what, method, resp.StatusCode, out.Error, out.Reason, out.JKT, jkt)
		}
	}
}

// wantRefused sends a request by hand and wants the resource server to
// refuse it with a reason that mentions why.
func wantRefused(t *testing.T, rs *dpopResource, what string, h http.Header, why string) {
	t.Helper()
	status, code, reason, err := rs.send(t.Context(), http.MethodGet, h)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusUnauthorized || !strings.Contains(reason, why) {
		t.Errorf("%s: %d %s (%s); want 401 because of the %s", what, status, code, reason, why)
		return
	}
	t.Logf("%s: refused, %s (%s)", what, code, reason)
}

// TestDPoPLeakedTokenOIDCProvider: what a DPoP-bound token is worth to
// whoever copies it without the key. The access token alone (Bearer), or
// with a proof signed by another key, is refused by the resource server
// and by oidc-provider's userinfo; a proof copied with its token is refused
// the second time by both; the refresh token alone, or with another key's
// proof, is refused by the token endpoint, and the session refreshes
// afterwards as if nothing happened.
func TestDPoPLeakedTokenOIDCProvider(t *testing.T) {
	oidcServer.start(t)
	ctx := t.Context()
	meta := mustMetadata(t, oidc.Issuer)
	rs := startDPoPResource(t, meta, false)
	other, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	session := func(resource string) (*authloop.Session, *dpopTap) {
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
			Resource:     resource,
			Interactive:  true,
			Browser:      b.Open,
			HTTPClient:   tapClient(tap),
			Prompt:       io.Discard,
			LoginTimeout: time.Minute,
		}, nil)
		tok, err := s.Token(ctx)
		if _, werr := b.Wait(); err == nil && werr != nil {
			t.Fatalf("the headless browser: %v", werr)
		}
		if err != nil {
			t.Fatalf("sign-in: %v", err)
		}
		if tok.TokenType != "DPoP" {
			t.Fatalf("token_type %q; want DPoP", tok.TokenType)
		}
		return s, tap
	}

	t.Run("resource", func(t *testing.T) {
		s, _ := session(rs.url)
		tok := s.Cached()
		otherProof, err := other.Proof(dpop.ProofParams{Method: http.MethodGet, URL: rs.url, AccessToken: tok.AccessToken})
		if err != nil {
			t.Fatal(err)
		}
		wantRefused(t, rs, "the access token as a bearer token", http.Header{"Authorization": {"Bearer " + tok.AccessToken}}, "Bearer scheme")
		wantRefused(t, rs, "the access token with the DPoP scheme and no proof", http.Header{"Authorization": {"DPoP " + tok.AccessToken}}, "0 DPoP headers")
		wantRefused(t, rs, "the access token with another key's proof", http.Header{
			"Authorization": {"DPoP " + tok.AccessToken}, "Dpop": {otherProof},
		}, "thumbprint")
		h, err := s.AuthHeader(ctx, http.MethodGet, rs.url)
		if err != nil {
			t.Fatal(err)
		}
		if status, code, reason, err := rs.send(ctx, http.MethodGet, h); err != nil || status != http.StatusOK {
			t.Fatalf("the session's own AuthHeader: %d %s %s %v; want 200", status, code, reason, err)
		}
		wantRefused(t, rs, "the token and its proof copied from a request", h, "replayed")
		h.Set("Authorization", "Bearer "+tok.AccessToken)
		wantRefused(t, rs, "a copied proof with the token as bearer", h, "Bearer scheme")
	})

	t.Run("userinfo", func(t *testing.T) {
		s, _ := session("")
		tok := s.Cached()
		ui := meta.UserinfoEndpoint
		h, err := s.AuthHeader(ctx, http.MethodGet, ui)
		if err != nil {
			t.Fatal(err)
		}
		status, code, reason, err := sendJSON(ctx, http.MethodGet, ui, h)
		if err != nil || status != http.StatusOK {
			t.Fatalf("userinfo with the session's AuthHeader: %d %s %q %v; want 200", status, code, reason, err)
		}
		otherProof, err := other.Proof(dpop.ProofParams{Method: http.MethodGet, URL: ui, AccessToken: tok.AccessToken})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			what   string
			h      http.Header
			status int
			code   string
		}{
			{"the access token as a bearer token", http.Header{"Authorization": {"Bearer " + tok.AccessToken}}, 401, "invalid_token"},
			// oidc-provider 9.13.3 answers the DPoP scheme without a DPoP
			// header as a malformed request, not an invalid token.
			{"the access token with the DPoP scheme and no proof", http.Header{"Authorization": {"DPoP " + tok.AccessToken}}, 400, "invalid_request"},
			{"the access token with another key's proof", http.Header{"Authorization": {"DPoP " + tok.AccessToken}, "Dpop": {otherProof}}, 401, "invalid_token"},
			{"the token and its proof copied from the accepted request", h, 401, "invalid_token"},
		} {
			status, code, reason, err := sendJSON(ctx, http.MethodGet, ui, c.h)
			if err != nil {
				t.Fatal(err)
			}
			if status != c.status || code != c.code {
				t.Errorf("userinfo, %s: %d %s %q; want %d %s", c.what, status, code, reason, c.status, c.code)
				continue
			}
			t.Logf("userinfo, %s: %d %s %q", c.what, status, code, reason)
		}
	})

	t.Run("refresh-token", func(t *testing.T) {
		s, tap := session("")
		rt := s.Cached().RefreshToken
		proof, err := other.Proof(dpop.ProofParams{Method: http.MethodPost, URL: meta.TokenEndpoint})
		if err != nil {
			t.Fatal(err)
		}
		client := tap.all()[0].clientID
		for _, c := range []struct {
			what  string
			proof string
		}{{"the refresh token alone", ""}, {"the refresh token with another key's proof", proof}} {
			status, te, err := handRefresh(ctx, meta.TokenEndpoint, client, rt, c.proof)
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusBadRequest || te.Code != "invalid_grant" {
				t.Errorf("%s: %d %+v; want 400 invalid_grant", c.what, status, te)
				continue
			}
			t.Logf("%s: %d %s %q", c.what, status, te.Code, te.Description)
		}
		nt, err := s.Refresh(ctx)
		if err != nil {
			t.Fatalf("the session's refresh after the refused copies: %v", err)
		}
		h, err := s.AuthHeader(ctx, http.MethodGet, meta.UserinfoEndpoint)
		if err != nil {
			t.Fatal(err)
		}
		if status, code, reason, err := sendJSON(ctx, http.MethodGet, meta.UserinfoEndpoint, h); err != nil || status != http.StatusOK {
			t.Fatalf("userinfo with the refreshed token: %d %s %q %v", status, code, reason, err)
		}
		if nt.RefreshToken == rt {
			t.Error("the refresh token did not rotate")
		}
	})
}

// handRefresh sends a refresh request by hand, as a public client, with
// proof in the DPoP header when it is not empty.
func handRefresh(ctx context.Context, endpoint, clientID, refreshToken, proof string) (int, *tokenError, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {clientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	te := &tokenError{Status: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	_ = json.Unmarshal(b, te)
	return resp.StatusCode, te, nil
}

// TestDPoPHydraFallsBackToBearer: Hydra v2.3.0 has no DPoP (its metadata
// lists no dpop_signing_alg_values_supported). With Config.DPoP auto the
// session sends no proof; with DPoPOn every token request carries one, which
// Hydra ignores. Either way the session signs in and refreshes without an
// error, as a bearer session: token_type bearer, "Authorization: Bearer"
// at userinfo.
func TestDPoPHydraFallsBackToBearer(t *testing.T) {
	hydraServer.start(t)
	meta := mustMetadata(t, hydra.Issuer)
	if meta.SupportsDPoP("ES256") || strings.Contains(string(meta.Raw), "dpop") {
		t.Fatalf("Hydra's metadata now mentions DPoP: update this test and docs/INTEROP.md")
	}
	for _, mode := range []authloop.DPoPMode{authloop.DPoPAuto, authloop.DPoPOn} {
		// One after the other: Hydra's in-memory SQLite answers two
		// sign-ins at once with 500 now and then.
		t.Run(mode.String(), func(t *testing.T) {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("Hydra's log (tail):\n%s", tail(hydra.Output(), 3000))
				}
			})
			ctx := t.Context()
			client, err := hydra.NewPublicClient(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tap := &dpopTap{tokenURL: meta.TokenEndpoint, next: transport}
			b := peers.NewHeadlessBrowser()
			defer b.CloseIdleConnections()
			st, err := store.NewFile(filepath.Join(t.TempDir(), "store"))
			if err != nil {
				t.Fatal(err)
			}
			// Only the issuer: the session reads Hydra's metadata, which
			// DPoPAuto consults.
			s := newSession(t, &authloop.Config{
				OAuth2:       &oauth2.Config{ClientID: client.ID, Scopes: []string{"openid", "offline_access"}},
				Issuer:       hydra.Issuer,
				DPoP:         mode,
				Store:        st,
				Interactive:  true,
				Browser:      b.Open,
				HTTPClient:   tapClient(tap),
				Prompt:       io.Discard,
				LoginTimeout: time.Minute,
			}, nil)
			tok, err := s.Token(ctx)
			if _, werr := b.Wait(); err == nil && werr != nil {
				t.Fatalf("the headless browser: %v", werr)
			}
			if err != nil {
				t.Fatalf("sign-in with DPoP %v: %v", mode, err)
			}
			toks := []*oauth2.Token{tok}
			for i := range 2 {
				nt, err := s.Refresh(ctx)
				if err != nil {
					t.Fatalf("refresh %d with DPoP %v: %v", i+1, mode, err)
				}
				toks = append(toks, nt)
			}
			for i, tk := range toks {
				if !strings.EqualFold(tk.TokenType, "bearer") {
					t.Errorf("token %d: token_type %q; want bearer", i, tk.TokenType)
				}
			}
			// The session's client sends the token as bearer, and Hydra takes it.
			resp, err := s.Client(ctx).Get(meta.UserinfoEndpoint)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("userinfo through the session's client: %s; want 200", resp.Status)
			}
			if got := tap.schemes(); !slices.Equal(got, []string{"Bearer"}) || tap.otherProofs() != 0 {
				t.Errorf("userinfo went with the Authorization schemes %q and %d DPoP proofs; want [Bearer] and none", got, tap.otherProofs())
			}
			ex := tap.all()
			for i, e := range ex {
				if e.status != http.StatusOK {
					t.Errorf("token request %d (%s) failed: %+v", i+1, e.grant, e)
				}
				if e.proof != (mode == authloop.DPoPOn) {
					t.Errorf("token request %d (%s) with DPoP %v: proof sent %v", i+1, e.grant, mode, e.proof)
				}
			}
			if len(ex) != 3 {
				t.Errorf("%d token requests; want 3 (one code exchange, two refreshes)", len(ex))
			}
			rec, err := st.Load(ctx, s.Key())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("DPoP %v at Hydra: token_type %q as sent, %d token requests (proofs: %v), session key thumbprint %q, key kept in the record: %v",
				mode, ex[0].tokenType, len(ex), mode == authloop.DPoPOn, s.DPoPThumbprint(), len(rec.DPoPKey) > 0)
		})
	}
}

// tokenExchange is one token request as the tap saw it.
type tokenExchange struct {
	grant      string
	clientID   string
	proof      bool   // a DPoP header was sent
	proofJKT   string // the thumbprint of the key that signed it
	proofNonce string
	status     int
	errCode    string
	errDesc    string
	nonceBack  bool // the answer carried DPoP-Nonce
	tokenType  string
}

func (e tokenExchange) String() string {
	return fmt.Sprintf("{%s proof:%v nonce:%v → %d %s%s token_type:%q DPoP-Nonce:%v}",
		e.grant, e.proof, e.proofNonce != "", e.status, e.errCode, map[bool]string{true: " " + e.errDesc}[e.errDesc != ""], e.tokenType, e.nonceBack)
}

// dpopTap records every token request: its grant, its DPoP proof, and the
// answer (status, error, token_type, DPoP-Nonce); and the Authorization
// scheme of every other request, and whether it carried a proof. It keeps
// no token.
type dpopTap struct {
	tokenURL string
	next     http.RoundTripper
	mu       sync.Mutex
	ex       []tokenExchange
	scheme   []string // of the requests to other URLs
	proofs   int      // requests to other URLs with a DPoP header
}

func tapClient(tap *dpopTap) *http.Client {
	return &http.Client{
		Transport:     tap,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (tp *dpopTap) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.URL.String() != tp.tokenURL || req.Body == nil {
		if a := req.Header.Get("Authorization"); a != "" {
			scheme, _, _ := strings.Cut(a, " ")
			tp.mu.Lock()
			tp.scheme = append(tp.scheme, scheme)
			if req.Header.Get("DPoP") != "" {
				tp.proofs++
			}
			tp.mu.Unlock()
		}
		return tp.next.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	e := tokenExchange{grant: form.Get("grant_type"), clientID: form.Get("client_id")}
	if v := req.Header.Get("DPoP"); v != "" {
		e.proof = true
		if p, err := dpop.Parse(v); err == nil {
			e.proofJKT, e.proofNonce = p.JKT(), p.Nonce
		}
	}
	resp, err := tp.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	var out struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		TokenType   string `json:"token_type"`
	}
	_ = json.Unmarshal(rb, &out)
	e.status, e.errCode, e.errDesc, e.tokenType = resp.StatusCode, out.Error, out.Description, out.TokenType
	e.nonceBack = resp.Header.Get("DPoP-Nonce") != ""
	tp.mu.Lock()
	tp.ex = append(tp.ex, e)
	tp.mu.Unlock()
	return resp, nil
}

func (tp *dpopTap) all() []tokenExchange {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return slices.Clone(tp.ex)
}

// schemes returns the Authorization schemes of the requests to other URLs
// than the token endpoint, in order.
func (tp *dpopTap) schemes() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return slices.Clone(tp.scheme)
}

// otherProofs returns how many requests to other URLs carried a proof.
func (tp *dpopTap) otherProofs() int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.proofs
}

// mustUserinfoAs asserts that the session's current token works at the
// userinfo endpoint, sent as the session sends it (Session.AuthHeader):
// Bearer, or DPoP with a proof. A session in DPoPAuto at oidc-provider
// holds DPoP-bound tokens (its metadata offers ES256), which userinfo
// refuses as bearer tokens.
func mustUserinfoAs(t *testing.T, f *fixture, s *authloop.Session) {
	t.Helper()
	h, err := s.AuthHeader(t.Context(), http.MethodGet, f.meta.UserinfoEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.meta.UserinfoEndpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Sub string `json:"sub"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&out)
	scheme, _, _ := strings.Cut(h.Get("Authorization"), " ")
	if resp.StatusCode != http.StatusOK || out.Sub == "" {
		t.Fatalf("userinfo with the session's token (%s): status %d, sub %q; want 200 and a subject", scheme, resp.StatusCode, out.Sub)
	}
}

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

// TestDPoPConfidentialClientOIDCProvider: with a confidential client
// (client_secret_basic), oidc-provider binds the access tokens to the
// session's key but not the refresh token (its setRefreshTokenBindings binds
// only public clients', as RFC 9449 §5 allows: a confidential client's
// refresh token is bound to its authentication). The session signs in and
// refreshes with DPoP tokens; the refresh token with the client's secret
// and no proof is accepted, and gives a bearer token. The test checks that
// this stays so; the session's next refresh is then reuse (invalid_grant)
// and, interactive, it signs in again.
func TestDPoPConfidentialClientOIDCProvider(t *testing.T) {
	oidcServer.start(t)
	ctx := t.Context()
	meta := mustMetadata(t, oidc.Issuer)
	tap := &dpopTap{tokenURL: meta.TokenEndpoint, next: transport}
	b := peers.NewHeadlessBrowser()
	defer b.CloseIdleConnections()
	s := newSession(t, &authloop.Config{
		OAuth2: &oauth2.Config{
			ClientID:     peers.OIDCConfidentialClientID,
			ClientSecret: peers.OIDCConfidentialClientSecret,
			Scopes:       []string{"openid", "offline_access"},
		},
		Issuer:       meta.Issuer,
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
	tok, err := s.Refresh(ctx)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok.TokenType != "DPoP" {
		t.Fatalf("token_type %q; want DPoP", tok.TokenType)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, meta.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(peers.OIDCConfidentialClientID, peers.OIDCConfidentialClientSecret)
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		TokenType string `json:"token_type"`
		Error     string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || out.TokenType != "Bearer" {
		t.Fatalf("the refresh token with the secret and no proof: %d %q token_type %q; oidc-provider used to accept it with a bearer token: update this test and docs/INTEROP.md", resp.StatusCode, out.Error, out.TokenType)
	}
	t.Logf("the refresh token with the client's secret and no proof: 200, token_type %q", out.TokenType)
	// The session's refresh token was rotated by the hand refresh: its
	// refresh is reuse (invalid_grant, and oidc-provider revokes the
	// grant), and the interactive session signs in again.
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatalf("the session after its refresh token was used by hand: %v", err)
	}
	b.Wait()
	ex := tap.all()
	if len(ex) != 4 || ex[2].errCode != "invalid_grant" || ex[3].grant != "authorization_code" || ex[3].tokenType != "DPoP" {
		t.Errorf("token requests %v; want code, refresh, refresh refused invalid_grant, a new sign-in with DPoP", ex)
	}
}
