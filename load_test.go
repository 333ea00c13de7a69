package authloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// The load test: many goroutines on many sessions against one server, with
// tokens that live a few seconds and one token request in ten failing.
const (
	loadSessions   = 100
	loadPerSession = 100 // goroutines per session: 10,000 in all
	// loadDuration is the run under `make reliability`
	// (AUTHLOOP_LOAD=full); go test ./... runs loadSmoke.
	loadDuration = 60 * time.Second
	loadSmoke    = 5 * time.Second
	// loadTokenTTL: refreshed after half of it (3 s), handed out until a
	// quarter before its expiry.
	loadTokenTTL = 6 * time.Second
	loadMargin   = loadTokenTTL / 4
	loadFailRate = 0.10
	// loadHeapGrowth bounds the growth of the live heap between the first
	// sample after warm-up and the last.
	loadHeapGrowth = 64 << 20
)

// loadGen is what happened to one refresh token: the refresh requests
// that presented it, the injected failures among them, the 200s.
type loadGen struct{ attempts, injected, ok int }

// loadTransport fails loadFailRate of the session's refresh requests with
// a transient fault of a random kind, never more than MaxRetries for one
// refresh token (so that every expiry can be refreshed within its
// retries), and counts the requests per refresh token.
type loadTransport struct {
	base     http.RoundTripper
	mu       sync.Mutex
	gens     map[string]*loadGen
	requests int
	injected map[string]int // by kind
	slowest  time.Duration  // the longest refresh request (to its headers)
}

var loadFaults = []struct {
	kind        string
	status      int
	contentType string
	body        string
	header      string // Retry-After
}{
	{"500 server_error", 500, "application/json", `{"error":"server_error"}`, ""},
	{"503", 503, "text/plain", "service unavailable", ""},
	{"429 Retry-After: 0", 429, "text/plain", "too many requests", "0"},
	{"400 temporarily_unavailable", 400, "application/json", `{"error":"temporarily_unavailable"}`, ""},
	{"502 HTML", 502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", ""},
	{"200 malformed JSON", 200, "application/json", `{"access_token": "trunc`, ""},
	{"network error", 0, "", "", ""},
}

func (lt *loadTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.GetBody == nil || !strings.HasSuffix(r.URL.Path, "/token") {
		return lt.base.RoundTrip(r)
	}
	b, err := r.GetBody()
	if err != nil {
		return nil, err
	}
	raw, _ := io.ReadAll(b)
	form, _ := url.ParseQuery(string(raw))
	if form.Get("grant_type") != "refresh_token" {
		return lt.base.RoundTrip(r)
	}
	rt := form.Get("refresh_token")
	lt.mu.Lock()
	g := lt.gens[rt]
	if g == nil {
		g = &loadGen{}
		lt.gens[rt] = g
	}
	g.attempts++
	lt.requests++
	fail := rand.Float64() < loadFailRate && g.injected < DefaultMaxRetries
	var fault = loadFaults[rand.N(len(loadFaults))]
	if fail {
		g.injected++
		lt.injected[fault.kind]++
	}
	lt.mu.Unlock()
	if fail {
		if r.Body != nil {
			r.Body.Close()
		}
		if fault.status == 0 {
			return nil, errors.New("injected: connection reset by peer")
		}
		h := http.Header{"Content-Type": {fault.contentType}}
		if fault.header != "" {
			h.Set("Retry-After", fault.header)
		}
		return &http.Response{
			Status: fmt.Sprintf("%d %s", fault.status, http.StatusText(fault.status)), StatusCode: fault.status,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Request: r,
			Body: io.NopCloser(strings.NewReader(fault.body)), ContentLength: int64(len(fault.body)),
		}, nil
	}
	sent := time.Now()
	resp, err := lt.base.RoundTrip(r)
	took := time.Since(sent)
	lt.mu.Lock()
	lt.slowest = max(lt.slowest, took)
	if err == nil && resp.StatusCode == http.StatusOK {
		g.ok++
	}
	lt.mu.Unlock()
	return resp, err
}

// loadStats are one worker's counts.
type loadStats struct {
	calls, errors, expired, underMargin, resourceCalls, resourceFailures int64
	// resourceLate counts 401s to calls that took longer than the expiry
	// margin: on a machine that slow, a token handed out with the margin
	// left can expire on its way, twice (the refused request and its
	// retry); a 401 to a quicker call is a failure.
	resourceLate int64
	minLeft      time.Duration
	firstErr     string
}

func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("the load test runs for seconds of real time: runs in the full tier (make test)")
	}
	duration := loadSmoke
	if os.Getenv("AUTHLOOP_LOAD") == "full" {
		duration = loadDuration
	}
	srv := oauthtest.NewServer(oauthtest.Config{AccessTokenTTL: loadTokenTTL})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	base := &http.Transport{MaxIdleConnsPerHost: 64}
	defer base.CloseIdleConnections()

	// 100 sessions, each with its own grant.
	sessions := make([]*Session, loadSessions)
	transports := make([]*loadTransport, loadSessions)
	setup := time.Now()
	var setupErr atomic.Value
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range sessions {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cfg := testConfig(srv, b.open)
			lt := &loadTransport{base: base, gens: map[string]*loadGen{}, injected: map[string]int{}}
			cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: lt}
			tok, err := Login(context.Background(), cfg)
			if err != nil {
				setupErr.Store(err)
				return
			}
			s, err := NewSession(cfg, tok)
			if err != nil {
				setupErr.Store(err)
				return
			}
			sessions[i], transports[i] = s, lt
		})
	}
	wg.Wait()
	defer func() {
		for _, s := range sessions {
			if s != nil {
				s.Close()
			}
		}
	}()
	if err := setupErr.Load(); err != nil {
		t.Fatalf("setup: %v", err)
	}
	t.Logf("setup: %d logins and sessions in %v", loadSessions, time.Since(setup).Round(time.Millisecond))

	// 10,000 goroutines: Token in a loop, and one per session calling the
	// resource through Client.
	ctx, stop := context.WithCancel(context.Background())
	stats := make([]loadStats, loadSessions*loadPerSession)
	var workers sync.WaitGroup
	for i, s := range sessions {
		client := s.Client(ctx)
		for j := range loadPerSession {
			st := &stats[i*loadPerSession+j]
			st.minLeft = time.Hour
			workers.Go(func() {
				for ctx.Err() == nil {
					if j == 0 {
						loadResourceCall(ctx, client, srv.ResourceEndpoint(), st)
						sleepCtx(ctx, time.Duration(200+rand.N(300))*time.Millisecond)
						continue
					}
					before := time.Now()
					tok, err := s.Token(ctx)
					st.calls++
					switch {
					case err != nil && ctx.Err() != nil:
					case err != nil:
						st.errors++
						if st.firstErr == "" {
							st.firstErr = err.Error()
						}
					default:
						left := tok.Expiry.Sub(before)
						st.minLeft = min(st.minLeft, left)
						if left <= 0 {
							st.expired++
						} else if left <= loadMargin {
							st.underMargin++
						}
					}
					sleepCtx(ctx, time.Duration(20+rand.N(100))*time.Millisecond)
				}
			})
		}
	}
	start := time.Now()
	t.Logf("%d goroutines running (%d workers)", runtime.NumGoroutine(), loadSessions*loadPerSession)

	// Heap and goroutines, sampled after a GC.
	type sample struct {
		at         time.Duration
		heap       uint64
		goroutines int
	}
	var samples []sample
	every := max(duration/12, 500*time.Millisecond)
	for time.Since(start) < duration {
		time.Sleep(min(every, duration-time.Since(start)))
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		samples = append(samples, sample{time.Since(start).Round(time.Second), ms.HeapAlloc, runtime.NumGoroutine()})
	}

	// Stop; a deadlock would keep workers waiting.
	stop()
	finished := make(chan struct{})
	go func() { workers.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		buf := make([]byte, 8<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("workers did not stop within 2 minutes: deadlock?\n%s", buf)
	}
	elapsed := time.Since(start)

	// The figures.
	var total loadStats
	total.minLeft = time.Hour
	for _, st := range stats {
		total.calls += st.calls
		total.errors += st.errors
		total.expired += st.expired
		total.underMargin += st.underMargin
		total.resourceCalls += st.resourceCalls
		total.resourceFailures += st.resourceFailures
		total.resourceLate += st.resourceLate
		total.minLeft = min(total.minLeft, st.minLeft)
		if total.firstErr == "" {
			total.firstErr = st.firstErr
		}
	}
	requests, refreshed, maxAttempts, over := 0, 0, 0, 0
	var slowest time.Duration
	injected := map[string]int{}
	var perSession []int
	for _, lt := range transports {
		lt.mu.Lock()
		requests += lt.requests
		slowest = max(slowest, lt.slowest)
		n := 0
		for _, g := range lt.gens {
			maxAttempts = max(maxAttempts, g.attempts)
			if g.attempts > 1+DefaultMaxRetries || g.ok > 1 {
				over++
			}
			if g.ok > 0 {
				n++
			}
		}
		for k, v := range lt.injected {
			injected[k] += v
		}
		lt.mu.Unlock()
		refreshed += n
		perSession = append(perSession, n)
	}
	slices.Sort(perSession)
	nInjected := 0
	for _, v := range injected {
		nInjected += v
	}
	reused := 0
	for _, r := range srv.Requests() {
		if r.GrantType == "refresh_token" && r.Error != "" {
			reused++
		}
	}
	t.Logf("ran %v: %d sessions × %d goroutines", elapsed.Round(time.Millisecond), loadSessions, loadPerSession)
	t.Logf("Token calls: %d (%.0f/s), errors %d, expired handed out %d, inside the margin %d, least validity left %v",
		total.calls, float64(total.calls)/elapsed.Seconds(), total.errors, total.expired, total.underMargin, total.minLeft.Round(time.Millisecond))
	t.Logf("resource calls through Client: %d, failed: %d, 401 after a call slower than the margin: %d", total.resourceCalls, total.resourceFailures, total.resourceLate)
	t.Logf("refresh requests: %d, injected failures: %d (%.1f%%) %v; slowest answer %v", requests, nInjected, 100*float64(nInjected)/float64(max(requests, 1)), injected, slowest.Round(time.Millisecond))
	t.Logf("expiries refreshed: %d (per session: min %d, median %d, max %d); most requests for one expiry: %d (bound 1 + MaxRetries = %d); refused at the server: %d",
		refreshed, perSession[0], perSession[len(perSession)/2], perSession[len(perSession)-1], maxAttempts, 1+DefaultMaxRetries, reused)
	for _, s := range samples {
		t.Logf("  t=%-4v heap %6.1f MiB, %d goroutines", s.at, float64(s.heap)/(1<<20), s.goroutines)
	}

	if total.errors != 0 {
		t.Errorf("%d Token errors; first: %s", total.errors, total.firstErr)
	}
	if total.expired != 0 || total.underMargin != 0 {
		t.Errorf("%d expired tokens handed out, %d inside the expiry margin", total.expired, total.underMargin)
	}
	if total.resourceFailures != 0 {
		t.Errorf("%d resource calls through Client failed; first: %s", total.resourceFailures, total.firstErr)
	}
	if over != 0 {
		t.Errorf("%d expiries with more than 1 + MaxRetries requests or more than one success", over)
	}
	if reused != 0 {
		t.Errorf("the server refused %d refresh requests (a refresh token presented twice?)", reused)
	}
	if nInjected == 0 || refreshed == 0 || refreshed < loadSessions*int(duration/loadTokenTTL) {
		t.Errorf("the load did not happen: %d refreshes, %d injected failures", refreshed, nInjected)
	}
	if len(samples) >= 2 {
		// From the first sample after warm-up (a sixth of the run) to the
		// last: bounded growth.
		first := samples[min(len(samples)-1, 1)]
		last := samples[len(samples)-1]
		if last.heap > first.heap+loadHeapGrowth {
			t.Errorf("heap grew from %d to %d bytes", first.heap, last.heap)
		}
	}
}

func loadResourceCall(ctx context.Context, c *http.Client, u string, st *loadStats) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	start := time.Now()
	resp, err := c.Do(req)
	took := time.Since(start)
	if ctx.Err() != nil {
		if err == nil {
			resp.Body.Close()
		}
		return
	}
	st.resourceCalls++
	if err != nil {
		st.resourceFailures++
		if st.firstErr == "" {
			st.firstErr = err.Error()
		}
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusUnauthorized && took > loadMargin:
		st.resourceLate++
	default:
		st.resourceFailures++
		if st.firstErr == "" {
			st.firstErr = fmt.Sprintf("resource: HTTP %d after %v", resp.StatusCode, took)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
