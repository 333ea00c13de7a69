package authloop

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// A program that is told to stop (a signal) cancels its context and
// closes its Session. Once a refresh request has gone out, the server may
// have rotated the refresh token: the answer must still be read and
// saved, or the grant is lost at a server with strict rotation.
//
// Each case starts a refresh one way, lets the (rotating, reuse-detecting)
// server act on it and hold its answer (oauthtest.FaultHoldAnswer), stops
// the way a program does, then releases the answer. The stored refresh
// token must then be the rotated one, and work at the server.
func TestStopDuringRefresh(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	starts := []struct {
		name string
		// start begins a refresh; for a caller that waits, it returns
		// the caller's outcome, else nil.
		start func(f *fixture, s *Session, ctx context.Context) <-chan error
	}{
		{"refresh", func(f *fixture, s *Session, ctx context.Context) <-chan error {
			return async(func() error { _, err := s.Refresh(ctx); return err })
		}},
		{"token-expired", func(f *fixture, s *Session, ctx context.Context) <-chan error {
			f.clock.Jump(2 * time.Hour)
			return async(func() error { _, err := s.Token(ctx); return err })
		}},
		{"client-401", func(f *fixture, s *Session, ctx context.Context) <-chan error {
			revokeAccessToken(f, s.cur.Load().tok)
			return async(func() error {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.ResourceEndpoint(), nil)
				resp, err := s.Client(ctx).Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusUnauthorized {
					return errStill401
				}
				return nil
			})
		}},
		{"timer", func(f *fixture, s *Session, ctx context.Context) <-chan error {
			f.clock.Advance(56 * time.Minute) // past the refresh point (55 min)
			return nil
		}},
		{"window", func(f *fixture, s *Session, ctx context.Context) <-chan error {
			f.clock.Jump(56 * time.Minute)
			if _, err := s.Token(ctx); err != nil {
				f.t.Fatalf("Token in the refresh window: %v", err)
			}
			return nil
		}},
	}
	stops := []struct {
		name          string
		cancel, close bool
	}{
		{"cancel", true, false},      // the caller gives up; the program goes on
		{"close", false, true},       // Close (a background refresh, or another goroutine's caller)
		{"cancel-close", true, true}, // a command: its context is cancelled, then it closes the Session
	}
	for _, start := range starts {
		for _, stop := range stops {
			caller := start.name != "timer" && start.name != "window"
			if stop.cancel && !caller {
				continue // no caller to cancel
			}
			t.Run(start.name+"/"+stop.name, func(t *testing.T) {
				f := newFixture(t, oauthtest.Config{}, true)
				st := fileStore(t, t.TempDir())
				s := f.sessionWith(st, f.tok)
				release, held := make(chan struct{}), make(chan struct{})
				f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultHoldAnswer, Release: release, Held: held})
				var releaseOnce sync.Once
				free := func() { releaseOnce.Do(func() { close(release) }) }
				t.Cleanup(free) // before the session's Close, on failure
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				done := start.start(f, s, ctx)
				select {
				case <-held: // the server has rotated; its answer waits
				case <-time.After(time.Minute):
					t.Fatal("no refresh request reached the server")
				}
				if stop.cancel {
					cancel()
					// ctx bounds only the caller's wait: it returns now,
					// before the answer.
					// (Client's caller gets the 401 it had.)
					if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, errStill401) {
						t.Fatalf("the cancelled caller got %v, want context.Canceled", err)
					}
				}
				closed := make(chan struct{})
				if stop.close {
					go func() { s.Close(); close(closed) }()
					waitClosing(t, s)
				}
				select {
				case <-closed:
					t.Fatal("Close returned before the answer of the refresh under way arrived")
				default:
				}
				free()
				if stop.close {
					<-closed
				} else {
					eventually(t, "the refresh to end", func() bool {
						s.mu.Lock()
						defer s.mu.Unlock()
						return s.flight == nil
					})
					// The session itself carries on with the new token:
					// no second request.
					tok, err := s.Token(context.Background())
					if err != nil || !f.srv.ValidAccessToken(tok.AccessToken) || f.refreshes() != 1 {
						t.Fatalf("after the cancelled caller: %v, %d refreshes; want the new token, 1 refresh", err, f.refreshes())
					}
				}
				if done != nil && !stop.cancel {
					if err := <-done; err != nil && !errors.Is(err, ErrSessionClosed) {
						t.Fatalf("the caller got %v", err)
					}
				}
				wantRotationSaved(t, f, st, f.tok)
			})
		}
	}
}

// errStill401 is the outcome of a request through Client that ended with
// the 401 it had.
var errStill401 = errors.New("HTTP 401")

// async runs fn in a goroutine and delivers its error.
func async(fn func() error) <-chan error {
	c := make(chan error, 1)
	go func() { c <- fn() }()
	return c
}

// waitClosing waits until Close has begun (the session is closed and its
// context cancelled).
func waitClosing(t *testing.T, s *Session) {
	t.Helper()
	eventually(t, "Close to begin", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.closed
	})
}

// revokeAccessToken makes the resource refuse tok's access token; its
// refresh token lives on.
func revokeAccessToken(f *fixture, tok *oauth2.Token) {
	f.t.Helper()
	form := url.Values{"token": {tok.AccessToken}, "client_id": {f.srv.ClientID()}}
	resp, err := http.PostForm(f.srv.RevocationEndpoint(), form)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	if f.srv.ValidAccessToken(tok.AccessToken) {
		f.t.Fatal("the access token was not revoked")
	}
}

// wantRotationSaved checks that st holds a refresh token other than old's,
// which the server accepts (a stale one would be refused as reused, and
// its whole grant revoked), and that the server refused nothing.
func wantRotationSaved(t *testing.T, f *fixture, st store.Store, old *oauth2.Token) {
	t.Helper()
	rec, err := st.Load(context.Background(), f.cfg.sessionKey())
	if err != nil || rec.Token == nil {
		t.Fatalf("reading the record: %v", err)
	}
	if rt := rec.Token.RefreshToken; rt == "" || rt == old.RefreshToken {
		t.Fatal("the store does not hold the rotated refresh token")
	}
	s := f.sessionWith(st, nil)
	tok, err := s.Refresh(context.Background())
	if err != nil || !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatalf("refreshing with the stored refresh token: %v", err)
	}
	for _, r := range f.srv.Requests() {
		if r.Endpoint == "token" && r.Error != "" {
			t.Fatalf("the server refused a token request (%s): a refresh token was presented twice", r.Error)
		}
	}
}

// Stopped during a new sign-in's code exchange (Session.Login, as
// `authloop login` runs it): as with a refresh, the request already sent is
// answered and its tokens saved. The server has spent the code and issued
// a new grant; abandoning its answer would lose that grant (at servers that
// end the earlier grant at a new consent, the person would be signed out
// everywhere) after the command promised to save it. The caller's wait
// ends at once; Close waits for the answer.
func TestStopDuringLoginExchange(t *testing.T) {
	t.Parallel() // touches no package state: waits beside the other slow tests (shorttier_test.go)
	f := newFixture(t, oauthtest.Config{}, true)
	st := fileStore(t, t.TempDir())
	s := f.sessionWith(st, f.tok)
	release, held := make(chan struct{}), make(chan struct{})
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultHoldAnswer, Release: release, Held: held})
	ctx, cancel := context.WithCancel(context.Background())
	done := async(func() error { _, err := s.Login(ctx); return err })
	select {
	case <-held: // the code is spent, the new grant's answer waits
	case <-time.After(time.Minute):
		t.Fatal("no code exchange reached the server")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Login got %v, want context.Canceled", err)
	}
	closed := async(func() error { return s.Close() })
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) before the code exchange's answer came", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	rec, err := st.Load(context.Background(), f.cfg.sessionKey())
	if err != nil || rec.Token == nil || rec.Token.RefreshToken == f.tok.RefreshToken {
		t.Fatalf("the new sign-in was not saved: %v", err)
	}
	s2 := f.sessionWith(st, nil)
	if tok, err := s2.Refresh(context.Background()); err != nil || !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatalf("the new sign-in does not work: %v", err)
	}
}

// BenchmarkSIGKILLWindow measures the window in which SIGKILL loses a
// rotated refresh token at a server with strict rotation: from the moment
// the server has rotated (its answer is about to be written) to the moment
// the new record is durable in the file store (Save has returned: written
// to a temporary file, fsynced, renamed over the record, directory
// fsynced). It reports the median and the 99th percentile of the window,
// of the save alone, and of the time from the request's sending to the
// save (a server that acts on a request whose client died widens the
// window to that: add the network's round trip), in milliseconds. The store lives under TMPDIR:
// point it at the disk that holds the real store (on tmpfs fsync costs
// nothing). docs/RELIABILITY.md has the figures:
//
//	go test -run '^$' -bench BenchmarkSIGKILLWindow -benchtime 2000x .
func BenchmarkSIGKILLWindow(b *testing.B) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	st, err := store.NewFile(filepath.Join(b.TempDir(), "authloop"))
	if err != nil {
		b.Fatal(err)
	}
	ts := &timedStore{Store: st}
	var sent atomic.Int64 // when the last token request went out, in ns since t0
	t0 := time.Now()
	cfg := &Config{
		OAuth2:             &oauth2.Config{ClientID: srv.ClientID(), Endpoint: srv.Endpoint()},
		Issuer:             srv.Issuer(),
		Store:              ts,
		DisableAutoRefresh: true,
		Prompt:             discardWriter{},
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/token" {
				sent.Store(int64(time.Since(t0)))
			}
			return http.DefaultTransport.RoundTrip(r)
		})},
	}
	tok, _ := benchLogin(b, srv, cfg)
	s, err := NewSession(cfg, tok)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	windows := make([]time.Duration, 0, b.N)
	saves := make([]time.Duration, 0, b.N)
	fromSent := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		held, release := make(chan struct{}), make(chan struct{})
		srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultHoldAnswer, Release: release, Held: held})
		rotated := make(chan time.Time, 1)
		go func() {
			<-held // the server has rotated
			rotated <- time.Now()
			close(release)
		}()
		if _, err := s.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
		at := <-rotated
		start, end := ts.last()
		if start.Before(at) {
			b.Fatal("no save after the rotation")
		}
		windows = append(windows, end.Sub(at))
		saves = append(saves, end.Sub(start))
		fromSent = append(fromSent, end.Sub(t0.Add(time.Duration(sent.Load()))))
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(percentile(windows, 50)), "ms-window-p50")
	b.ReportMetric(ms(percentile(windows, 99)), "ms-window-p99")
	b.ReportMetric(ms(percentile(saves, 50)), "ms-save-p50")
	b.ReportMetric(ms(percentile(saves, 99)), "ms-save-p99")
	b.ReportMetric(ms(percentile(fromSent, 50)), "ms-sent-to-saved-p50")
	b.ReportMetric(ms(percentile(fromSent, 99)), "ms-sent-to-saved-p99")
}

// timedStore records when its last Save started and returned.
type timedStore struct {
	store.Store
	mu         sync.Mutex
	start, end time.Time
}

func (ts *timedStore) Save(ctx context.Context, rec *store.Record) (uint64, error) {
	start := time.Now()
	gen, err := ts.Store.Save(ctx, rec)
	end := time.Now()
	ts.mu.Lock()
	ts.start, ts.end = start, end
	ts.mu.Unlock()
	return gen, err
}

func (ts *timedStore) last() (start, end time.Time) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.start, ts.end
}

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[max((len(s)*p+99)/100-1, 0)]
}
