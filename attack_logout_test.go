package authloop

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// Adversarial tests of issue 12, situation 6 (Logout).

// Logout in one process while another process (a long-running program
// sharing the store) still holds the grant in memory. The person logged
// out: the other process's next refresh must not write tokens of that
// grant back into the store, where every later process (authloop token,
// status) would find them and carry on as if signed in. With a revocation
// endpoint, the refresh is refused and what it writes back is the revoked
// access token; without one, the grant lives on at the server (Logout said
// so) but the store must still stay empty.
func TestAttackLogoutNotUndoneByAnotherProcess(t *testing.T) {
	for _, revocation := range []bool{true, false} {
		name := "revocation"
		if !revocation {
			name = "no-revocation-endpoint"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, oauthtest.Config{}, true)
			if !revocation {
				f.cfg.Issuer = "" // nothing to discover a revocation endpoint from
				f.cfg.RequireIssuer = false
			}
			st := fileStore(t, t.TempDir())
			a := f.sessionWith(st, f.tok)
			other := f.sessionWith(st, nil) // another process on the same store
			if other.Cached() == nil {
				t.Fatal("the other process did not read the record")
			}
			if err := a.Logout(context.Background()); err != nil {
				t.Fatal(err)
			}

			// The other process refreshes (its timer, a 401, Refresh).
			_, err := other.Refresh(context.Background())
			if err == nil || !errors.Is(err, ErrLoginRequired) {
				t.Errorf("the other process's refresh after the logout: %v, want login required", err)
			}
			rec, lerr := st.Load(context.Background(), a.Key())
			switch {
			case errors.Is(lerr, store.ErrNotFound):
			case lerr != nil:
				t.Fatal(lerr)
			case rec.Token != nil:
				t.Errorf("after the logout, the store holds tokens again (refresh token %v, written back by another process)", rec.Token.RefreshToken != "")
			}
			later, nerr := NewSession(&Config{OAuth2: f.cfg.OAuth2, Issuer: f.cfg.Issuer, Store: st, Clock: f.clock, DisableAutoRefresh: true}, nil)
			if nerr != nil {
				t.Fatal(nerr)
			}
			defer later.Close()
			if tok := later.Cached(); tok != nil {
				t.Errorf("a process started after the logout finds a token (valid at the server: %v)", f.srv.ValidAccessToken(tok.AccessToken))
			}
		})
	}
}

// hangOn holds every request to a path ending in suffix until the
// request's context ends or the test releases it: a server that accepts
// the connection and never answers.
type hangOn struct {
	base    http.RoundTripper
	suffix  string
	release chan struct{}
}

func (h hangOn) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, h.suffix) {
		select {
		case <-r.Context().Done():
			return nil, r.Context().Err()
		case <-h.release:
			return nil, errors.New("released by the test")
		}
	}
	return h.base.RoundTrip(r)
}

// Logout, with a revocation endpoint that never answers and an HTTP client
// without a timeout of its own (Config.HTTPClient as many programs set
// it), called with a context without deadline (a program's shutdown path):
// it holds the record's refresh lock while it waits, so every process on
// the machine that needs a refresh waits too. The wait must be bounded, as
// a refresh is (Config.RefreshTimeout): the local tokens are then deleted
// and the error says the grant may live on.
func TestAttackLogoutRevocationHangs(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for Logout's real deadline (RefreshTimeout, 1 s) on a hanging endpoint: runs in the full tier (make test)")
	}
	f := newFixture(t, oauthtest.Config{}, true)
	st := fileStore(t, t.TempDir())
	release := make(chan struct{})
	f.cfg.HTTPClient = &http.Client{Transport: hangOn{http.DefaultTransport, "/revoke", release}}
	f.cfg.RefreshTimeout = time.Second
	s := f.sessionWith(st, f.tok)
	done := make(chan error, 1)
	go func() { done <- s.Logout(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "may live on") {
			t.Errorf("Logout with a revocation endpoint that never answers: %v", err)
		}
	case <-time.After(30 * time.Second):
		close(release)
		<-done
		t.Fatal("Logout still waited for the revocation endpoint after 30 s (RefreshTimeout 1 s), holding the refresh lock of every process")
	}
	close(release)
	if _, err := st.Load(context.Background(), s.Key()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the record is still in the store: %v", err)
	}
}

// A Logout that fails because another process holds the refresh lock past
// ctx's end leaves the session as it was, as promised: that includes its
// background refresh. The timer that came due while Logout waited for the
// lock found a flight (the logout) under way and left the re-arming to it;
// a failed Logout must re-arm, or the session never refreshes in the
// background again and its token simply expires.
func TestAttackFailedLogoutKeepsBackgroundRefresh(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	f := newFixture(t, oauthtest.Config{}, true)
	st := fileStore(t, t.TempDir())
	s := f.sessionWith(st, f.tok)
	if f.clock.Timers() == 0 {
		t.Fatal("the session armed no background refresh")
	}
	unlock, err := st.Lock(context.Background(), s.Key(), "refresh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Logout(ctx) }()
	// Logout is waiting for the lock once its flight is in place.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		waiting := s.flight != nil
		s.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Logout never started")
		}
	}
	d, ok := f.clock.NextTimer()
	if !ok {
		t.Fatal("no timer")
	}
	f.clock.Advance(d) // the refresh timer fires while Logout waits
	s.timerWG.Wait()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("Logout succeeded without the lock")
	}
	unlock()
	if f.clock.Timers() == 0 {
		t.Fatal("after the failed Logout the session has no background refresh scheduled: its token will simply expire")
	}

	before := f.refreshes()
	// The token's lifetime passes; the session should refresh before the end.
	for deadline := time.Now().Add(30 * time.Second); f.refreshes() == before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no background refresh after the failed Logout (timers armed: %d)", f.clock.Timers())
		}
		if d, ok := f.clock.NextTimer(); ok {
			f.clock.Advance(d)
		}
	}
}
