package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/dpop"
	"github.com/authloop/authloop/integration/peers"
	"golang.org/x/oauth2"
)

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

// headlessSignIn starts a Session on cfg, interactive with the headless
// browser (no prompt, a minute to sign in), and signs in: the session and
// its token, once the browser is done.
func headlessSignIn(ctx context.Context, t *testing.T, cfg *authloop.Config) (*authloop.Session, *oauth2.Token) {
	t.Helper()
	b := peers.NewHeadlessBrowser()
	defer b.CloseIdleConnections()
	cfg.Interactive, cfg.Browser, cfg.Prompt, cfg.LoginTimeout = true, b.Open, io.Discard, time.Minute
	s := newSession(t, cfg, nil)
	tok, err := s.Token(ctx)
	if _, werr := b.Wait(); err == nil && werr != nil {
		t.Fatalf("the headless browser: %v", werr)
	}
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	return s, tok
}
