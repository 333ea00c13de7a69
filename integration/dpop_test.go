package integration_test

// DPoP (RFC 9449) against the real peers: oidc-provider binds tokens to the
// session's key (with and without nonces), a resource server of ours checks
// the proofs and the binding, a stolen token or a replayed proof is refused,
// and Hydra, which has no DPoP, gets bearer sessions without an error.
// This file: sign-in to restart (TestDPoPOIDCProvider). Beside it:
// dpopleak_test.go (stolen tokens, a confidential client), dpophydra_test.go
// (bearer fall-back), dpopconcurrent_test.go (two sessions on one store,
// concurrent nonce challenges), dpopmcp_test.go (the go-sdk MCP client),
// dpopresource_test.go (the resource server), dpoptap_test.go (what the
// token endpoint saw).

import (
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
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/dpop"
	"github.com/authloop/authloop/integration/peers"
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
	s, tok := headlessSignIn(ctx, t, &authloop.Config{
		OAuth2:     &oauth2.Config{ClientID: client.ID, Scopes: []string{"openid", "offline_access"}},
		Issuer:     meta.Issuer,
		HTTPClient: tapClient(tap),
	})
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
