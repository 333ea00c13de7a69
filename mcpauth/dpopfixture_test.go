package mcpauth_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/authloop/authloop/dpop"
	"github.com/authloop/authloop/oauthtest"
)

// dpopGate is an MCP server's judge of DPoP (RFC 9449 §7), in front of the
// fixture's MCP endpoints, and what the conformance suite's auth/dpop and
// auth/dpop-nonce scenarios check at the MCP server: a request without
// Authorization gets 401 with a DPoP challenge naming the resource
// metadata (nothing else); a DPoP-bound token must come with the DPoP
// scheme and exactly one proof for this method and URL, with the token's
// hash (ath), signed by the key the token is bound to (cnf.jkt, read from
// the authorization server), never shown before (jti), and carrying the
// MCP server's own nonce when it requires one (else 401 use_dpop_nonce
// with a DPoP-Nonce header). A token that is not bound is served as
// Bearer. Whatever a conforming client must never do is recorded as a
// problem.
type dpopGate struct {
	f *fixture

	mu sync.Mutex
	// nonce, when set, is the nonce the MCP server requires in every
	// proof (its own, not the authorization server's).
	nonce string
	// lying makes the server challenge every proof of a POST with a new
	// nonce, so that no proof is ever good enough (the DELETE that ends
	// the MCP session passes, so that the server's session ends).
	lying bool
	// stubborn is the number of the next proofs of a POST that the
	// server challenges with a new nonce each, as lying does, before it
	// accepts the last nonce it sent.
	stubborn int
	// mute makes the server leave out the DPoP-Nonce header of its nonce
	// challenges.
	mute bool

	seen       map[string]bool // the jti of every proof shown
	problems   []string
	challenges int // use_dpop_nonce answers
	served     int // requests served with a DPoP-bound token and a good proof
	bearer     int // requests served with an unbound token as Bearer
	jkts       map[string]int
}

// newDPoPFixture is the fixture with its MCP endpoints behind a dpopGate,
// and an authorization server of cfg (set cfg.DPoP or cfg.DPoPNonce for
// DPoP-bound tokens).
func newDPoPFixture(t *testing.T, cfg oauthtest.Config) (*fixture, *dpopGate) {
	t.Helper()
	g := &dpopGate{seen: map[string]bool{}, jkts: map[string]int{}}
	g.f = newGatedFixture(t, cfg, g.wrap)
	return g.f, g
}

// setNonce makes the MCP server require nonce from now on ("" none).
func (g *dpopGate) setNonce(nonce string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nonce = nonce
}

func (g *dpopGate) setLying() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lying = true
}

func (g *dpopGate) setStubborn(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stubborn = n
}

func (g *dpopGate) setMute() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mute = true
}

// counts returns the requests served with a DPoP-bound token, the nonce
// challenges, and the requests served with a bearer token.
func (g *dpopGate) counts() (served, challenges, bearer int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.served, g.challenges, g.bearer
}

// check fails t with every problem recorded so far.
func (g *dpopGate) check(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.problems {
		t.Errorf("the MCP server saw: %s", p)
	}
}

// proofKeys returns the thumbprints of the keys whose proofs were served,
// with how many each.
func (g *dpopGate) proofKeys() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]int{}
	for k, v := range g.jkts {
		out[k] = v
	}
	return out
}

func (g *dpopGate) problem(format string, args ...any) {
	g.problems = append(g.problems, fmt.Sprintf(format, args...))
}

func (g *dpopGate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code, nonce := g.judge(r); code != "" {
			prm := g.f.srv.URL + "/.well-known/oauth-protected-resource" + r.URL.Path
			ch := `DPoP algs="ES256", resource_metadata="` + prm + `"`
			if code != "unauthorized" {
				ch = `DPoP error="` + code + `", algs="ES256", resource_metadata="` + prm + `"`
			}
			w.Header().Set("WWW-Authenticate", ch)
			if nonce != "" {
				w.Header().Set("DPoP-Nonce", nonce)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// judge returns "" for a request to serve, or the error code of its 401
// ("unauthorized" for a request without credentials) and the nonce to send
// with it.
func (g *dpopGate) judge(r *http.Request) (code, nonce string) {
	as := g.f.as
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	g.mu.Lock()
	defer g.mu.Unlock()
	what := r.Method + " " + r.URL.Path
	switch {
	case tok == "":
		if len(r.Header.Values("DPoP")) > 0 {
			g.problem("%s: a DPoP proof without a token", what)
		}
		return "unauthorized", ""
	case strings.EqualFold(scheme, "Bearer"):
		if !as.ValidAccessToken(tok) {
			return "invalid_token", ""
		}
		if as.TokenBinding(tok) != "" {
			g.problem("%s: a DPoP-bound token sent as Bearer (RFC 9449 §7.2)", what)
			return "invalid_token", ""
		}
		g.bearer++
		return "", ""
	case !strings.EqualFold(scheme, "DPoP"):
		g.problem("%s: Authorization scheme %q", what, scheme)
		return "invalid_token", ""
	}
	vs := r.Header.Values("DPoP")
	if len(vs) != 1 {
		g.problem("%s: %d DPoP headers, want 1", what, len(vs))
		return "invalid_dpop_proof", ""
	}
	p, err := dpop.Parse(vs[0])
	if err != nil {
		g.problem("%s: %v", what, err)
		return "invalid_dpop_proof", ""
	}
	if g.seen[p.JTI] {
		g.problem("%s: a proof shown before (jti %s)", what, p.JTI)
		return "invalid_dpop_proof", ""
	}
	g.seen[p.JTI] = true
	jkt := as.TokenBinding(tok)
	if jkt == "" {
		g.problem("%s: the DPoP scheme with a token that is not DPoP-bound", what)
		return "invalid_token", ""
	}
	if !as.ValidAccessToken(tok) {
		return "invalid_token", ""
	}
	nonce = g.nonce
	if (g.lying || g.stubborn > 0) && r.Method == http.MethodPost {
		if g.stubborn > 0 {
			g.stubborn--
		}
		nonce = randomNonce()
		g.nonce = nonce
	}
	err = p.Check(dpop.Check{Method: r.Method, URL: g.f.srv.URL + r.URL.Path, Now: g.f.clock.Now(), AccessToken: tok, JKT: jkt, Nonce: nonce})
	switch {
	case errors.Is(err, dpop.ErrNonceRequired):
		g.challenges++
		if g.mute {
			return "use_dpop_nonce", ""
		}
		return "use_dpop_nonce", nonce
	case err != nil:
		g.problem("%s: %v", what, err)
		return "invalid_dpop_proof", ""
	}
	g.served++
	g.jkts[p.JKT()]++
	return "", ""
}

func randomNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
