package authloop

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// validToken is a token that stays outside any refresh window for the
// whole benchmark.
func validToken() *oauth2.Token {
	return &oauth2.Token{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", Expiry: time.Now().Add(24 * time.Hour), ExpiresIn: 86400}
}

func benchSession(b *testing.B) *Session {
	b.Helper()
	cfg := &Config{
		OAuth2: &oauth2.Config{ClientID: "c", Endpoint: oauth2.Endpoint{AuthURL: "https://a.example/auth", TokenURL: "https://a.example/token"}},
	}
	s, err := NewSession(cfg, validToken())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// staticSource never refreshes: ReuseTokenSource's cost is its own.
type staticSource struct{ tok *oauth2.Token }

func (s staticSource) Token() (*oauth2.Token, error) { return s.tok, nil }

// BenchmarkToken compares Session.Token on a valid token with
// x/oauth2's ReuseTokenSource, serially and in parallel.
func BenchmarkToken(b *testing.B) {
	ctx := context.Background()
	b.Run("Session/serial", func(b *testing.B) {
		s := benchSession(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Token(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReuseTokenSource/serial", func(b *testing.B) {
		ts := oauth2.ReuseTokenSource(nil, staticSource{validToken()})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ts.Token(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Session/parallel", func(b *testing.B) {
		s := benchSession(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Token(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("ReuseTokenSource/parallel", func(b *testing.B) {
		ts := oauth2.ReuseTokenSource(nil, staticSource{validToken()})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ts.Token(); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkRefreshCoalescing lets N goroutines find the same expired token
// at once, against the embedded server on loopback. It reports the token
// requests per expiry (must be 1) and how long the slowest caller waited
// beyond one token round trip.
func BenchmarkRefreshCoalescing(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			clock := oauthtest.NewFakeClock(time.Now())
			srv := oauthtest.NewServer(oauthtest.Config{Clock: clock})
			defer srv.Close()
			cfg := &Config{
				OAuth2:             &oauth2.Config{ClientID: srv.ClientID(), Endpoint: srv.Endpoint()},
				Clock:              clock,
				DisableAutoRefresh: true,
			}
			// One round trip, for reference, and a token to start from.
			tok, rtt := benchLogin(b, srv, cfg)
			s, err := NewSession(cfg, tok)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			var requests, extraWait float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				before := srv.Count("token")
				clock.Jump(2 * time.Hour) // the token expires
				var wg sync.WaitGroup
				var mu sync.Mutex
				var slowest time.Duration
				start := make(chan struct{})
				for range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						t0 := time.Now()
						if _, err := s.Token(ctx); err != nil {
							b.Error(err)
						}
						d := time.Since(t0)
						mu.Lock()
						slowest = max(slowest, d)
						mu.Unlock()
					}()
				}
				close(start)
				wg.Wait()
				requests += float64(srv.Count("token") - before)
				extraWait += float64(max(slowest-rtt, 0))
			}
			b.ReportMetric(requests/float64(b.N), "requests/expiry")
			b.ReportMetric(extraWait/float64(b.N)/1e6, "ms-wait-beyond-rtt")
			b.ReportMetric(float64(rtt)/1e6, "ms-rtt")
		})
	}
}

// benchLogin gets a first token through the password-less headless login,
// and times a plain refresh round trip.
func benchLogin(b *testing.B, srv *oauthtest.Server, cfg *Config) (*oauth2.Token, time.Duration) {
	b.Helper()
	br := &approvingBrowser{}
	c := *cfg
	c.Browser = br.open
	c.Prompt = discardWriter{}
	tok, err := Login(context.Background(), &c)
	br.wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	var best time.Duration
	for range 5 {
		t0 := time.Now()
		tok, err = c.tokenRequest(context.Background(), c.refreshForm(tok), keepFrom(tok))
		if err != nil {
			b.Fatal(err)
		}
		if d := time.Since(t0); best == 0 || d < best {
			best = d
		}
	}
	return tok, best
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkAdoption measures Token in a process whose token expired while
// another process (here, another Session on the same file store) already
// refreshed and saved: lock, read the record, adopt, no request.
func BenchmarkAdoption(b *testing.B) {
	clock := oauthtest.NewFakeClock(time.Now())
	srv := oauthtest.NewServer(oauthtest.Config{Clock: clock})
	defer srv.Close()
	st := fileStore(b, b.TempDir())
	cfg := &Config{
		OAuth2:             &oauth2.Config{ClientID: srv.ClientID(), Endpoint: srv.Endpoint()},
		Clock:              clock,
		Store:              st,
		DisableAutoRefresh: true,
	}
	tok, _ := benchLogin(b, srv, cfg)
	other, err := NewSession(cfg, tok)
	if err != nil {
		b.Fatal(err)
	}
	defer other.Close()
	s, err := NewSession(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	before := srv.Count("token")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		clock.Jump(2 * time.Hour)
		if _, err := other.Token(ctx); err != nil { // the other process refreshes
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.Token(ctx); err != nil { // this one adopts
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if got := srv.Count("token") - before; got != b.N {
		b.Fatalf("%d token requests for %d cycles: the second session did not adopt", got, b.N)
	}
}

// BenchmarkClockRead is the floor under Token's fast path: one wall-clock
// read, which Token cannot skip without risking an expired token after a
// laptop's sleep. On machines with a slow clock source it dominates.
// time.Now reads the wall and the monotonic clocks; wallNano, what Token
// uses, reads only the wall clock (one vDSO call on linux/amd64).
func BenchmarkClockRead(b *testing.B) {
	var sink int64
	b.Run("time.Now", func(b *testing.B) {
		for b.Loop() {
			sink += time.Now().UnixNano()
		}
	})
	b.Run("wallNano", func(b *testing.B) {
		for b.Loop() {
			sink += wallNano()
		}
	})
	_ = sink
}
