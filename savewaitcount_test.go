package authloop

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// gatedStore holds each Save, once armed, until its gate closes; entered
// receives when a held Save begins.
type gatedStore struct {
	store.Store
	gate    atomic.Pointer[chan struct{}]
	entered chan struct{}
}

func (g *gatedStore) Save(ctx context.Context, rec *store.Record) (uint64, error) {
	if p := g.gate.Load(); p != nil {
		g.entered <- struct{}{}
		<-*p
	}
	return g.Store.Save(ctx, rec)
}

// eventuallyParked waits until some goroutine is blocked (in a select or a
// channel receive) inside fn, a function's name as runtime.Stack prints it.
func eventuallyParked(t *testing.T, fn string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	eventually(t, "a goroutine blocked in "+fn, func() bool {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			head, _, _ := strings.Cut(g, "\n")
			if strings.Contains(g, fn+"(") && (strings.Contains(head, "[select") || strings.Contains(head, "[chan receive")) {
				return true
			}
		}
		return false
	})
}

// A caller who first waits on the timer's retry of a failed save, which
// refreshes nothing, keeps all its tries for the refresh it then runs: a
// refreshed token that has expired by the time it arrives is refreshed
// again three times, as for any caller, before the error that names the
// system clock.
func TestWaitingOnASaveRetryCostsNoRefreshTry(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	flaky := &flakyStore{Store: store.NewMemory()}
	gated := &gatedStore{Store: flaky, entered: make(chan struct{}, 1)}
	f.cfg.Store = gated
	f.cfg.DisableAutoRefresh = true // only the save's retry arms the timer
	var lateAnswers atomic.Bool
	f.cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil && r.URL.Path == "/token" && lateAnswers.Load() {
			f.clock.Jump(2 * time.Hour) // the answer arrives after its token's expiry
		}
		return resp, err
	})}
	s := f.session()

	flaky.failSaves.Store(2)
	if _, err := s.Refresh(context.Background()); !errors.As(err, new(*SaveError)) {
		t.Fatalf("Refresh with a failing store: %v, want a *SaveError", err)
	}
	gate := make(chan struct{})
	gated.gate.Store(&gate)
	f.clock.Advance(time.Second) // the timer retries the save, which waits at the gate
	select {
	case <-gated.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the timer did not retry the failed save")
	}
	gated.gate.Store(nil)

	f.clock.Jump(2 * time.Hour) // the session's token has expired meanwhile
	lateAnswers.Store(true)
	before := f.refreshes()
	errc := make(chan error, 1)
	go func() {
		_, err := s.Token(context.Background())
		errc <- err
	}()
	eventuallyParked(t, "authloop.(*Session).waitSaved") // on the save's retry
	close(gate)
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), "system clock") {
		t.Fatalf("Token: %v; want the error naming the system clock", err)
	}
	if n := f.refreshes() - before; n != 4 {
		t.Fatalf("%d refreshes after waiting on the save's retry, want 4 (one, and three more)", n)
	}
}
