package redisstore

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore/redistest"
)

// docs/SCALING.md, "Redis unavailable": "A refresh fails without sending
// anything (never without the lock), with an error wrapping
// store.ErrUnavailable". A Redis that hangs (paused, a stuck primary, a
// network that drops packets) with the client's ContextTimeoutEnabled set,
// as the package doc asks, is not reported so: the lock script's read
// runs until the refresh's deadline, and LockLease then says that
// "another process or goroutine holds" the lock, wrapping only
// store.ErrLockTimeout. A program (and the command's exit code 4) cannot
// tell Redis's outage from a busy lock, and the message sends the user
// looking for a process that does not exist.
func TestRefreshWithRedisHungFailsAsUnavailable(t *testing.T) {
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	st, err := New(rs.Client(), Options{Prefix: "{hung}:"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	cfg := sessionConfig(srv, st)
	cfg.RefreshTimeout = 3 * time.Second
	tok, err := authloop.Login(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := authloop.NewSession(cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs.Pause()
	t.Cleanup(rs.Resume)
	_, err = s.Refresh(ctx)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Refresh with Redis hung: %v\nwant an error wrapping store.ErrUnavailable", err)
	}
	if err != nil && strings.Contains(err.Error(), "another process or goroutine holds it") {
		t.Errorf("the error blames another holder of the lock, though the lock is free and Redis did not answer")
	}
	for _, r := range srv.Requests() {
		if r.Endpoint == "token" && r.GrantType == "refresh_token" {
			t.Fatal("a refresh was sent without the lock")
		}
	}
}

// holdProxy forwards TCP connections to a Redis server; while held, what
// its clients send waits in the proxy (a network path that stalls), and
// reaches Redis when it is released.
type holdProxy struct {
	ln   net.Listener
	hold atomic.Bool
}

func newHoldProxy(t *testing.T, target string) *holdProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holdProxy{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { p.hold.Store(false); ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				defer r.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						for p.hold.Load() {
							time.Sleep(time.Millisecond)
						}
						if _, err := r.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
			go func() { defer wg.Done(); defer c.Close(); _, _ = io.Copy(c, r) }()
		}
	}()
	return p
}

// The same finding as TestStaleSaveRefusedAfterRecordDeletedAndRecreated,
// through Sessions: session A refreshes, and its path to Redis stalls
// after the server answered (its renewals and its save wait in the
// network) for longer than its lease. Session B then logs out (the
// record is deleted) and signs in again (a new record, generation 1
// again). A's save then reaches Redis: the lock is free and the
// generation is the one A knew, so the fence lets it through, and the
// new sign-in is replaced by A's tokens of the old grant.
func TestStaleRefreshDoesNotOverwriteANewSignIn(t *testing.T) {
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	const ttl = time.Second
	prefix := "{aba}:"
	p := newHoldProxy(t, rs.Addr())
	o := rs.Options()
	o.Addr = p.ln.Addr().String()
	ca := redis.NewClient(o)
	defer ca.Close()
	sa, err := New(ca, Options{Prefix: prefix, LockTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := New(rs.Client(), Options{Prefix: prefix, LockTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	cfgA, cfgB := sessionConfig(srv, sa), sessionConfig(srv, sb)
	cfgA.RefreshTimeout = 30 * time.Second
	tok, err := authloop.Login(ctx, cfgB)
	if err != nil {
		t.Fatal(err)
	}
	b, err := authloop.NewSession(cfgB, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if ks, err := sa.List(ctx); err != nil || len(ks) != 1 {
		t.Fatalf("A's store: %v, %v", ks, err)
	}
	a, err := authloop.NewSession(cfgA, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Cached() == nil || a.Cached().AccessToken != tok.AccessToken {
		t.Fatal("session A did not load the sign-in")
	}

	// A's refresh request is answered after a moment; A's path to Redis
	// stalls as soon as the request has reached the server.
	srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultDelay, Delay: 300 * time.Millisecond})
	logins := srv.Count("token")
	go func() {
		for srv.Count("token") <= logins {
			time.Sleep(time.Millisecond)
		}
		p.hold.Store(true)
	}()
	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		t, err := a.Refresh(ctx)
		done <- result{t, err}
	}()
	for !p.hold.Load() {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // A's answer arrives, its save waits in the network

	// B logs out (waiting for A's lease to end in Redis), then signs in
	// again.
	if err := b.Logout(ctx); err != nil {
		t.Logf("B's Logout: %v", err)
	}
	newTok, err := b.Login(ctx)
	if err != nil {
		t.Fatalf("B's new sign-in: %v", err)
	}
	p.hold.Store(false) // A's save reaches Redis
	r := <-done
	t.Logf("A's Refresh: %v", r.err)
	if r.tok != nil {
		t.Logf("A's refreshed token (of the grant B logged out) valid at the server: %v; B's new sign-in valid: %v",
			srv.ValidAccessToken(r.tok.AccessToken), srv.ValidAccessToken(newTok.AccessToken))
	}

	got, err := sb.Load(ctx, b.Key())
	if err != nil {
		t.Fatalf("the record after it all: %v; want B's new sign-in", err)
	}
	if got.Token.AccessToken != newTok.AccessToken {
		stale := r.tok != nil && got.Token.AccessToken == r.tok.AccessToken
		t.Errorf("the record after A's stale save holds another token than B's new sign-in (A's refreshed token of the logged-out grant: %v): a stale holder overwrote a newer record", stale)
	}
}

// onRevoke is an http.RoundTripper that calls f once a revocation request
// has been answered.
type onRevoke struct {
	next http.RoundTripper
	f    func()
}

func (o onRevoke) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(r)
	if strings.HasSuffix(r.URL.Path, "/revoke") {
		o.f()
	}
	return resp, err
}

// docs/SCALING.md: "A stale holder never overwrites a newer record." A
// Logout is a write too, and its Delete is not fenced (Logout does not
// even pass the lease's context to it). Session L logs out; its path to
// Redis stalls after the revocation, before the Delete, past its lease.
// The person signs in again on session R meanwhile (R takes the refresh
// lock when L's lease ends, and saves the new sign-in). L's Delete then
// reaches Redis and deletes the new sign-in: R, and every process sharing
// the store, drop the new tokens at their next refresh ("logged out
// elsewhere"), though the logout came before the sign-in.
func TestStaleLogoutDoesNotDeleteANewSignIn(t *testing.T) {
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	const ttl = time.Second
	prefix := "{stalelogout}:"
	p := newHoldProxy(t, rs.Addr())
	o := rs.Options()
	o.Addr = p.ln.Addr().String()
	cl := redis.NewClient(o)
	defer cl.Close()
	sl, err := New(cl, Options{Prefix: prefix, LockTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	sr, err := New(rs.Client(), Options{Prefix: prefix, LockTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	cfgL, cfgR := sessionConfig(srv, sl), sessionConfig(srv, sr)
	cfgL.RefreshTimeout = 30 * time.Second
	revoked := make(chan struct{})
	var once sync.Once
	cfgL.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: onRevoke{
		next: &http.Transport{DisableKeepAlives: true},
		f:    func() { once.Do(func() { p.hold.Store(true); close(revoked) }) },
	}}
	tok, err := authloop.Login(ctx, cfgR)
	if err != nil {
		t.Fatal(err)
	}
	r, err := authloop.NewSession(cfgR, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := authloop.NewSession(cfgL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Cached() == nil {
		t.Fatal("session L did not load the sign-in")
	}
	done := make(chan error, 1)
	go func() { done <- l.Logout(ctx) }()
	<-revoked // L's Delete, and its renewals, now wait in the network

	newTok, err := r.Login(ctx)
	if err != nil {
		t.Fatalf("the new sign-in on R: %v", err)
	}
	p.hold.Store(false)
	t.Logf("L's Logout: %v", <-done)
	got, err := sr.Load(ctx, r.Key())
	if err != nil || got.Token.AccessToken != newTok.AccessToken {
		t.Errorf("the record after the stale Logout's Delete: %v; want the new sign-in made after the logout", err)
	}
	if _, err := r.Refresh(ctx); err != nil {
		t.Errorf("R's Refresh after it all: %v; want the new sign-in alive", err)
	}
}
