package authloop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

func TestSessionLogoutRevokesAndDeletes(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := fileStore(t, t.TempDir())
	var gone bool
	f.cfg.OnTokenChange = func(_, new *oauth2.Token) { gone = new == nil }
	s := f.sessionWith(st, f.tok)
	if err := s.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !gone {
		t.Error("OnTokenChange did not announce the logout")
	}
	if f.srv.Count("revoke") != 1 {
		t.Fatalf("revocation endpoint hit %d times, want 1 (found through the issuer's metadata)", f.srv.Count("revoke"))
	}
	if f.srv.ValidAccessToken(f.tok.AccessToken) {
		t.Error("the grant lives on at the server: revoking the refresh token must end it")
	}
	if _, err := st.Load(context.Background(), s.Key()); err == nil {
		t.Error("the record is still in the store")
	}
	if _, err := s.Token(context.Background()); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("Token after Logout: %v, want ErrLoginRequired", err)
	}
	if s.Cached() != nil {
		t.Error("a token is still cached")
	}
}

func TestSessionLogoutWithoutRevocationEndpoint(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Issuer = "" // nothing to discover a revocation endpoint from
	f.cfg.RequireIssuer = false
	s := f.sessionWith(fileStore(t, t.TempDir()), f.tok)
	if err := s.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.srv.Count("revoke") != 0 {
		t.Fatal("revoked without a known endpoint")
	}
}

// Another process rotated the refresh token since this session last
// looked: Logout revokes the live one, read from the store, and its own
// stale one, so the grant ends even at a server where revoking a rotated
// token does nothing.
func TestSessionLogoutRevokesLiveToken(t *testing.T) {
	f := newFixture(t, oauthtest.Config{RevokeRotatedIgnored: true}, true)
	st := fileStore(t, t.TempDir())
	a := f.sessionWith(st, f.tok)
	other := f.sessionWith(st, nil) // another process on the same store
	live, err := other.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if live.RefreshToken == f.tok.RefreshToken {
		t.Fatal("the server did not rotate the refresh token")
	}
	if err := a.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.srv.ValidAccessToken(live.AccessToken) {
		t.Fatal("the live grant survived the logout: the stale refresh token was revoked, not the stored one")
	}
	if n := f.srv.Count("revoke"); n != 2 {
		t.Errorf("%d revocations, want 2 (the stored refresh token, and the session's own, which differs)", n)
	}
	if _, err := st.Load(context.Background(), a.Key()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the record is still in the store: %v", err)
	}
}

// lockWatch records, around a store, whether the refresh lock is held
// when the record is read and deleted, and how many revocations the
// server had seen when it was released.
type lockWatch struct {
	store.Store
	srv *oauthtest.Server

	mu     sync.Mutex
	held   bool
	events []string
}

func (w *lockWatch) note(e string) {
	w.events = append(w.events, fmt.Sprintf("%s held=%v", e, w.held))
}

func (w *lockWatch) Lock(ctx context.Context, key store.Key, name string) (func() error, error) {
	unlock, err := w.Store.Lock(ctx, key, name)
	if err != nil || name != "refresh" {
		return unlock, err
	}
	w.mu.Lock()
	w.held = true
	w.mu.Unlock()
	return func() error {
		w.mu.Lock()
		if w.held {
			w.note(fmt.Sprintf("unlock revokes=%d", w.srv.Count("revoke")))
		}
		w.held = false
		w.mu.Unlock()
		return unlock()
	}, nil
}

func (w *lockWatch) Load(ctx context.Context, key store.Key) (*store.Record, error) {
	w.mu.Lock()
	w.note("load")
	w.mu.Unlock()
	return w.Store.Load(ctx, key)
}

func (w *lockWatch) Delete(ctx context.Context, key store.Key) error {
	w.mu.Lock()
	w.note("delete")
	w.mu.Unlock()
	return w.Store.Delete(ctx, key)
}

// Logout reads, revokes and deletes under the refresh lock, so that no
// refresh elsewhere rotates the token between the read and the revocation
// or saves one after the delete.
func TestSessionLogoutUnderRefreshLock(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	w := &lockWatch{Store: fileStore(t, t.TempDir()), srv: f.srv}
	s := f.sessionWith(w, f.tok)
	w.mu.Lock()
	w.events = nil
	w.mu.Unlock()
	if err := s.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	got := strings.Join(w.events, "; ")
	w.mu.Unlock()
	want := "load held=true; delete held=true; unlock revokes=1 held=true"
	if got != want {
		t.Fatalf("store events during Logout:\n got %s\nwant %s", got, want)
	}
}

// A Logout that cannot take the refresh lock (another process holds it
// past ctx's end) revokes and deletes nothing, says so, and leaves the
// session as it was.
func TestSessionLogoutLockNotTaken(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	f := newFixture(t, oauthtest.Config{}, true)
	st := fileStore(t, t.TempDir())
	s := f.sessionWith(st, f.tok)
	unlock, err := st.Lock(context.Background(), s.Key(), "refresh")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = s.Logout(ctx)
	if err == nil || !strings.Contains(err.Error(), "nothing was revoked or deleted") {
		t.Fatalf("Logout while another holds the lock: %v", err)
	}
	if f.srv.Count("revoke") != 0 {
		t.Error("revoked without the lock")
	}
	if _, err := st.Load(context.Background(), s.Key()); err != nil {
		t.Errorf("the record is gone: %v", err)
	}
	if tok, err := s.Token(context.Background()); err != nil || tok.AccessToken != f.tok.AccessToken {
		t.Errorf("Token after the failed Logout: %v, %v", tok, err)
	}
}

// cancelOn cancels a context when a request to a path ending in suffix
// goes out, and fails that request as a cancelled one would.
type cancelOn struct {
	base   http.RoundTripper
	suffix string
	cancel context.CancelFunc
}

func (c cancelOn) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, c.suffix) {
		c.cancel()
		return nil, context.Canceled
	}
	return c.base.RoundTrip(r)
}

// The caller's ctx ends during the revocation (Ctrl-C on `authloop
// logout`): the error says the grant may live on, and the local record is
// deleted all the same, as Logout promises.
func TestSessionLogoutCancelledDuringRevocation(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := fileStore(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.cfg.HTTPClient = &http.Client{Transport: cancelOn{http.DefaultTransport, "/revoke", cancel}}
	s := f.sessionWith(st, f.tok)
	err := s.Logout(ctx)
	if err == nil || !strings.Contains(err.Error(), "may live on") {
		t.Fatalf("Logout cancelled during the revocation: %v", err)
	}
	if _, err := st.Load(context.Background(), s.Key()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the record is still in the store: %v", err)
	}
	if s.Cached() != nil {
		t.Error("a token is still cached")
	}
}
