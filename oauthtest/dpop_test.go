package oauthtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/dpop"
)

func newDPoPKey(t *testing.T) *dpop.Key {
	t.Helper()
	k, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// proof signs a proof for the request p describes.
func proof(t *testing.T, k *dpop.Key, p dpop.ProofParams) string {
	t.Helper()
	pr, err := k.Proof(p)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

// tokenProof signs a proof for a token request to s, with nonce.
func tokenProof(t *testing.T, s *Server, k *dpop.Key, nonce string) string {
	t.Helper()
	return proof(t, k, dpop.ProofParams{Method: "POST", URL: s.TokenEndpoint(), Nonce: nonce, Now: s.clock.Now()})
}

// withDPoP sets the DPoP headers of a request, one per proof.
func withDPoP(proofs ...string) func(*http.Request) {
	return func(r *http.Request) {
		for _, p := range proofs {
			r.Header.Add("DPoP", p)
		}
	}
}

// redeemCode redeems code for the default client with the given DPoP
// proofs (none: no DPoP header).
func redeemCode(t *testing.T, s *Server, code string, proofs ...string) tokenResult {
	t.Helper()
	return postForm(t, s.TokenEndpoint(), url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect},
		"client_id": {s.ClientID()}, "code_verifier": {testVerifier},
	}, withDPoP(proofs...))
}

// refreshDPoP refreshes rt for the default client with the given proofs.
func refreshDPoP(t *testing.T, s *Server, rt string, proofs ...string) tokenResult {
	t.Helper()
	return postForm(t, s.TokenEndpoint(), url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {s.ClientID()},
	}, withDPoP(proofs...))
}

// dpopLogin signs in with a proof by k (and nonce) and checks that the
// tokens are DPoP-bound.
func dpopLogin(t *testing.T, s *Server, k *dpop.Key, nonce string) tokenResult {
	t.Helper()
	res := redeemCode(t, s, getCode(t, s, authParams(s)), tokenProof(t, s, k, nonce))
	if res.status != http.StatusOK || res.str("token_type") != "DPoP" {
		t.Fatalf("DPoP exchange: %d %v", res.status, res.body)
	}
	return res
}

// resourceCall is a resource request: its method, Authorization header and
// DPoP headers, and optionally the Host header the client sends.
type resourceCall struct {
	method, auth string
	proofs       []string
	host         string
}

func (c resourceCall) do(t *testing.T, s *Server) (int, http.Header, map[string]any) {
	t.Helper()
	m := c.method
	if m == "" {
		m = http.MethodGet
	}
	req, err := http.NewRequest(m, s.ResourceEndpoint(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	withDPoP(c.proofs...)(req)
	if c.host != "" {
		req.Host = c.host
	}
	resp, err := noRedirectClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, resp.Header, body
}

// resourceProof signs a proof for a GET of the resource with at.
func resourceProof(t *testing.T, s *Server, k *dpop.Key, at, nonce string) string {
	t.Helper()
	return proof(t, k, dpop.ProofParams{Method: "GET", URL: s.ResourceEndpoint(), AccessToken: at, Nonce: nonce, Now: s.clock.Now()})
}

// callDPoP calls the resource with at under the DPoP scheme and a fresh
// proof by k.
func callDPoP(t *testing.T, s *Server, k *dpop.Key, at, nonce string) (int, http.Header, map[string]any) {
	t.Helper()
	return resourceCall{auth: "DPoP " + at, proofs: []string{resourceProof(t, s, k, at, nonce)}}.do(t, s)
}

func lastRequest(s *Server) Request {
	reqs := s.Requests()
	return reqs[len(reqs)-1]
}

func TestDPoPMetadata(t *testing.T) {
	for _, cfg := range []Config{{DPoP: true}, {DPoPRequired: true}, {DPoPNonce: true}} {
		s := newTestServer(t, cfg)
		_, m := fetchJSON(t, s.MetadataURL())
		if got := strs(m["dpop_signing_alg_values_supported"]); len(got) != 1 || got[0] != "ES256" {
			t.Errorf("%+v: dpop_signing_alg_values_supported = %v, want [ES256]", cfg, m["dpop_signing_alg_values_supported"])
		}
		_, rm := fetchJSON(t, s.ResourceMetadataURL())
		if got := strs(rm["dpop_signing_alg_values_supported"]); len(got) != 1 || got[0] != "ES256" || rm["dpop_bound_access_tokens_required"] != cfg.DPoPRequired {
			t.Errorf("%+v: resource metadata %v", cfg, rm)
		}
	}
	s := newTestServer(t, Config{})
	_, m := fetchJSON(t, s.MetadataURL())
	_, rm := fetchJSON(t, s.ResourceMetadataURL())
	if _, ok := m["dpop_signing_alg_values_supported"]; ok {
		t.Error("a server without DPoP lists dpop_signing_alg_values_supported")
	}
	if _, ok := rm["dpop_signing_alg_values_supported"]; ok {
		t.Error("a resource without DPoP lists dpop_signing_alg_values_supported")
	}
}

// A token request with a valid proof gets DPoP tokens bound to the proof's
// key; refreshing them with a proof by the same key keeps the binding; the
// resource takes the token with the DPoP scheme and reports cnf.jkt.
func TestDPoPTokensBoundAcrossRefresh(t *testing.T) {
	s := newTestServer(t, Config{DPoP: true})
	k := newDPoPKey(t)
	jkt := k.Thumbprint()
	res := dpopLogin(t, s, k, "")
	if got := s.TokenBinding(res.str("access_token")); got != jkt {
		t.Fatalf("TokenBinding = %q, want the key's %q", got, jkt)
	}
	if e := lastRequest(s); e.Endpoint != "token" || e.DPoPJKT != jkt || e.Status != 200 {
		t.Errorf("log entry %+v, want DPoPJKT %q", e, jkt)
	}
	rt := res.str("refresh_token")
	for i := range 3 {
		next := refreshDPoP(t, s, rt, tokenProof(t, s, k, ""))
		if next.status != 200 || next.str("token_type") != "DPoP" {
			t.Fatalf("refresh %d: %d %v", i, next.status, next.body)
		}
		if got := s.TokenBinding(next.str("access_token")); got != jkt {
			t.Fatalf("refresh %d: TokenBinding = %q, want %q", i, got, jkt)
		}
		rt = next.str("refresh_token")
		status, _, body := callDPoP(t, s, k, next.str("access_token"), "")
		cnf, _ := body["cnf"].(map[string]any)
		if status != 200 || cnf["jkt"] != jkt || body["sub"] != "alice" {
			t.Fatalf("resource after refresh %d: %d %v", i, status, body)
		}
		if e := lastRequest(s); e.Endpoint != "resource" || e.DPoPJKT != jkt {
			t.Errorf("resource log entry %+v", e)
		}
	}
	// The refresh token of the last refresh is bound too.
	wantError(t, refreshDPoP(t, s, rt), 400, "invalid_dpop_proof")
}

// Without a DPoP header the server answers bearer tokens as before, unless
// DPoP is required.
func TestDPoPWithoutProof(t *testing.T) {
	s := newTestServer(t, Config{DPoP: true})
	res := login(t, s)
	if res.str("token_type") != "Bearer" || s.TokenBinding(res.str("access_token")) != "" {
		t.Fatalf("no proof: %v, binding %q", res.body, s.TokenBinding(res.str("access_token")))
	}
	if r := refresh(t, s, res.str("refresh_token"), nil); r.status != 200 || r.str("token_type") != "Bearer" {
		t.Fatalf("bearer refresh: %d %v", r.status, r.body)
	}
	if status, _, body := callResource(t, s, "Bearer "+res.str("access_token")); status != 200 || body["cnf"] != nil {
		t.Errorf("bearer token at the resource: %d %v", status, body)
	}
	if e := lastRequest(s); e.DPoPJKT != "" {
		t.Errorf("log entry %+v has a DPoPJKT without a proof", e)
	}

	req := newTestServer(t, Config{DPoPRequired: true})
	code := getCode(t, req, authParams(req))
	r := redeemCode(t, req, code)
	wantError(t, r, 400, "invalid_dpop_proof")
	if !strings.Contains(r.str("error_description"), "DPoP proof is required") {
		t.Errorf("error_description %q", r.str("error_description"))
	}
	// Refused before the code was looked at: it still works with a proof.
	k := newDPoPKey(t)
	if ok := redeemCode(t, req, code, tokenProof(t, req, k, "")); ok.status != 200 || ok.str("token_type") != "DPoP" {
		t.Fatalf("code after the refusal: %d %v", ok.status, ok.body)
	}
}

// With DPoP off, a DPoP header is ignored, as by a server that does not
// know DPoP: bearer tokens, and the DPoP scheme is no scheme the resource
// takes.
func TestDPoPOffIgnoresProofs(t *testing.T) {
	s := newTestServer(t, Config{})
	k := newDPoPKey(t)
	res := redeemCode(t, s, getCode(t, s, authParams(s)), tokenProof(t, s, k, ""))
	if res.status != 200 || res.str("token_type") != "Bearer" || s.TokenBinding(res.str("access_token")) != "" {
		t.Fatalf("%d %v", res.status, res.body)
	}
	if e := lastRequest(s); e.DPoPJKT != "" || e.DPoPNonce != "" {
		t.Errorf("log entry %+v", e)
	}
	status, h, _ := callDPoP(t, s, k, res.str("access_token"), "")
	if status != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer ") || strings.Contains(h.Get("WWW-Authenticate"), "DPoP") {
		t.Errorf("DPoP scheme at a server without DPoP: %d %q", status, h.Get("WWW-Authenticate"))
	}
}

// Every grant binds its tokens to the proof's key.
func TestDPoPEveryGrant(t *testing.T) {
	s := newTestServer(t, Config{DPoP: true, Clients: []Client{{ID: DefaultClientID}, {ID: "svc", Secret: "svc-secret", AuthMethod: AuthClientSecretPost}}})
	k := newDPoPKey(t)
	cc := postForm(t, s.TokenEndpoint(), url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"svc-secret"}},
		withDPoP(tokenProof(t, s, k, "")))
	if cc.status != 200 || cc.str("token_type") != "DPoP" || s.TokenBinding(cc.str("access_token")) != k.Thumbprint() {
		t.Errorf("client_credentials: %d %v", cc.status, cc.body)
	}
	dev := startDevice(t, s, nil)
	if err := s.ApproveDevice(dev.str("user_code")); err != nil {
		t.Fatal(err)
	}
	poll := postForm(t, s.TokenEndpoint(), url.Values{"grant_type": {DeviceCodeGrantType}, "device_code": {dev.str("device_code")}, "client_id": {s.ClientID()}},
		withDPoP(tokenProof(t, s, k, "")))
	if poll.status != 200 || poll.str("token_type") != "DPoP" || s.TokenBinding(poll.str("access_token")) != k.Thumbprint() {
		t.Errorf("device_code: %d %v", poll.status, poll.body)
	}
	wantError(t, refreshDPoP(t, s, poll.str("refresh_token")), 400, "invalid_dpop_proof")
}

// A JWT access token carries the binding as cnf.jkt (RFC 9449 §6.1).
func TestDPoPJWTAccessTokenCnf(t *testing.T) {
	s := newTestServer(t, Config{DPoP: true, JWTAccessTokens: true})
	k := newDPoPKey(t)
	_, c := decodeJWT(t, s, dpopLogin(t, s, k, "").str("access_token"))
	cnf, _ := c["cnf"].(map[string]any)
	if cnf["jkt"] != k.Thumbprint() {
		t.Errorf("claims %v, want cnf.jkt %q", c, k.Thumbprint())
	}
	_, c = decodeJWT(t, s, login(t, s).str("access_token"))
	if _, ok := c["cnf"]; ok {
		t.Errorf("a bearer JWT has cnf: %v", c)
	}
}

// Invalid proofs are refused with invalid_dpop_proof before the code is
// looked at: it still works with a valid proof afterwards.
func TestDPoPTokenEndpointRefusesInvalidProofs(t *testing.T) {
	clock := NewFakeClock(time.Unix(1_900_000_000, 0))
	s := newTestServer(t, Config{DPoP: true, Clock: clock})
	k := newDPoPKey(t)
	code := getCode(t, s, authParams(s))
	for name, proofs := range map[string][]string{
		"not a JWT":      {"not-a-proof"},
		"another URL":    {proof(t, k, dpop.ProofParams{Method: "POST", URL: s.Issuer() + "/other", Now: clock.Now()})},
		"another method": {proof(t, k, dpop.ProofParams{Method: "GET", URL: s.TokenEndpoint(), Now: clock.Now()})},
		"too old":        {proof(t, k, dpop.ProofParams{Method: "POST", URL: s.TokenEndpoint(), Now: clock.Now().Add(-10 * time.Minute)})},
		"two headers":    {tokenProof(t, s, k, ""), tokenProof(t, s, k, "")},
		"empty":          {""},
	} {
		r := redeemCode(t, s, code, proofs...)
		if r.status != 400 || r.str("error") != "invalid_dpop_proof" || r.str("error_description") == "" {
			t.Errorf("%s: %d %v, want 400 invalid_dpop_proof", name, r.status, r.body)
		}
	}
	if r := redeemCode(t, s, code, tokenProof(t, s, k, "")); r.status != 200 {
		t.Fatalf("the code after the refusals: %d %v", r.status, r.body)
	}
}

// A proof is accepted once (its jti); the set of seen proofs forgets a
// proof once it is too old to pass anyway.
func TestDPoPReplayRefused(t *testing.T) {
	clock := NewFakeClock(time.Unix(1_900_000_000, 0))
	s := newTestServer(t, Config{DPoP: true, Clock: clock})
	k := newDPoPKey(t)
	res := dpopLogin(t, s, k, "")
	p := tokenProof(t, s, k, "")
	next := refreshDPoP(t, s, res.str("refresh_token"), p)
	if next.status != 200 {
		t.Fatalf("refresh: %d %v", next.status, next.body)
	}
	r := refreshDPoP(t, s, next.str("refresh_token"), p)
	wantError(t, r, 400, "invalid_dpop_proof")
	if !strings.Contains(r.str("error_description"), "used before") {
		t.Errorf("error_description %q", r.str("error_description"))
	}
	// The replay spent nothing: the refresh token works with a new proof.
	if ok := refreshDPoP(t, s, next.str("refresh_token"), tokenProof(t, s, k, "")); ok.status != 200 {
		t.Fatalf("refresh after the replay: %d %v", ok.status, ok.body)
	}

	// At the resource.
	at := res.str("access_token")
	rp := resourceProof(t, s, k, at, "")
	call := resourceCall{auth: "DPoP " + at, proofs: []string{rp}}
	if status, _, body := call.do(t, s); status != 200 {
		t.Fatalf("resource: %d %v", status, body)
	}
	status, h, body := call.do(t, s)
	if status != 401 || body["error"] != "invalid_dpop_proof" || !strings.HasPrefix(h.Get("WWW-Authenticate"), `DPoP error="invalid_dpop_proof"`) {
		t.Errorf("replay at the resource: %d %q %v", status, h.Get("WWW-Authenticate"), body)
	}

	// Bounded: past the proofs' maximum age, the set is emptied.
	s.mu.Lock()
	n := len(s.dp.seen)
	s.mu.Unlock()
	if n != 4 {
		t.Fatalf("%d proofs remembered, want 4", n)
	}
	clock.Advance(dpop.DefaultMaxAge + time.Second)
	dpopLogin(t, s, k, "")
	s.mu.Lock()
	n = len(s.dp.seen)
	s.mu.Unlock()
	if n != 1 {
		t.Errorf("%d proofs remembered after %v, want 1 (the old ones dropped)", n, dpop.DefaultMaxAge)
	}
}

// A bound refresh token without a proof, or with a proof by another key,
// is refused before anything is rotated or revoked; with the right key it
// still works afterwards. A reused (rotated) bound refresh token without
// its key revokes nothing either.
func TestDPoPBoundRefreshNeedsTheKey(t *testing.T) {
	s := newTestServer(t, Config{DPoP: true})
	k, other := newDPoPKey(t), newDPoPKey(t)
	res := dpopLogin(t, s, k, "")
	rt := res.str("refresh_token")

	r := refreshDPoP(t, s, rt)
	wantError(t, r, 400, "invalid_dpop_proof")
	if !strings.Contains(r.str("error_description"), "DPoP-bound") {
		t.Errorf("without a proof: %q", r.str("error_description"))
	}
	r = refreshDPoP(t, s, rt, tokenProof(t, s, other, ""))
	wantError(t, r, 400, "invalid_dpop_proof")
	if !strings.Contains(r.str("error_description"), "another key") {
		t.Errorf("another key: %q", r.str("error_description"))
	}
	if !s.ValidAccessToken(res.str("access_token")) {
		t.Fatal("a refused refresh revoked the access token")
	}
	next := refreshDPoP(t, s, rt, tokenProof(t, s, k, ""))
	if next.status != 200 {
		t.Fatalf("refresh with the key after the refusals: %d %v", next.status, next.body)
	}
	// rt is rotated now; replayed without the key, it is refused without
	// the reuse detection revoking the grant.
	wantError(t, refreshDPoP(t, s, rt), 400, "invalid_dpop_proof")
	wantError(t, refreshDPoP(t, s, rt, tokenProof(t, s, other, "")), 400, "invalid_dpop_proof")
	if !s.ValidAccessToken(next.str("access_token")) {
		t.Fatal("a reused refresh token without its key revoked the grant")
	}
	if ok := refreshDPoP(t, s, next.str("refresh_token"), tokenProof(t, s, k, "")); ok.status != 200 {
		t.Fatalf("the live refresh token: %d %v", ok.status, ok.body)
	}
}

// A refresh token issued without a proof is a bearer refresh token: a
// refresh with a proof binds the new tokens to the proof's key.
func TestDPoPRefreshOfBearerTokenBinds(t *testing.T) {
	s := newTestServer(t, Config{DPoP: true})
	k := newDPoPKey(t)
	res := login(t, s)
	next := refreshDPoP(t, s, res.str("refresh_token"), tokenProof(t, s, k, ""))
	if next.status != 200 || next.str("token_type") != "DPoP" || s.TokenBinding(next.str("access_token")) != k.Thumbprint() {
		t.Fatalf("%d %v", next.status, next.body)
	}
	wantError(t, refreshDPoP(t, s, next.str("refresh_token")), 400, "invalid_dpop_proof")
}

// An authorization request's dpop_jkt binds the code (RFC 9449 §10): with
// another key it is refused, and not spent.
func TestDPoPAuthorizationCodeBoundByDPoPJKT(t *testing.T) {
	s := newTestServer(t, Config{DPoP: true})
	k, other := newDPoPKey(t), newDPoPKey(t)
	p := authParams(s)
	p.Set("dpop_jkt", k.Thumbprint())
	code := getCode(t, s, p)
	wantError(t, redeemCode(t, s, code, tokenProof(t, s, other, "")), 400, "invalid_grant")
	wantError(t, redeemCode(t, s, code), 400, "invalid_grant")
	if r := redeemCode(t, s, code, tokenProof(t, s, k, "")); r.status != 200 || s.TokenBinding(r.str("access_token")) != k.Thumbprint() {
		t.Fatalf("with the key: %d %v", r.status, r.body)
	}
}

// With DPoPNonce, a token request's proof must carry the current nonce:
// without it (or with an old one) the answer is 400 use_dpop_nonce with
// DPoP-Nonce, and nothing is spent; every answer to a DPoP request
// carries the current nonce.
func TestDPoPNonceAtTokenEndpoint(t *testing.T) {
	s := newTestServer(t, Config{DPoPNonce: true})
	k := newDPoPKey(t)
	code := getCode(t, s, authParams(s))
	r := redeemCode(t, s, code, tokenProof(t, s, k, ""))
	wantError(t, r, 400, "use_dpop_nonce")
	nonce := r.header.Get("DPoP-Nonce")
	if nonce == "" || r.str("error_description") == "" {
		t.Fatalf("use_dpop_nonce without a nonce or description: %v %v", r.header, r.body)
	}
	if e := lastRequest(s); e.Error != "use_dpop_nonce" || e.DPoPJKT != "" {
		t.Errorf("log entry %+v", e)
	}
	res := redeemCode(t, s, code, tokenProof(t, s, k, nonce))
	if res.status != 200 || res.str("token_type") != "DPoP" || res.header.Get("DPoP-Nonce") != nonce {
		t.Fatalf("with the nonce: %d %v %v", res.status, res.header, res.body)
	}
	if e := lastRequest(s); e.DPoPNonce != nonce || e.DPoPJKT != k.Thumbprint() {
		t.Errorf("log entry %+v, want DPoPNonce %q", e, nonce)
	}

	fresh := s.RotateDPoPNonce()
	if fresh == nonce || fresh == "" {
		t.Fatalf("RotateDPoPNonce returned %q", fresh)
	}
	rt := res.str("refresh_token")
	r = refreshDPoP(t, s, rt, tokenProof(t, s, k, nonce))
	wantError(t, r, 400, "use_dpop_nonce")
	if r.header.Get("DPoP-Nonce") != fresh {
		t.Errorf("DPoP-Nonce %q, want the new nonce %q", r.header.Get("DPoP-Nonce"), fresh)
	}
	if e := lastRequest(s); e.DPoPNonce != nonce {
		t.Errorf("log entry %+v, want the stale nonce %q", e, nonce)
	}
	// Refused before the grant: the refresh token is neither rotated nor revoked.
	if ok := refreshDPoP(t, s, rt, tokenProof(t, s, k, fresh)); ok.status != 200 || ok.header.Get("DPoP-Nonce") != fresh {
		t.Fatalf("refresh with the new nonce: %d %v %v", ok.status, ok.header, ok.body)
	}
	// An error answer to a DPoP request carries the nonce too; a request
	// without a proof gets none.
	if bad := refreshDPoP(t, s, "unknown", tokenProof(t, s, k, fresh)); bad.str("error") != "invalid_grant" || bad.header.Get("DPoP-Nonce") != fresh {
		t.Errorf("invalid_grant: %v %v", bad.header, bad.body)
	}
	dup := postForm(t, s.TokenEndpoint(), url.Values{"grant_type": {"refresh_token", "refresh_token"}, "refresh_token": {rt}},
		withDPoP(tokenProof(t, s, k, fresh)))
	if dup.str("error") != "invalid_request" || dup.header.Get("DPoP-Nonce") != fresh {
		t.Errorf("invalid_request before the proof is looked at: %v %v", dup.header, dup.body)
	}
	if plain := login(t, s); plain.header.Get("DPoP-Nonce") != "" || plain.str("token_type") != "Bearer" {
		t.Errorf("no proof: %v %v", plain.header, plain.body)
	}
}

// With DPoPNonce, the resource requires the same nonce: 401 use_dpop_nonce
// with WWW-Authenticate: DPoP and DPoP-Nonce, then 200 with the nonce.
func TestDPoPNonceAtResource(t *testing.T) {
	s := newTestServer(t, Config{DPoPNonce: true})
	k := newDPoPKey(t)
	nonce := s.RotateDPoPNonce()
	at := dpopLogin(t, s, k, nonce).str("access_token")
	status, h, body := callDPoP(t, s, k, at, "")
	if status != 401 || body["error"] != "use_dpop_nonce" || h.Get("DPoP-Nonce") != nonce ||
		!strings.HasPrefix(h.Get("WWW-Authenticate"), `DPoP error="use_dpop_nonce", error_description="`) {
		t.Fatalf("without a nonce: %d %v %v", status, h, body)
	}
	status, h, body = callDPoP(t, s, k, at, nonce)
	if status != 200 || h.Get("DPoP-Nonce") != nonce {
		t.Fatalf("with the nonce: %d %v %v", status, h, body)
	}
	fresh := s.RotateDPoPNonce()
	if status, h, _ := callDPoP(t, s, k, at, nonce); status != 401 || h.Get("DPoP-Nonce") != fresh {
		t.Errorf("old nonce: %d %v", status, h)
	}
	// A DPoP-bound token sent as Bearer with a proof: refused, with the nonce.
	bearer := resourceCall{auth: "Bearer " + at, proofs: []string{resourceProof(t, s, k, at, fresh)}}
	if status, h, _ := bearer.do(t, s); status != 401 || h.Get("DPoP-Nonce") != fresh {
		t.Errorf("bound token as Bearer with a proof: %d %v", status, h)
	}
}

// FaultUseDPoPNonce: the next token request gets use_dpop_nonce and a
// fresh nonce, spending nothing. Without DPoPNonce the next proof must
// carry that nonce once; with it, the fresh nonce is the current one.
func TestFaultUseDPoPNonce(t *testing.T) {
	t.Run("nonces off", func(t *testing.T) {
		s := newTestServer(t, Config{DPoP: true})
		k := newDPoPKey(t)
		code := getCode(t, s, authParams(s))
		s.FailNext(1, Fault{Kind: FaultUseDPoPNonce})
		r := redeemCode(t, s, code, tokenProof(t, s, k, ""))
		wantError(t, r, 400, "use_dpop_nonce")
		nonce := r.header.Get("DPoP-Nonce")
		if nonce == "" || lastRequest(s).Fault != FaultUseDPoPNonce {
			t.Fatalf("fault answer %v, log %+v", r.header, lastRequest(s))
		}
		r = redeemCode(t, s, code, tokenProof(t, s, k, ""))
		wantError(t, r, 400, "use_dpop_nonce")
		if r.header.Get("DPoP-Nonce") != nonce {
			t.Errorf("DPoP-Nonce %q, want %q again", r.header.Get("DPoP-Nonce"), nonce)
		}
		res := redeemCode(t, s, code, tokenProof(t, s, k, nonce))
		if res.status != 200 {
			t.Fatalf("with the nonce: %d %v", res.status, res.body)
		}
		// Once: no nonce is required afterwards.
		if ok := refreshDPoP(t, s, res.str("refresh_token"), tokenProof(t, s, k, "")); ok.status != 200 || ok.header.Get("DPoP-Nonce") != "" {
			t.Fatalf("after the nonce was used: %d %v %v", ok.status, ok.header, ok.body)
		}
	})
	t.Run("nonces on", func(t *testing.T) {
		s := newTestServer(t, Config{DPoPNonce: true})
		k := newDPoPKey(t)
		old := s.RotateDPoPNonce()
		res := dpopLogin(t, s, k, old)
		s.FailNext(1, Fault{Kind: FaultUseDPoPNonce})
		r := refreshDPoP(t, s, res.str("refresh_token"), tokenProof(t, s, k, old))
		wantError(t, r, 400, "use_dpop_nonce")
		fresh := r.header.Get("DPoP-Nonce")
		if fresh == "" || fresh == old {
			t.Fatalf("fault's DPoP-Nonce %q (old %q)", fresh, old)
		}
		wantError(t, refreshDPoP(t, s, res.str("refresh_token"), tokenProof(t, s, k, old)), 400, "use_dpop_nonce")
		if ok := refreshDPoP(t, s, res.str("refresh_token"), tokenProof(t, s, k, fresh)); ok.status != 200 {
			t.Fatalf("with the fault's nonce: %d %v", ok.status, ok.body)
		}
	})
}

// ChallengeResourceNonce(n): without DPoPNonce, the next n resource
// requests whose proof lacks the fresh nonce are challenged; a proof with
// it passes; then no nonce is needed again.
func TestChallengeResourceNonce(t *testing.T) {
	s := newTestServer(t, Config{DPoP: true})
	k := newDPoPKey(t)
	at := dpopLogin(t, s, k, "").str("access_token")
	nonce := s.ChallengeResourceNonce(2)
	for i := range 2 {
		status, h, body := callDPoP(t, s, k, at, "")
		if status != 401 || body["error"] != "use_dpop_nonce" || h.Get("DPoP-Nonce") != nonce ||
			!strings.HasPrefix(h.Get("WWW-Authenticate"), `DPoP error="use_dpop_nonce"`) || !strings.Contains(h.Get("WWW-Authenticate"), `algs="ES256"`) {
			t.Fatalf("challenge %d: %d %v %v", i, status, h, body)
		}
		if lastRequest(s).Error != "use_dpop_nonce" {
			t.Errorf("log entry %+v", lastRequest(s))
		}
		if i == 0 {
			// A proof with the nonce passes, and does not count.
			if status, _, body := callDPoP(t, s, k, at, nonce); status != 200 {
				t.Fatalf("with the nonce: %d %v", status, body)
			}
		}
	}
	if status, h, body := callDPoP(t, s, k, at, ""); status != 200 || h.Get("DPoP-Nonce") != "" {
		t.Fatalf("after the challenges: %d %v %v", status, h, body)
	}
	// The token endpoint is not challenged.
	if r := dpopLogin(t, s, k, ""); r.status != 200 {
		t.Fatal(r.body)
	}

	on := newTestServer(t, Config{DPoPNonce: true})
	old := on.RotateDPoPNonce()
	at = dpopLogin(t, on, k, old).str("access_token")
	fresh := on.ChallengeResourceNonce(1)
	if status, h, _ := callDPoP(t, on, k, at, old); status != 401 || h.Get("DPoP-Nonce") != fresh {
		t.Fatalf("nonces on: %d %v", status, h)
	}
	if status, _, body := callDPoP(t, on, k, at, fresh); status != 200 {
		t.Fatalf("nonces on, with the fresh nonce: %d %v", status, body)
	}
}

// The resource's refusals of DPoP requests.
func TestDPoPResourceRefusals(t *testing.T) {
	s := newTestServer(t, Config{DPoP: true})
	k, other := newDPoPKey(t), newDPoPKey(t)
	at := dpopLogin(t, s, k, "").str("access_token")
	bearer := login(t, s).str("access_token")
	port := strings.TrimPrefix(s.URL, "http://127.0.0.1")
	for _, tc := range []struct {
		name       string
		call       resourceCall
		code, chal string
	}{
		{"bound token as Bearer", resourceCall{auth: "Bearer " + at}, "invalid_token", `DPoP error="invalid_token"`},
		{"bound token as Bearer with a proof", resourceCall{auth: "Bearer " + at, proofs: []string{resourceProof(t, s, k, at, "")}}, "invalid_token", `DPoP error="invalid_token"`},
		{"bearer token with the DPoP scheme", resourceCall{auth: "DPoP " + bearer, proofs: []string{resourceProof(t, s, k, bearer, "")}}, "invalid_token", `DPoP error="invalid_token"`},
		{"no proof", resourceCall{auth: "DPoP " + at}, "invalid_dpop_proof", `DPoP error="invalid_dpop_proof"`},
		{"two proofs", resourceCall{auth: "DPoP " + at, proofs: []string{resourceProof(t, s, k, at, ""), resourceProof(t, s, k, at, "")}}, "invalid_dpop_proof", `DPoP error="invalid_dpop_proof"`},
		{"another key", resourceCall{auth: "DPoP " + at, proofs: []string{resourceProof(t, s, other, at, "")}}, "invalid_token", `DPoP error="invalid_token", error_description="invalid DPoP key binding"`},
		{"no ath", resourceCall{auth: "DPoP " + at, proofs: []string{proof(t, k, dpop.ProofParams{Method: "GET", URL: s.ResourceEndpoint()})}}, "invalid_dpop_proof", `DPoP error="invalid_dpop_proof"`},
		{"ath of another token", resourceCall{auth: "DPoP " + at, proofs: []string{resourceProof(t, s, k, bearer, "")}}, "invalid_dpop_proof", `DPoP error="invalid_dpop_proof"`},
		{"another method", resourceCall{method: "POST", auth: "DPoP " + at, proofs: []string{resourceProof(t, s, k, at, "")}}, "invalid_dpop_proof", `DPoP error="invalid_dpop_proof"`},
		{"htu of the Host header", resourceCall{auth: "DPoP " + at, host: "localhost" + port,
			proofs: []string{proof(t, k, dpop.ProofParams{Method: "GET", URL: "http://localhost" + port + "/resource", AccessToken: at})}}, "invalid_dpop_proof", `DPoP error="invalid_dpop_proof"`},
		{"unknown token", resourceCall{auth: "DPoP unknown", proofs: []string{resourceProof(t, s, k, "unknown", "")}}, "invalid_token", `DPoP error="invalid_token"`},
	} {
		status, h, body := tc.call.do(t, s)
		chal := h.Get("WWW-Authenticate")
		if status != 401 || body["error"] != tc.code || !strings.HasPrefix(chal, tc.chal) ||
			!strings.Contains(chal, `algs="ES256"`) || !strings.Contains(chal, `resource_metadata="`+s.ResourceMetadataURL()+`"`) {
			t.Errorf("%s: %d %q %v, want 401 %s", tc.name, status, chal, body, tc.code)
		}
		if e := lastRequest(s); e.Error != tc.code || e.DPoPJKT != "" {
			t.Errorf("%s: log entry %+v", tc.name, e)
		}
	}
	// The token still works when presented rightly, by POST too.
	post := resourceCall{method: "POST", auth: "DPoP " + at, proofs: []string{proof(t, k, dpop.ProofParams{Method: "POST", URL: s.ResourceEndpoint(), AccessToken: at})}}
	if status, _, body := post.do(t, s); status != 200 {
		t.Fatalf("POST with a proof: %d %v", status, body)
	}
}

// The challenges without an error offer both schemes (RFC 9449 §7.2), or
// DPoP alone when it is required; a bad bearer token gets the Bearer error.
func TestDPoPResourceChallenges(t *testing.T) {
	s := newTestServer(t, Config{DPoP: true})
	meta := `resource_metadata="` + s.ResourceMetadataURL() + `"`
	_, h, _ := resourceCall{}.do(t, s)
	if got, want := h.Get("WWW-Authenticate"), `Bearer `+meta+`, DPoP algs="ES256", `+meta; got != want {
		t.Errorf("no token: %q, want %q", got, want)
	}
	_, h, _ = resourceCall{auth: "Bearer nope"}.do(t, s)
	if got := h.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer error="invalid_token"`) || !strings.HasSuffix(got, `, DPoP algs="ES256", `+meta) {
		t.Errorf("bad bearer token: %q", got)
	}
	req := newTestServer(t, Config{DPoPRequired: true})
	_, h, _ = resourceCall{}.do(t, req)
	if got, want := h.Get("WWW-Authenticate"), `DPoP algs="ES256", resource_metadata="`+req.ResourceMetadataURL()+`"`; got != want {
		t.Errorf("DPoPRequired, no token: %q, want %q", got, want)
	}
}

// TokenBinding is "" for what is not a bound token.
func TestTokenBindingUnknown(t *testing.T) {
	s := newTestServer(t, Config{DPoP: true})
	if got := s.TokenBinding("no-such-token"); got != "" {
		t.Errorf("TokenBinding(unknown) = %q", got)
	}
}

// Proofs checked while the clock is a FakeClock use the server's time.
func TestDPoPUsesServerClock(t *testing.T) {
	clock := NewFakeClock(time.Unix(1_900_000_000, 0))
	s := newTestServer(t, Config{DPoP: true, Clock: clock})
	k := newDPoPKey(t)
	res := dpopLogin(t, s, k, "") // iat of the fake clock, years away from the real one
	clock.Advance(30 * time.Minute)
	stale := proof(t, k, dpop.ProofParams{Method: "POST", URL: s.TokenEndpoint(), Now: clock.Now().Add(-6 * time.Minute)})
	wantError(t, refreshDPoP(t, s, res.str("refresh_token"), stale), 400, "invalid_dpop_proof")
	if ok := refreshDPoP(t, s, res.str("refresh_token"), tokenProof(t, s, k, "")); ok.status != 200 {
		t.Fatalf("%d %v", ok.status, ok.body)
	}
}

// One proof sent by several requests at once is accepted once: the check
// of its jti and its recording are one step.
func TestDPoPSameProofConcurrently(t *testing.T) {
	s := newTestServer(t, Config{DPoP: true, Clients: []Client{{ID: "svc", Secret: "svc-secret", AuthMethod: AuthClientSecretPost}}})
	k := newDPoPKey(t)
	p := tokenProof(t, s, k, "")
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	c := noRedirectClient(t)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"svc-secret"}}.Encode()
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, s.TokenEndpoint(), strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("DPoP", p)
			resp, err := c.Do(req) // not postForm: t.Fatal is for the test's goroutine
			if err != nil {
				t.Error(err)
				return
			}
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != 200 && body["error"] != "invalid_dpop_proof" {
				t.Errorf("%d %v", resp.StatusCode, body)
			}
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	ok := 0
	for st := range statuses {
		if st == 200 {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d requests with the same proof answered 200, want 1", ok, n)
	}
}
