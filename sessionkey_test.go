package authloop

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// A resource spelled two ways that name the same URL (case of the scheme
// and host, the default port, a lone "/" path) is one record: a program
// configured with one spelling finds the tokens another saved with the
// other.
func TestResourceSpellingsShareOneRecord(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Store = store.NewMemory()
	f.cfg.Resource = "HTTPS://MCP.Example.COM:443/"
	a := f.session()
	other := *f.cfg
	other.Resource = "https://mcp.example.com"
	b, err := NewSession(&other, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Key() != b.Key() || a.Key().Resource != "https://mcp.example.com" {
		t.Fatalf("keys %v and %v; want one, with the canonical resource", a.Key(), b.Key())
	}
	if got := b.Cached(); got == nil || got.AccessToken != f.tok.AccessToken {
		t.Fatal("the session with the other spelling does not find the saved token")
	}
}

// Session.Client sends its requests through Config.HTTPClient's transport
// (a proxy, a custom TLS configuration, a test's fake), not
// http.DefaultTransport.
func TestClientUsesConfiguredTransport(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	var seen atomic.Int32
	f.cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.String() == f.srv.ResourceEndpoint() {
			seen.Add(1)
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	s := f.session()
	resp, err := s.Client(context.Background()).Get(f.srv.ResourceEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || seen.Load() != 1 {
		t.Fatalf("status %d, %d requests through the configured transport; want 200 and 1", resp.StatusCode, seen.Load())
	}
}

// The background timers of many sessions are spread apart before the
// refresh point, by a tenth of the refresh buffer at most (a refresh is
// not started much earlier than asked) and by 5 s at most however large
// the buffer.
func TestTimerJitterBounded(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	for _, tc := range []struct{ buffer, spread time.Duration }{
		{10 * time.Second, time.Second},
		{10 * time.Minute, 5 * time.Second},
	} {
		f.cfg.RefreshBuffer = tc.buffer
		s := f.session()
		spread := false
		for range 200 {
			st := s.newState(f.tok)
			d := time.Duration(st.refreshAt - st.timerAt)
			if d < 0 || d >= tc.spread {
				t.Fatalf("buffer %v: the timer is %v before the refresh point, want within [0, %v)", tc.buffer, d, tc.spread)
			}
			spread = spread || d > tc.spread/2
		}
		if !spread {
			t.Errorf("buffer %v: 200 timers all within %v of the refresh point: no jitter?", tc.buffer, tc.spread/2)
		}
	}
}
