package redisstore

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore/redistest"
)

// Issue 16's benchmark (scenario 6): Redis round trips per Token on a
// valid token and per refresh, and what a refresh costs on Redis beside
// the file store.

// roundTrips counts a client's round trips to Redis: each command sent
// alone (a script's EVALSHA, and its EVAL after NOSCRIPT, count apart),
// and each pipeline or transaction as one.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// countedSession signs in to srv with a session on a Redis store whose
// client counts its round trips.
func countedSession(tb testing.TB, rs *redistest.Server, srv *oauthtest.Server) (*authloop.Session, *roundTrips) {
	tb.Helper()
	c := rs.Client()
	h := &roundTrips{}
	c.AddHook(h)
	st, err := New(c, Options{Prefix: "{bench}:"})
	if err != nil {
		tb.Fatal(err)
	}
	return signedIn(tb, srv, st), h
}

// signedIn signs in to srv, saving to st, and returns a session on it.
func signedIn(tb testing.TB, srv *oauthtest.Server, st store.Store) *authloop.Session {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := sessionConfig(srv, st)
	tok, err := authloop.Login(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := authloop.NewSession(cfg, tok)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// refreshRoundTrips is what a refresh costs in Redis round trips once
// the store's scripts are loaded: take the lock (a script), read the
// record (HMGET), save (a script), release the lock (a script). A
// refresh that takes longer than LockTTL/3 adds a renewal per LockTTL/3.
const refreshRoundTrips = 4

// A valid token is handed out from memory: Token sends nothing to Redis.
// A refresh costs refreshRoundTrips round trips.
func TestRoundTripsPerTokenAndRefresh(t *testing.T) {
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	s, h := countedSession(t, rs, srv)
	ctx := ctxT(t)
	if _, err := s.Refresh(ctx); err != nil { // loads the scripts
		t.Fatal(err)
	}
	before := h.n.Load()
	for range 1000 {
		if _, err := s.Token(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.n.Load() - before; n != 0 {
		t.Errorf("1000 Token calls on a valid token made %d Redis round trips, want 0", n)
	}
	for range 5 {
		before := h.n.Load()
		if _, err := s.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if n := h.n.Load() - before; n != refreshRoundTrips {
			t.Errorf("a refresh made %d Redis round trips, want %d", n, refreshRoundTrips)
		}
	}
}

// BenchmarkTokenValid: Token on a valid token, with its Redis round trips
// per call (redis-roundtrips/op; target 0).
func BenchmarkTokenValid(b *testing.B) {
	rs := redistest.Start(b)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	s, h := countedSession(b, rs, srv)
	ctx := context.Background()
	before := h.n.Load()
	n := 0
	for b.Loop() {
		if _, err := s.Token(ctx); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(h.n.Load()-before)/float64(n), "redis-roundtrips/op")
}

// BenchmarkRefresh: a forced refresh (lock, read, a token request to
// oauthtest on loopback, save, unlock) on Redis and on the file store
// (store.NewFile in a temporary directory), interleaved in one run so
// that both meet the same machine load: their latencies (redis-µs/refresh,
// file-µs/refresh), what Redis adds (added-µs/refresh), and Redis round
// trips per refresh. Redis runs with appendfsync always (as redistest
// starts it: every write on disk before it is answered, which the
// durability promise needs) and everysec (a crash of the machine may lose
// the last second of saves).
func BenchmarkRefresh(b *testing.B) {
	for _, fsync := range []string{"always", "everysec"} {
		b.Run("appendfsync="+fsync, func(b *testing.B) { benchmarkRefresh(b, fsync) })
	}
}

func benchmarkRefresh(b *testing.B, fsync string) {
	rs := redistest.Start(b)
	if err := rs.Client().ConfigSet(context.Background(), "appendfsync", fsync).Err(); err != nil {
		b.Fatal(err)
	}
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	rsess, h := countedSession(b, rs, srv)
	dir := filepath.Join(b.TempDir(), "store") // NewFile makes it 0700
	fst, err := store.NewFile(dir)
	if err != nil {
		b.Fatal(err)
	}
	fsess := signedIn(b, srv, fst)
	ctx := context.Background()
	if _, err := rsess.Refresh(ctx); err != nil { // loads the scripts
		b.Fatal(err)
	}
	before := h.n.Load()
	var onRedis, onFile time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		if _, err := rsess.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if _, err := fsess.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
		onRedis += mid.Sub(start)
		onFile += time.Since(mid)
		n++
	}
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	b.ReportMetric(us(onRedis), "redis-µs/refresh")
	b.ReportMetric(us(onFile), "file-µs/refresh")
	b.ReportMetric(us(onRedis-onFile), "added-µs/refresh")
	b.ReportMetric(float64(h.n.Load()-before)/float64(n), "redis-roundtrips/refresh")
}
