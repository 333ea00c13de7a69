package authloop

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/callback"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// With the default settings, the pauses between a refresh's retries start
// at half a second and grow, but never past 10 seconds: a failing server
// is neither hammered nor left alone for minutes.
func TestDefaultRetryPauses(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	const fails = 12
	f.cfg.MaxRetries = fails
	s, err := NewSession(f.cfg, f.tok) // the default backoff, unlike f.session
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waits := recordRetryWaits(t)
	f.srv.FailNext(fails, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
	f.clock.Jump(2 * time.Hour)
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	w := waits()
	if len(w) != fails || w[0] != 500*time.Millisecond {
		t.Fatalf("pauses %v: want %d, the first of 500ms", w, fails)
	}
	longest := time.Duration(0)
	for _, d := range w {
		if d < 500*time.Millisecond || d > 10*time.Second {
			t.Fatalf("pauses %v: want each within [500ms, 10s]", w)
		}
		longest = max(longest, d)
	}
	// The ceilings are 1, 2, 4, 8 s, then 10 s: the chance that none of
	// the 12 pauses passes 2 s is about 1e-7.
	if longest <= 2*time.Second {
		t.Fatalf("pauses %v: none passed 2s, the backoff does not grow", w)
	}
}

// The HTTP client used when Config.HTTPClient is nil gives up on a server
// that never answers (a token request must not hang a program for good),
// and follows no redirect (that would send the grant elsewhere).
func TestDefaultHTTPClientIsBounded(t *testing.T) {
	c := (&Config{}).httpClient()
	if c.Timeout <= 0 || c.Timeout > time.Minute {
		t.Errorf("default HTTP client timeout %v, want a bound of at most a minute", c.Timeout)
	}
	if c.CheckRedirect == nil || c.CheckRedirect(nil, nil) == nil {
		t.Error("the default HTTP client follows redirects")
	}
}

// deadlineStore records the deadline of each wait for the "login" lock.
type deadlineStore struct {
	store.Store
	mu        sync.Mutex
	deadlines []time.Time
}

func (d *deadlineStore) Lock(ctx context.Context, key store.Key, name string) (func() error, error) {
	if name == "login" {
		dl, _ := ctx.Deadline()
		d.mu.Lock()
		d.deadlines = append(d.deadlines, dl)
		d.mu.Unlock()
	}
	return d.Store.Lock(ctx, key, name)
}

// A session waits for another process's sign-in (the record's login lock)
// as long as a sign-in may take, plus a margin: Config.LoginTimeout when
// set, else the callback's default (5 minutes), and 30 s for the code
// exchange and the save, never less: giving up sooner would open a second
// browser while the person is still signing in in the first.
func TestLoginLockWaitFollowsLoginTimeout(t *testing.T) {
	for _, c := range []struct {
		name    string
		timeout time.Duration
		want    time.Duration
	}{
		{"LoginTimeout unset", 0, callback.DefaultTimeout},
		{"LoginTimeout 2m", 2 * time.Minute, 2 * time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := oauthtest.NewServer(oauthtest.Config{})
			defer srv.Close()
			b := &approvingBrowser{}
			defer b.wg.Wait()
			cfg := testConfig(srv, b.open)
			cfg.LoginTimeout = c.timeout
			st := &deadlineStore{Store: store.NewMemory()}
			cfg.Store = st
			s, err := NewSession(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			start := time.Now()
			if _, err := s.Login(context.Background()); err != nil {
				t.Fatal(err)
			}
			st.mu.Lock()
			defer st.mu.Unlock()
			if len(st.deadlines) == 0 {
				t.Fatal("no wait for the login lock")
			}
			// The deadline is taken from the real clock after start: it
			// lies at least want plus 30 s ahead of start (the other
			// process's sign-in may end at its LoginTimeout, then exchange
			// the code and save), and no more than that ahead of now.
			got := st.deadlines[0]
			if lo, hi := start.Add(c.want+30*time.Second), time.Now().Add(c.want+30*time.Second); got.Before(lo) || got.After(hi) {
				t.Fatalf("the login lock is waited for until %v after the start, want %v and a margin of 30 s", got.Sub(start), c.want)
			}
		})
	}
}

// Config.MaxRetries = NoRetries makes a transient failure final at once:
// one token request, and the session is told to wait.
func TestNoRetriesSendsOneRequest(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.MaxRetries = NoRetries
	s := f.session()
	waits := recordRetryWaits(t)
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
	f.clock.Jump(2 * time.Hour)
	_, err := s.Token(context.Background())
	var rl *RetryLaterError
	if !errors.As(err, &rl) {
		t.Fatalf("Token: %v, want a *RetryLaterError", err)
	}
	if n := f.refreshes(); n != 1 || len(waits()) != 0 {
		t.Fatalf("%d refresh requests, %d pauses: want 1 and none", n, len(waits()))
	}
}
