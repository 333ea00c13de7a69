package redistest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// TokenProxy stands before an authorization server's token endpoint and
// records every token request that passes through it: when it arrived,
// its grant, the refresh token presented and what the server answered,
// tokens by their Fingerprint only. A fleet test points its processes at
// URL instead of the server's token endpoint and checks, from the record,
// what reached the server, whatever the processes believe they sent:
// Chain checks a rotating server's refreshes. It is used by
// store/redisstore's fleet tests (against oauthtest) and integration/'s
// (against Ory Hydra). Its methods are safe for concurrent use.
type TokenProxy struct {
	target string
	hs     *httptest.Server
	c      *http.Client

	mu  sync.Mutex
	log []TokenRequest
}

// TokenRequest is one token request seen by a TokenProxy.
type TokenRequest struct {
	At        time.Time // when the request reached the proxy, before the server saw it
	Grant     string    // grant_type
	Presented string    // Fingerprint of the refresh token presented (a refresh)
	Status    int       // the server's HTTP status; 0: no answer
	Error     string    // the OAuth error code answered, or why there was no answer
	Access    string    // Fingerprint of the access token issued
	Refresh   string    // Fingerprint of the refresh token issued
	// ExpiresIn is the access token's lifetime as the answer's expires_in
	// announced it (whole seconds); 0 when absent.
	ExpiresIn time.Duration
}

// Transient reports whether the server answered the request with a 5xx
// status, or not at all.
func (r TokenRequest) Transient() bool { return r.Status == 0 || r.Status >= 500 }

// Fingerprint is how a TokenProxy names a token: the first 8 bytes of its
// SHA-256 in hex, so that no token is printed or kept; "" for "".
func Fingerprint(tok string) string {
	if tok == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:8])
}

// NewTokenProxy starts a proxy on a loopback port that forwards every
// request, whatever its path, to the token endpoint target (each on a new
// connection), and answers with the server's answer unchanged. It is
// closed when the test ends.
func NewTokenProxy(t testing.TB, target string) *TokenProxy {
	p := &TokenProxy{target: target, c: &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   30 * time.Second,
		// The token endpoint's answer, redirect or not, goes back as is.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	p.hs = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.hs.Close)
	return p
}

// URL is the proxied token endpoint.
func (p *TokenProxy) URL() string { return p.hs.URL + "/token" }

func (p *TokenProxy) serve(w http.ResponseWriter, r *http.Request) {
	e := TokenRequest{At: time.Now()}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form, _ := url.ParseQuery(string(body))
	e.Grant, e.Presented = form.Get("grant_type"), Fingerprint(form.Get("refresh_token"))
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.target, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := p.c.Do(req)
	if err != nil {
		e.Error = "no answer: " + err.Error()
		p.record(e)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var ans struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
		ExpiresIn    int64  `json:"expires_in"`
	}
	_ = json.Unmarshal(rb, &ans)
	e.Status, e.Error, e.Access, e.Refresh = resp.StatusCode, ans.Error, Fingerprint(ans.AccessToken), Fingerprint(ans.RefreshToken)
	e.ExpiresIn = time.Duration(ans.ExpiresIn) * time.Second
	p.record(e)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(rb)
}

func (p *TokenProxy) record(e TokenRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, e)
}

// Requests returns every token request seen so far, in the order they
// were answered.
func (p *TokenProxy) Requests() []TokenRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]TokenRequest(nil), p.log...)
}

// Refreshes returns the refresh requests (grant_type refresh_token) seen
// so far, in the order they were answered.
func (p *TokenProxy) Refreshes() []TokenRequest {
	var rs []TokenRequest
	for _, e := range p.Requests() {
		if e.Grant == "refresh_token" {
			rs = append(rs, e)
		}
	}
	return rs
}

// Chain checks the refreshes the proxy saw against the rules of a server
// that rotates refresh tokens: each answered 200 (no invalid_grant), each
// presenting the refresh token issued by the one before it (by first, the
// sign-in, for the first), so that none was presented twice and none was
// lost; and, when share is not zero, each at least that share of the
// lifetime the one before announced (its ExpiresIn; first's for the
// first) after it (after first.At for the first): each token refreshed
// once, when its refresh was due, not twice. (A Session refreshes at half
// the lifetime; the gap between two arrivals at the proxy can be a little
// shorter than that, so a quarter is the usual share.) A refresh answered
// with a 5xx status or not at all (Transient) is left out of these rules:
// the server may have taken nothing, and its retry may present the same
// refresh token (were it taken, the retry would be refused, which breaks
// them); the caller decides whether it may happen. It returns the
// refreshes, the transient ones included, and one sentence per rule
// broken.
func (p *TokenProxy) Chain(first TokenRequest, share float64) (refreshes []TokenRequest, problems []string) {
	rs := p.Refreshes()
	prev := first
	presented := map[string]bool{}
	for i, r := range rs {
		if r.Transient() {
			continue
		}
		if r.Status != http.StatusOK || r.Error != "" {
			problems = append(problems, fmt.Sprintf("refresh %d answered %d %q (want 200: a refresh token presented twice, or one lost?)", i+1, r.Status, r.Error))
		}
		if presented[r.Presented] {
			problems = append(problems, fmt.Sprintf("refresh %d presented a refresh token presented before", i+1))
		}
		presented[r.Presented] = true
		if r.Presented != prev.Refresh {
			by := "the refresh before"
			if i == 0 {
				by = "the sign-in"
			}
			problems = append(problems, fmt.Sprintf("refresh %d presented another refresh token than the last one issued (by %s)", i+1, by))
		}
		if minGap := time.Duration(share * float64(prev.ExpiresIn)); share > 0 && r.At.Sub(prev.At) < minGap {
			problems = append(problems, fmt.Sprintf("refresh %d came %v after the one before, less than %v (%v of the %v lifetime it announced): two refreshes for one token",
				i+1, r.At.Sub(prev.At).Round(time.Millisecond), minGap, share, prev.ExpiresIn))
		}
		prev = r
	}
	return rs, problems
}
