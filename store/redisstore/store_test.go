package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore/redistest"
	"github.com/authloop/authloop/store/storetest"
	"github.com/redis/go-redis/v9"
)

var prefixes atomic.Int64

// newStore returns a store with a prefix of its own on srv, with a
// lease of ttl (0: the default).
func newStore(t *testing.T, srv *redistest.Server, ttl time.Duration) *Store {
	t.Helper()
	s, err := New(srv.Client(), Options{Prefix: fmt.Sprintf("{t%d}:", prefixes.Add(1)), LockTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// expirable is the store under test with storetest.LeaseExpirer: it ends
// a lease by deleting the lock, as Redis does when its lease runs out.
type expirable struct{ *Store }

func (e expirable) ExpireLease(key store.Key, name string) error {
	return e.c.Del(context.Background(), e.lockKey(key, name)).Err()
}

func ctxT(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestStore(t *testing.T) {
	srv := redistest.Start(t)
	storetest.TestStore(t, func(t *testing.T) store.Store {
		return expirable{newStore(t, srv, 3*time.Second)}
	})
}

func testRecord(key store.Key, tag string) *store.Record {
	return &store.Record{Key: key, Token: &store.Token{AccessToken: "at-" + tag, RefreshToken: "rt-" + tag}}
}

func key(n int) store.Key {
	return store.Key{Issuer: fmt.Sprintf("https://as%d.example.com", n), ClientID: "c", Account: fmt.Sprint(n)}
}

// keysOf returns the Redis keys under s's prefix.
func keysOf(t *testing.T, s *Store) []string {
	t.Helper()
	ks, err := s.c.Keys(ctxT(t), s.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ks)
	return ks
}

func TestKeyLayoutAndDeleteLeavesNothing(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, 0)
	a, b := key(1), key(2)
	for _, k := range []store.Key{a, b} {
		if _, err := s.Save(ctxT(t), testRecord(k, "x")); err != nil {
			t.Fatal(err)
		}
	}
	unlock, err := s.Lock(ctxT(t), a, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{s.prefix + "keys", s.prefix + "lock:" + a.ID() + ":refresh", s.prefix + "rec:" + a.ID(), s.prefix + "rec:" + b.ID()}
	if got := keysOf(t, s); !slices.Equal(got, want) {
		t.Errorf("keys with two records and a lock held:\n got %q\nwant %q (the documented layout)", got, want)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctxT(t), a); err != nil {
		t.Fatal(err)
	}
	want = []string{s.prefix + "keys", s.prefix + "rec:" + b.ID()}
	if got := keysOf(t, s); !slices.Equal(got, want) {
		t.Errorf("keys after unlock and Delete of one record:\n got %q\nwant %q", got, want)
	}
	if err := s.Delete(ctxT(t), b); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(t, s); len(got) != 0 {
		t.Errorf("keys left after every record was deleted: %q", got)
	}
}

func TestListManyKeys(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, 0)
	const n = 500
	var want []store.Key
	for i := range n {
		k := key(i)
		if _, err := s.Save(ctxT(t), testRecord(k, "x")); err != nil {
			t.Fatal(err)
		}
		want = append(want, k)
	}
	slices.SortFunc(want, compareKeys)
	got, err := s.List(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List of %d records: got %d keys, not the saved keys sorted", n, len(got))
	}
}

// A holder that stops renewing (its process stopped) loses the lock when
// the lease ends; the next holder gets it; the stale holder's save is
// refused by Redis (held has not ended: no timer of the stalled process
// ran), LeaseHeld says the lease is gone by the monotonic clock, and its
// unlock leaves the new holder's lock alone.
func TestStalledHolderLosesLockAndItsSave(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, time.Second)
	k := key(1)
	held, unlock, err := s.LockLease(ctxT(t), k, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(held, testRecord(k, "first")); err != nil {
		t.Fatal(err)
	}
	stall(t, held)

	other, err := s.Lock(ctxT(t), k, "refresh") // waits for the lease to end
	if err != nil {
		t.Fatalf("Lock after the holder stalled: %v; the lease should have freed it", err)
	}
	if _, err := s.Save(ctxT(t), testRecord(k, "other")); err != nil {
		t.Fatal(err)
	}
	if held.Err() != nil {
		t.Fatalf("held ended (%v) though the stalled holder's timer was stopped; the test no longer shows the script's check", context.Cause(held))
	}
	if err := store.LeaseHeld(held, 0); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("LeaseHeld after the lease ran out: %v; want ErrLeaseLost", err)
	}
	_, err = s.Save(held, testRecord(k, "stale"))
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("stale holder's Save: %v; want ErrLeaseLost", err)
	}
	if strings.Contains(err.Error(), "rt-") || strings.Contains(err.Error(), "at-") {
		t.Errorf("the refusal quotes a token: %v", err)
	}
	if got, err := s.Load(ctxT(t), k); err != nil || got.Token.AccessToken != "at-other" || got.Generation != 2 {
		t.Fatalf("after the refused save: %v, %v; want the new holder's record, generation 2", got, err)
	}
	if context.Cause(held) != store.ErrLeaseLost {
		t.Errorf("held after its refused save: cause %v; want ErrLeaseLost", context.Cause(held))
	}
	if err := unlock(); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("stale unlock: %v; want ErrLeaseLost", err)
	}
	owner, err := s.c.Get(ctxT(t), s.lockKey(k, "refresh")).Result()
	if err != nil || owner == "" {
		t.Fatalf("the new holder's lock after the stale unlock: %q, %v; want it still there", owner, err)
	}
	if err := other(); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.c.Exists(ctxT(t), s.lockKey(k, "refresh")).Result(); n != 0 {
		t.Error("the lock is still in Redis after its holder's unlock")
	}
}

// A held lock is renewed: it outlives several leases, and no one else
// takes it meanwhile.
func TestHeldLockIsRenewed(t *testing.T) {
	srv := redistest.Start(t)
	const ttl = time.Second
	s := newStore(t, srv, ttl)
	k := key(1)
	held, unlock, err := s.LockLease(ctxT(t), k, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	short, cancel := context.WithTimeout(ctxT(t), 3*ttl)
	defer cancel()
	if u, err := s.Lock(short, k, "refresh"); err == nil {
		u()
		t.Fatal("another holder took a lock held and renewed")
	}
	if held.Err() != nil {
		t.Fatalf("held ended while renewed: %v", context.Cause(held))
	}
	if err := unlock(); err != nil {
		t.Errorf("unlock: %v", err)
	}
}

func unreachable(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "cannot reach Redis") {
		t.Errorf("%s with Redis down: %v; want an error wrapping store.ErrUnavailable that says Redis cannot be reached", what, err)
	}
}

// With Redis down, every method fails at once saying so, a held lease
// ends, and all works again when Redis is back, with the records it had
// (AOF).
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, time.Second)
	k := key(1)
	if _, err := s.Save(ctxT(t), testRecord(k, "before")); err != nil {
		t.Fatal(err)
	}
	held, unlock, err := s.LockLease(ctxT(t), k, "login")
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()

	_, err = s.Load(ctxT(t), k)
	unreachable(t, "Load", err)
	_, err = s.Save(ctxT(t), testRecord(k, "during"))
	unreachable(t, "Save", err)
	err = s.Delete(ctxT(t), k)
	unreachable(t, "Delete", err)
	_, err = s.List(ctxT(t))
	unreachable(t, "List", err)
	_, err = s.Lock(ctxT(t), k, "refresh")
	unreachable(t, "Lock", err)
	if errors.Is(err, store.ErrLockTimeout) {
		t.Errorf("Lock with Redis down waited for its context: %v", err)
	}
	<-held.Done() // renewals fail: the lease ends
	if context.Cause(held) != store.ErrLeaseLost {
		t.Errorf("held with Redis down ended with %v; want ErrLeaseLost", context.Cause(held))
	}
	if err := unlock(); err == nil {
		t.Error("unlock with Redis down succeeded")
	}

	srv.Start()
	got, err := s.Load(ctxT(t), k)
	if err != nil || got.Token.AccessToken != "at-before" || got.Generation != 1 {
		t.Fatalf("Load after Redis is back: %v, %v; want the record saved before", got, err)
	}
	if g, err := s.Save(ctxT(t), testRecord(k, "after")); err != nil || g != 2 {
		t.Fatalf("Save after Redis is back: %d, %v", g, err)
	}
	u, err := s.Lock(ctxT(t), k, "refresh")
	if err != nil {
		t.Fatalf("Lock after Redis is back: %v", err)
	}
	if err := u(); err != nil {
		t.Fatal(err)
	}
}

// A Redis that hangs (SIGSTOP) does not hang the store past the context.
func TestRedisPausedFailsByTheContext(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, 0)
	k := key(1)
	if _, err := s.Save(ctxT(t), testRecord(k, "x")); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	for name, op := range map[string]func(context.Context) error{
		"Load": func(c context.Context) error { _, err := s.Load(c, k); return err },
		"Save": func(c context.Context) error { _, err := s.Save(c, testRecord(k, "y")); return err },
		"Lock": func(c context.Context) error { _, err := s.Lock(c, k, "refresh"); return err },
	} {
		c, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := op(c)
		cancel()
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with Redis paused: %v; want an error wrapping the context's", name, err)
		}
	}
	srv.Resume()
	// The Save that timed out may have been applied on resuming: its
	// outcome is unknown to the saver, but the record is one whole save.
	got, err := s.Load(ctxT(t), k)
	if err != nil {
		t.Fatalf("Load after Redis resumed: %v", err)
	}
	if tag := got.Token.AccessToken; !(tag == "at-x" && got.Generation == 1 || tag == "at-y" && got.Generation == 2) {
		t.Errorf("Load after Redis resumed: %s; want the first save, or the timed-out one", got)
	}
}

// A crash of Redis (SIGKILL) loses no saved record: every save is in the
// AOF on disk before it is answered (appendfsync always).
func TestRedisCrashKeepsSavedRecords(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, 0)
	k := key(1)
	for i := range 5 {
		if _, err := s.Save(ctxT(t), testRecord(k, fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	srv.Kill()
	srv.Start()
	got, err := s.Load(ctxT(t), k)
	if err != nil || got.Token.RefreshToken != "rt-4" || got.Generation != 5 {
		t.Fatalf("Load after a crash and restart: %v, %v; want the last save, generation 5", got, err)
	}
	if keys, err := s.List(ctxT(t)); err != nil || len(keys) != 1 {
		t.Fatalf("List after restart: %v, %v", keys, err)
	}
}

func TestCorruptRecord(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, 0)
	k := key(1)
	for name, fields := range map[string][]any{
		"not JSON":  {"gen", "3", "data", `{"refresh_token":"secret-rt"`},
		"other key": {"gen", "3", "data", `{"schema":1,"record":{"key":{"issuer":"x","client_id":"y"},"token":{"access_token":"secret-at"}}}`},
		"schema 2":  {"gen", "3", "data", `{"schema":2,"record":{}}`},
		"no gen":    {"data", `{"schema":1,"record":{}}`},
		"bad gen":   {"gen", "x", "data", `{"schema":1,"record":{}}`},
		"no record": {"gen", "1", "data", `{"schema":1}`},
	} {
		if err := s.c.HSet(ctxT(t), s.recKey(k.ID()), fields...).Err(); err != nil {
			t.Fatal(err)
		}
		_, err := s.Load(ctxT(t), k)
		if !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: Load: %v; want ErrCorrupt", name, err)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error quotes the record: %v", name, err)
		}
		s.c.Del(ctxT(t), s.recKey(k.ID()))
	}
}

func TestNew(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", Password: "hunter2"})
	defer c.Close()
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New with a nil client succeeded")
	}
	if _, err := New(c, Options{LockTTL: time.Millisecond}); err == nil {
		t.Error("New with a 1 ms lease succeeded")
	}
	s, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.prefix != DefaultPrefix || s.ttl != DefaultLockTTL {
		t.Errorf("zero Options: prefix %q, lease %v; want %q, %v", s.prefix, s.ttl, DefaultPrefix, DefaultLockTTL)
	}
	if d := s.Describe(); !strings.Contains(d, "127.0.0.1:1") || strings.Contains(d, "hunter2") {
		t.Errorf("Describe: %q; want the address and no password", d)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cc.Close()
	if _, err := New(cc, Options{Prefix: "authloop:"}); err == nil {
		t.Error("New with a cluster client and a prefix without a hash tag succeeded")
	}
	if _, err := New(cc, Options{}); err != nil {
		t.Errorf("New with a cluster client and the default prefix: %v", err)
	}
}

// Two stores on two clients (two machines' connection pools) with one
// prefix share records, generations and locks.
func TestStoresOnTwoClientsShareRecordsAndLocks(t *testing.T) {
	srv := redistest.Start(t)
	a, err := New(srv.Client(), Options{Prefix: "{shared}:"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(srv.Client(), Options{Prefix: "{shared}:"})
	if err != nil {
		t.Fatal(err)
	}
	k := key(1)
	if g, err := a.Save(ctxT(t), testRecord(k, "a")); err != nil || g != 1 {
		t.Fatal(g, err)
	}
	if g, err := b.Save(ctxT(t), testRecord(k, "b")); err != nil || g != 2 {
		t.Fatalf("second machine's save: %d, %v; want generation 2", g, err)
	}
	if got, err := a.Load(ctxT(t), k); err != nil || got.Token.AccessToken != "at-b" {
		t.Fatalf("first machine loads %v, %v; want the second's record", got, err)
	}
	unlock, err := a.Lock(ctxT(t), k, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctxT(t), 50*time.Millisecond)
	defer cancel()
	if u, err := b.Lock(short, k, "refresh"); !errors.Is(err, store.ErrLockTimeout) {
		if err == nil {
			u()
		}
		t.Fatalf("second machine's Lock while the first holds it: %v; want ErrLockTimeout", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	u, err := b.Lock(ctxT(t), k, "refresh")
	if err != nil {
		t.Fatalf("second machine's Lock after the first's unlock: %v", err)
	}
	if err := u(); err != nil {
		t.Fatal(err)
	}
}

// waitLockGone waits until the lock is no longer in Redis (its lease ran
// out).
func waitLockGone(t *testing.T, s *Store, k store.Key, name string) {
	t.Helper()
	for {
		n, err := s.c.Exists(ctxT(t), s.lockKey(k, name)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		select {
		case <-ctxT(t).Done():
			t.Fatal("the lock of a stalled holder stayed in Redis")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A stalled holder whose lease ran out while no one else took the lock
// still saves what it got meanwhile (a rotated refresh token is not lost);
// once another holder has saved, it no longer can.
func TestLapsedLeaseSavesUntilAnotherHolderSaves(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, time.Second)
	k := key(1)
	if _, err := s.Save(ctxT(t), testRecord(k, "before")); err != nil {
		t.Fatal(err)
	}
	held, unlock, err := s.LockLease(ctxT(t), k, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	stall(t, held)
	waitLockGone(t, s, k, "refresh")
	if g, err := s.Save(held, testRecord(k, "late")); err != nil || g != 2 {
		t.Fatalf("Save of a holder whose lease ran out, no one else having taken the lock: %d, %v; want generation 2", g, err)
	}
	if g, err := s.Save(held, testRecord(k, "later")); err != nil || g != 3 {
		t.Fatalf("second such Save: %d, %v; want generation 3", g, err)
	}
	other, err := s.Lock(ctxT(t), k, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctxT(t), testRecord(k, "other")); err != nil {
		t.Fatal(err)
	}
	if err := other(); err != nil {
		t.Fatal(err)
	}
	// The lock is free again, but the record changed under another holder.
	if _, err := s.Save(held, testRecord(k, "stale")); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Save of the stale holder after another holder saved: %v; want ErrLeaseLost", err)
	}
	if got, err := s.Load(ctxT(t), k); err != nil || got.Token.AccessToken != "at-other" {
		t.Fatalf("Load: %v, %v; want the other holder's record", got, err)
	}
	if err := unlock(); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("unlock of a lapsed lease: %v; want ErrLeaseLost", err)
	}
}

// After held ended with ErrLeaseLost, a Save with held is refused at once,
// and a Save with context.WithoutCancel(held) keeps the lease: the script
// decides, and lets it through when no one else took over.
func TestSaveWithoutCancelOfALostLeaseIsFencedByTheScript(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, time.Second)
	k := key(1)
	if _, err := s.Save(ctxT(t), testRecord(k, "before")); err != nil {
		t.Fatal(err)
	}
	held, unlock, err := s.LockLease(ctxT(t), k, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.c.Del(ctxT(t), s.lockKey(k, "refresh")).Err(); err != nil {
		t.Fatal(err)
	}
	<-held.Done()
	if context.Cause(held) != store.ErrLeaseLost {
		t.Fatalf("held ended with %v; want ErrLeaseLost", context.Cause(held))
	}
	if _, err := s.Save(held, testRecord(k, "x")); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Save with an ended held: %v; want ErrLeaseLost", err)
	}
	detached, cancel := context.WithTimeout(context.WithoutCancel(held), time.Minute)
	defer cancel()
	if g, err := s.Save(detached, testRecord(k, "y")); err != nil || g != 2 {
		t.Fatalf("Save with WithoutCancel(held), no one else having taken over: %d, %v", g, err)
	}
	other, err := s.Lock(ctxT(t), k, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	defer other()
	if _, err := s.Save(detached, testRecord(k, "z")); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Save with WithoutCancel(held) while another holds the lock: %v; want ErrLeaseLost", err)
	}
	_ = unlock()
}

// A holder that took the lock on no record, and whose lease then lapsed,
// cannot save with WithoutCancel(held) even though no one took over: it
// cannot tell "nothing happened" from "a record was written and deleted
// meanwhile" (a sign-in and a logout), and a save would bring a logged-out
// session back. The Session keeps its token and saves it under a new
// lease.
func TestLapsedLeaseOnNoRecordDoesNotSave(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, time.Second)
	k := key(1)
	held, unlock, err := s.LockLease(ctxT(t), k, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := s.c.Del(ctxT(t), s.lockKey(k, "refresh")).Err(); err != nil {
		t.Fatal(err)
	}
	<-held.Done()
	detached, cancel := context.WithTimeout(context.WithoutCancel(held), time.Minute)
	defer cancel()
	if _, err := s.Save(detached, testRecord(k, "y")); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Save with WithoutCancel(held) of a lapsed lease taken on no record: %v; want ErrLeaseLost", err)
	}
	if _, err := s.Load(ctxT(t), k); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a record was written: %v", err)
	}
}
