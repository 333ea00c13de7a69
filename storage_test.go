package authloop

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

func fileStore(t testing.TB, dir string) store.Store {
	t.Helper()
	st, err := store.NewFile(filepath.Join(dir, "authloop")) // t.TempDir is 0755
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (f *fixture) sessionWith(st store.Store, tok *oauth2.Token) *Session {
	f.t.Helper()
	cfg := *f.cfg
	cfg.Store = st
	s, err := NewSession(&cfg, tok)
	if err != nil {
		f.t.Fatal(err)
	}
	s.backoffBase = time.Millisecond
	s.backoffCap = 20 * time.Millisecond
	f.t.Cleanup(func() { s.Close() })
	return s
}

// A restarted process resumes from the store: no request, no login; a
// refresh made by one session is what the next one starts from.
func TestSessionResumesFromStore(t *testing.T) {
	f := newFixture(t, oauthtest.Config{JWTAccessTokens: true}, true)
	dir := t.TempDir()
	s1 := f.sessionWith(fileStore(t, dir), f.tok)
	s1.Close()

	s2 := f.sessionWith(fileStore(t, dir), nil)
	tok, err := s2.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != f.tok.AccessToken || tok.RefreshToken != f.tok.RefreshToken {
		t.Fatal("the saved token was not resumed")
	}
	if tok.Extra("scope") != f.tok.Extra("scope") || tok.Extra("id_token") != f.tok.Extra("id_token") {
		t.Fatalf("raw fields lost on the way through the store: scope %v", tok.Extra("scope"))
	}
	if f.srv.Count("token") != 1 || f.srv.Count("authorize") != 1 {
		t.Fatal("resuming made a request")
	}
	f.clock.Jump(2 * time.Hour)
	refreshed, err := s2.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()

	s3 := f.sessionWith(fileStore(t, dir), nil)
	tok, err = s3.Token(context.Background())
	if err != nil || tok.RefreshToken != refreshed.RefreshToken {
		t.Fatalf("third session does not hold the rotated token: %v", err)
	}
}

// Two sessions on one store (as two processes): the second adopts the
// first's refresh without a request of its own.
func TestSessionAdoptsAnotherSessionsRefresh(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := fileStore(t, t.TempDir())
	a := f.sessionWith(st, f.tok)
	b := f.sessionWith(st, nil)
	f.clock.Jump(2 * time.Hour)
	ta, err := a.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ta.AccessToken != tb.AccessToken {
		t.Fatal("the second session did not adopt the first's token")
	}
	if r := f.refreshes(); r != 1 {
		t.Fatalf("%d refreshes for two sessions sharing a store, want 1", r)
	}
}

// Many sessions sharing a store, many goroutines each, through expiry
// cycles: one refresh per cycle, no refresh token presented twice.
func TestSessionsSharingAStoreRefreshOncePerCycle(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := fileStore(t, t.TempDir())
	const sessions, goroutines, cycles = 4, 25, 10
	ss := []*Session{f.sessionWith(st, f.tok)}
	for range sessions - 1 {
		ss = append(ss, f.sessionWith(st, nil))
	}
	for c := 0; c < cycles; c++ {
		f.clock.Jump(2 * time.Hour)
		var wg sync.WaitGroup
		for _, s := range ss {
			for range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := s.Token(context.Background()); err != nil {
						t.Errorf("cycle %d: %v", c, err)
					}
				}()
			}
		}
		wg.Wait()
		if r := f.refreshes(); r != c+1 {
			t.Fatalf("after cycle %d: %d refreshes, want %d", c, r, c+1)
		}
	}
	for _, r := range f.srv.Requests() {
		if r.Error != "" {
			t.Fatalf("the server saw an error (reuse?): %+v", r)
		}
	}
}

// A refresh token refused because another process (one that ignored the
// lock) rotated it a moment ago: re-read the store, adopt, no login.
func TestSessionInvalidGrantRereadsStore(t *testing.T) {
	f := newFixture(t, oauthtest.Config{DisableReuseDetection: true}, true)
	st := fileStore(t, t.TempDir())
	other := f.sessionWith(st, f.tok)
	var once sync.Once
	f.cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/token" {
			body, _ := r.GetBody()
			buf := new(strings.Builder)
			_, _ = bufCopy(buf, body)
			if v, _ := url.ParseQuery(buf.String()); v.Get("grant_type") == "refresh_token" {
				once.Do(func() {
					// The other process rotates the token behind our back.
					if _, err := other.Refresh(context.Background()); err != nil {
						t.Errorf("other refresh: %v", err)
					}
				})
			}
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	s := f.sessionWith(lockless{st}, nil)
	f.clock.Jump(2 * time.Hour)
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatalf("got %v, want the other process's token adopted", err)
	}
	otherTok, _ := other.Token(context.Background())
	if tok.AccessToken != otherTok.AccessToken {
		t.Fatal("did not adopt the token the other process saved")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func bufCopy(w *strings.Builder, r interface{ Read([]byte) (int, error) }) (int, error) {
	b := make([]byte, 4096)
	n := 0
	for {
		k, err := r.Read(b)
		w.Write(b[:k])
		n += k
		if err != nil {
			return n, nil
		}
	}
}

// lockless is a store whose locks exclude nothing: a process of an older
// program, or one whose wait for the lock timed out.
type lockless struct{ store.Store }

func (lockless) Lock(context.Context, store.Key, string) (func() error, error) {
	return func() error { return nil }, nil
}

// Logins across sessions sharing a store: one browser, the others adopt.
func TestSessionsShareOneLogin(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Interactive = true
	st := fileStore(t, t.TempDir())
	var ss []*Session
	for range 5 {
		ss = append(ss, f.sessionWith(st, nil))
	}
	before := f.srv.Count("authorize")
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Token(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := f.srv.Count("authorize") - before; n != 1 {
		t.Fatalf("%d browser logins for 5 sessions sharing a store, want 1", n)
	}
}

func TestSessionLoginMethod(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.sessionWith(fileStore(t, t.TempDir()), f.tok)
	tok, err := s.Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == f.tok.AccessToken {
		t.Fatal("Login did not sign in anew")
	}
	if cur, _ := s.Token(context.Background()); cur.AccessToken != tok.AccessToken {
		t.Fatal("the new login is not the session's token")
	}
}

func TestSessionCorruptStoreIsAnError(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	dir := t.TempDir()
	st := fileStore(t, dir)
	f.sessionWith(st, f.tok).Close()
	cfg := *f.cfg
	cfg.Store = st
	path := filepath.Join(dir, "authloop", cfg.sessionKey().ID()+".json")
	if err := writeFile0600(path, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	_, err := NewSession(&cfg, nil)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v, want an error naming %s", err, path)
	}
	if !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("got %v, want store.ErrCorrupt", err)
	}
}

func writeFile0600(path string, data []byte) error {
	return os.WriteFile(path, data, 0o600)
}

// Session.Login signs in anew even when another process has just
// refreshed the token: a refreshed token is not a sign-in.
func TestSessionLoginSignsInAfterOtherRefreshed(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := fileStore(t, t.TempDir())
	a := f.sessionWith(st, f.tok)
	b := f.sessionWith(st, nil)
	f.clock.Jump(2 * time.Hour)
	refreshed, err := b.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	before := f.srv.Count("authorize")
	tok, err := a.Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Count("authorize") - before; n != 1 || tok.AccessToken == refreshed.AccessToken {
		t.Fatalf("%d sign-ins, and the token is the refreshed one: %v; want a new sign-in", n, tok.AccessToken == refreshed.AccessToken)
	}
}

// Session.Login joins a sign-in that another process is in the middle of:
// one browser for both.
func TestSessionLoginJoinsSignInInProgress(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := fileStore(t, t.TempDir())
	aStore := &waitingStore{Store: st}
	a := f.sessionWith(aStore, f.tok)
	opened := make(chan struct{})
	release := make(chan struct{})
	cfg := *f.cfg
	cfg.Store = st
	cfg.Browser = func(ctx context.Context, u string) error {
		close(opened)
		<-release
		return f.b.open(ctx, u)
	}
	b, err := NewSession(&cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f.clock.Jump(time.Minute)
	before := f.srv.Count("authorize")
	type result struct {
		tok *oauth2.Token
		err error
	}
	bDone := make(chan result, 1)
	go func() {
		tok, err := b.Login(context.Background())
		bDone <- result{tok, err}
	}()
	<-opened // b holds the login lock, its browser is open
	aDone := make(chan result, 1)
	go func() {
		tok, err := a.Login(context.Background())
		aDone <- result{tok, err}
	}()
	// a waits for b's login (its login lock).
	eventually(t, "a to wait for the login lock", func() bool { return aStore.loginWaits.Load() > 0 })
	close(release)
	rb, ra := <-bDone, <-aDone
	if rb.err != nil || ra.err != nil {
		t.Fatal(rb.err, ra.err)
	}
	if n := f.srv.Count("authorize") - before; n != 1 || ra.tok.AccessToken != rb.tok.AccessToken {
		t.Fatalf("%d sign-ins; same token: %v; want one sign-in shared", n, ra.tok.AccessToken == rb.tok.AccessToken)
	}
}

// A sign-in saves under the refresh lock too: a refresh that another
// process had under way when the sign-in ended cannot write its older
// grant over the new one.
func TestLoginSaveWaitsForRefreshInOtherProcess(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	st := fileStore(t, t.TempDir())
	aStore := &waitingStore{Store: st}
	a := f.sessionWith(aStore, f.tok)
	ctx := context.Background()
	unlock, err := st.Lock(ctx, a.Key(), "refresh") // another process refreshing
	if err != nil {
		t.Fatal(err)
	}
	codes := func() int {
		n := 0
		for _, r := range f.srv.Requests() {
			if r.GrantType == "authorization_code" && r.Status == http.StatusOK {
				n++
			}
		}
		return n
	}
	before, savesBefore := codes(), aStore.saves.Load()
	done := make(chan *oauth2.Token, 1)
	go func() {
		tok, err := a.Login(ctx)
		if err != nil {
			t.Error(err)
		}
		done <- tok
	}()
	eventually(t, "the sign-in's code exchange", func() bool { return codes() > before })
	// The sign-in waits for the refresh lock to save (or, were it not
	// waiting, has saved).
	eventually(t, "the sign-in to wait for the refresh lock, or save", func() bool {
		return aStore.refreshWaits.Load() > 0 || aStore.saves.Load() > savesBefore
	})
	// The other process's refresh ends: it saves its (older) grant.
	rec, err := st.Load(ctx, a.Key())
	if err != nil {
		t.Fatal(err)
	}
	rec.Token.AccessToken = "refreshed-elsewhere"
	if _, err := st.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	unlock()
	tok := <-done
	rec, err = st.Load(ctx, a.Key())
	if err != nil {
		t.Fatal(err)
	}
	if tok == nil || rec.Token.AccessToken != tok.AccessToken {
		t.Fatal("the refresh that ended after the sign-in overwrote it in the store")
	}
}
