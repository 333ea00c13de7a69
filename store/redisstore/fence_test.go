package redisstore

// Adversarial tests of issue 16's leases and fencing (wt-adv16). Each
// test states a promise of store.LeaseLocker or docs/SCALING.md and shows
// a way to break it.

import (
	"io"
	"net"
	"sync"
	"sync/atomic"

	"context"
	"errors"
	"github.com/redis/go-redis/v9"
	"testing"
	"time"

	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore/redistest"
)

// A stale holder's fenced Save must be refused when "the lock is free but
// the record changed (a save or delete not made with held) since this
// holder took the lock" (store.LeaseLocker; docs/SCALING.md: "A stale
// holder never overwrites a newer record ... Always"). The script compares
// only the record's generation, and a generation restarts at 1 when a
// record is deleted and saved again (HINCRBY on a new hash): a record
// deleted (a Logout) and signed in again, or deleted after the stale
// holder took the lock on no record, has the generation the stale holder
// knew, and the stale tokens are written over the new sign-in, or
// resurrect the logged-out session.
func TestStaleSaveRefusedAfterRecordDeletedAndRecreated(t *testing.T) {
	srv := redistest.Start(t)
	for _, tc := range []struct {
		name     string
		existing bool // a record exists when the stale holder takes the lock
		recreate bool // after the Delete, the record is saved again (a new sign-in)
	}{
		{"deleted and signed in again", true, true},
		{"created and deleted (logged out)", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, srv, time.Second)
			k := key(1)
			if tc.existing {
				if _, err := s.Save(ctxT(t), testRecord(k, "old")); err != nil {
					t.Fatal(err)
				}
			}
			held, unlock, err := s.LockLease(ctxT(t), k, "refresh")
			if err != nil {
				t.Fatal(err)
			}
			defer unlock()
			stall(t, held) // its lease runs out in Redis

			// Another process takes the lock when the lease ends, and
			// logs out (saving first when there was no record, as a
			// refresh or login of its own would).
			other, err := s.Lock(ctxT(t), k, "refresh")
			if err != nil {
				t.Fatal(err)
			}
			if !tc.existing {
				if _, err := s.Save(ctxT(t), testRecord(k, "other")); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Delete(ctxT(t), k); err != nil {
				t.Fatal(err)
			}
			if err := other(); err != nil {
				t.Fatal(err)
			}
			if tc.recreate {
				// A new sign-in (its own save, the lock free).
				if _, err := s.Save(ctxT(t), testRecord(k, "new-login")); err != nil {
					t.Fatal(err)
				}
			}
			if err := store.LeaseHeld(held, 0); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("LeaseHeld of the stalled holder: %v; want ErrLeaseLost", err)
			}

			// The stale holder resumes and saves what it got, as
			// refreshLocked does (context.WithoutCancel(held)).
			saveCtx, cancel := context.WithTimeout(context.WithoutCancel(held), 10*time.Second)
			defer cancel()
			_, err = s.Save(saveCtx, testRecord(k, "stale"))
			got, lerr := s.Load(ctxT(t), k)
			if !errors.Is(err, store.ErrLeaseLost) {
				t.Errorf("the stale holder's save after the record was deleted%s: %v; want it refused with ErrLeaseLost (the record changed since the holder took the lock)",
					map[bool]string{true: " and saved again", false: ""}[tc.recreate], err)
			}
			switch {
			case tc.recreate && (lerr != nil || got.Token.AccessToken != "at-new-login"):
				t.Errorf("the record after the stale save: %+v, %v; want the new sign-in's tokens (at-new-login)", tokenOf(got), lerr)
			case !tc.recreate && !errors.Is(lerr, store.ErrNotFound):
				t.Errorf("the record after the stale save: %+v, %v; want none: the session was logged out, and a stale holder brought it back", tokenOf(got), lerr)
			}
		})
	}
}

func tokenOf(r *store.Record) *store.Token {
	if r == nil {
		return nil
	}
	return r.Token
}

// A LockLease whose context ends while its SET is on the way to a slow
// Redis returns ErrLockTimeout, and the caller, holding nothing, has
// nothing to unlock; but Redis applies the SET when it gets to it, and the
// lock stays taken by an owner no one is, for a whole lease (15 s by
// default), though LockLease knew the owner value it sent and could have
// released it. Every other process's refresh (and login, and logout) waits
// that long; a Ctrl-C of a command waiting on a slow Redis does it.
func TestCanceledLockLeaseLeavesNoOrphanLock(t *testing.T) {
	srv := redistest.Start(t)
	const ttl = 30 * time.Second
	s := newStore(t, srv, ttl)
	k := key(1)
	// Once taken and released, so that Redis knows the script (EVALSHA).
	_, unlock0, err := s.LockLease(ctxT(t), k, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock0(); err != nil {
		t.Fatal(err)
	}
	srv.Pause() // Redis hangs: the SET waits in its socket
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, _, err = s.LockLease(ctx, k, "refresh")
	cancel()
	srv.Resume()
	if err == nil {
		t.Fatal("LockLease on a paused Redis succeeded")
	}
	if !errors.Is(err, store.ErrLockTimeout) {
		t.Logf("LockLease: %v", err)
	}
	// Redis, resumed, applies what it had received; a PING on another
	// connection comes after it.
	if err := srv.Client().Ping(ctxT(t)).Err(); err != nil {
		t.Fatal(err)
	}
	owner, gerr := s.c.Get(ctxT(t), s.lockKey(k, "refresh")).Result()
	pttl, _ := s.c.PTTL(ctxT(t), s.lockKey(k, "refresh")).Result()
	if gerr == nil {
		t.Errorf("after LockLease gave up (%v), the lock is held in Redis by owner %q for %v more, though no one holds it: every other holder waits out the lease", err, owner, pttl.Round(time.Second))
	}
	// What the others see: a LockLease that cannot take the free lock.
	wctx, wcancel := context.WithTimeout(ctxT(t), 2*time.Second)
	defer wcancel()
	_, unlock, lerr := s.LockLease(wctx, k, "refresh")
	if lerr != nil {
		t.Errorf("another holder's LockLease on the lock no one holds: %v", lerr)
	} else {
		_ = unlock()
	}
}

// dropProxy forwards TCP connections to a Redis server; when armed, it
// drops the next reply Redis sends (closing that connection), as a
// network that fails after the request went through does.
type dropProxy struct {
	ln     net.Listener
	target string
	drop   atomic.Int32
}

func newDropProxy(t *testing.T, target string) *dropProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln, target: target}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
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
			go func() { defer wg.Done(); _, _ = io.Copy(r, c); r.Close() }()
			go func() {
				defer wg.Done()
				defer c.Close()
				defer r.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := r.Read(buf)
					if err != nil {
						return
					}
					if p.drop.Load() > 0 && p.drop.Add(-1) >= 0 {
						return // the reply is lost
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	return p
}

// The reply to the lock script is lost on the way back (a connection
// reset after Redis applied the SET). The go-redis client retries the
// command, as it does on a network error (MaxRetries), and the retried
// SET NX finds the lock taken, by this very holder's owner value: the
// lock script does not recognize its own owner, so LockLease polls, and
// waits out its own lease (LockTTL, 15 s by default) before it can take a
// lock that no one else ever held; with a shorter context it gives up,
// saying another process holds it, and leaves the lock taken meanwhile.
func TestLockLeaseTakesTheLockWhenItsReplyIsLost(t *testing.T) {
	srv := redistest.Start(t)
	p := newDropProxy(t, srv.Addr())
	o := srv.Options()
	o.Addr = p.ln.Addr().String()
	o.PoolSize = 1
	c := redis.NewClient(o)
	defer c.Close()
	const ttl = 30 * time.Second
	s, err := New(c, Options{Prefix: "{drop}:", LockTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	k := key(1)
	// Warm: the connection is made and the script known to Redis.
	_, unlock0, err := s.LockLease(ctxT(t), k, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock0(); err != nil {
		t.Fatal(err)
	}
	p.drop.Store(1)
	ctx, cancel := context.WithTimeout(ctxT(t), 3*time.Second)
	defer cancel()
	_, unlock, err := s.LockLease(ctx, k, "refresh")
	if err != nil {
		owner, _ := srv.Client().Get(ctxT(t), s.lockKey(k, "refresh")).Result()
		t.Fatalf("LockLease of a free lock whose first reply was lost: %v\n(the lock is held in Redis by owner %q: the one this LockLease sent, which it could not recognize)", err, owner)
	}
	_ = unlock()
}
