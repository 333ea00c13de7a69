package integration_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/dpop"
)

// dpopResource is a resource server that accepts only DPoP-bound access
// tokens from oidc-provider (RFC 9449 §7): JWT access tokens it issued for
// this server's URL (signature, iss, aud, exp: mcpServer.verify), presented
// as "Authorization: DPoP <token>" with exactly one DPoP proof that the dpop
// package accepts for this request (method, URL, iat, ath) and that is
// signed by the key the token names in cnf.jkt; a proof's jti is accepted
// once. With nonce set, a proof must carry it: one without gets 401
// use_dpop_nonce and the nonce (RFC 9449 §9).
//
// Every answer is JSON: {"jkt":…} when accepted, {"error":…,"reason":…}
// when refused, so that a test sending a request by hand can say why.
type dpopResource struct {
	url   string // http://127.0.0.1:<port>/mcp: oidc-provider knows it as a resource
	jwt   *mcpServer
	nonce string
	// next, when set, serves the requests accepted (an MCP server), and
	// prm is the URL of the resource's metadata (RFC 9728), named in the
	// challenge of a request without a token.
	next http.Handler
	prm  string
	// holdChallenges, when above 0, holds each use_dpop_nonce answer until
	// that many have been asked for (or 10 s passed), so that that many
	// requests sent at once all meet the challenge.
	holdChallenges int
	held           chan struct{}
	heldCount      int

	mu       sync.Mutex
	jtis     map[string]bool
	accepted int
	jkts     map[string]int      // cnf.jkt of the tokens accepted
	refused  map[string]int      // by reason
	methods  map[string]int      // accepted, by method
	bodies   map[string][]string // POST bodies accepted, for the retry check
}

func startDPoPResource(t *testing.T, meta *discovery.AuthServerMetadata, nonce bool) *dpopResource {
	t.Helper()
	return startDPoPResourceFor(t, meta, nonce, nil)
}

// startDPoPResourceFor starts the resource server in front of next (nil:
// it answers {"jkt":…} itself), with its protected resource metadata.
func startDPoPResourceFor(t *testing.T, meta *discovery.AuthServerMetadata, nonce bool, next http.Handler) *dpopResource {
	t.Helper()
	if meta.JWKSURI == "" {
		t.Fatal("oidc-provider's metadata has no jwks_uri")
	}
	rs := &dpopResource{
		jtis:    map[string]bool{},
		jkts:    map[string]int{},
		refused: map[string]int{},
		methods: map[string]int{},
		bodies:  map[string][]string{},
	}
	if nonce {
		b := make([]byte, 16)
		rand.Read(b)
		rs.nonce = "rs-" + base64.RawURLEncoding.EncodeToString(b)
	}
	rs.next = next
	mux := http.NewServeMux()
	mux.Handle("/mcp", rs)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	rs.url = srv.URL + "/mcp"
	rs.prm = srv.URL + "/.well-known/oauth-protected-resource/mcp"
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"resource":                          rs.url,
			"authorization_servers":             []string{meta.Issuer},
			"scopes_supported":                  []string{"mcp:tools"},
			"dpop_signing_alg_values_supported": []string{"ES256"},
			"dpop_bound_access_tokens_required": true,
			"bearer_methods_supported":          []string{"header"},
		})
	})
	rs.jwt = &mcpServer{
		url:    rs.url,
		issuer: meta.Issuer,
		jwks:   meta.JWKSURI,
		keys:   map[string]*rsa.PublicKey{},
		tokens: map[string]bool{},
	}
	return rs
}

// check is the resource server's decision on one request: the cnf.jkt of
// the accepted token, or the error code and reason of a refusal.
func (rs *dpopResource) check(r *http.Request) (jkt, code, reason string) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || tok == "" {
		return "", "invalid_token", "no access token"
	}
	if _, err := rs.jwt.verify(r.Context(), tok, r); err != nil {
		return "", "invalid_token", "token: " + err.Error()
	}
	var claims struct {
		Cnf struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	parts := strings.Split(tok, ".")
	if err := decodeSegment(parts[1], &claims); err != nil {
		return "", "invalid_token", "claims: " + err.Error()
	}
	if claims.Cnf.JKT == "" {
		return "", "invalid_token", "the token is not DPoP-bound (no cnf.jkt)"
	}
	// A bound token is worth nothing as a bearer token (RFC 9449 §7.2).
	if !strings.EqualFold(scheme, "DPoP") {
		return "", "invalid_token", "a DPoP-bound token sent with the " + scheme + " scheme"
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return "", "invalid_dpop_proof", fmt.Sprintf("%d DPoP headers", len(proofs))
	}
	p, err := dpop.Parse(proofs[0])
	if err != nil {
		return "", "invalid_dpop_proof", err.Error()
	}
	u, _ := url.Parse(rs.url)
	err = p.Check(dpop.Check{
		Method:      r.Method,
		URL:         u.Scheme + "://" + u.Host + r.URL.RequestURI(),
		AccessToken: tok,
		JKT:         claims.Cnf.JKT,
		Nonce:       rs.nonce,
	})
	switch {
	case errors.Is(err, dpop.ErrNonceRequired):
		return "", "use_dpop_nonce", err.Error()
	case err != nil:
		return "", "invalid_dpop_proof", err.Error()
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.jtis[p.JTI] {
		return "", "invalid_dpop_proof", "replayed proof (jti seen before)"
	}
	rs.jtis[p.JTI] = true
	return claims.Cnf.JKT, "", ""
}

func (rs *dpopResource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	jkt, code, reason := rs.check(r)
	rs.mu.Lock()
	if code != "" {
		rs.refused[reason]++
	} else {
		rs.accepted++
		rs.jkts[jkt]++
		rs.methods[r.Method]++
		if len(body) > 0 {
			rs.bodies[r.Method] = append(rs.bodies[r.Method], string(body))
		}
	}
	rs.mu.Unlock()
	if code != "" {
		if code == "use_dpop_nonce" {
			rs.hold()
			w.Header().Set("DPoP-Nonce", rs.nonce)
		}
		if r.Header.Get("Authorization") == "" {
			// No token yet: the challenge names no error (RFC 6750 §3.1)
			// and says where the resource's metadata is (RFC 9728 §5.1).
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`DPoP algs="ES256", resource_metadata=%q`, rs.prm))
		} else {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`DPoP error=%q, algs="ES256", resource_metadata=%q`, code, rs.prm))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "reason": reason})
		return
	}
	if rs.next != nil {
		rs.next.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"jkt": jkt})
}

// refusals returns the reasons of the refusals so far, and how many.
func (rs *dpopResource) refusals() map[string]int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make(map[string]int, len(rs.refused))
	for k, v := range rs.refused {
		out[k] = v
	}
	return out
}

// send sends one request by hand with the given header fields (outside any
// session) and returns the status and the answer's error and reason.
func (rs *dpopResource) send(ctx context.Context, method string, h http.Header) (status int, code, reason string, err error) {
	return sendJSON(ctx, method, rs.url, h)
}

// sendJSON sends a request with header fields h and reads an answer
// {"error":…,"reason":…} (or oidc-provider's {"error":…,
// "error_description":…}).
func sendJSON(ctx context.Context, method, u string, h http.Header) (status int, code, reason string, err error) {
	var body io.Reader
	if method == http.MethodPost {
		body = bytes.NewReader([]byte(`{"q":1}`))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, "", "", err
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	var out struct {
		Error       string `json:"error"`
		Reason      string `json:"reason"`
		Description string `json:"error_description"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	_ = json.Unmarshal(b, &out)
	if out.Reason == "" {
		out.Reason = out.Description
	}
	if out.Error == "" && resp.StatusCode == http.StatusUnauthorized {
		// oidc-provider's userinfo puts the error in the challenge.
		if cs, _ := discovery.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate")...); len(cs) > 0 {
			out.Error = cs[0].ErrorCode()
			out.Reason = cs[0].Scheme + " " + cs[0].Params["error_description"]
		}
	}
	return resp.StatusCode, out.Error, out.Reason, nil
}

// hold waits, when holdChallenges is set, until that many nonce challenges
// are waiting, or 10 s.
func (rs *dpopResource) hold() {
	rs.mu.Lock()
	if rs.holdChallenges <= 0 {
		rs.mu.Unlock()
		return
	}
	if rs.held == nil {
		rs.held = make(chan struct{})
	}
	rs.heldCount++
	held := rs.held
	if rs.heldCount == rs.holdChallenges {
		close(rs.held)
	}
	rs.mu.Unlock()
	select {
	case <-held:
	case <-time.After(10 * time.Second):
	}
}
