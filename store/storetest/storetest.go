// Package storetest checks that a store.Store keeps the promises of the
// interface, in the spirit of testing/fstest: call TestStore from a test
// of your implementation.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authloop/authloop/store"
)

// TestStore runs the conformance suite as subtests of t. newStore must
// return a new, empty store each time it is called (it is called once per
// subtest) and may register its cleanup with t.Cleanup.
//
// The subtests check: a round trip of every field; ErrNotFound for a
// missing key; Delete; List; generations 1, 2, 3... per key; concurrent
// savers getting distinct generations with one whole record stored last;
// lock exclusion; lock timeouts wrapping ErrLockTimeout and the context's
// error; independent lock names; a harmless second unlock; Save and Load
// while holding a lock; and that loaded and saved records are copies.
//
// For a store that implements store.LeaseLocker, the subtest LeaseLocker
// also checks its promises: a lease excludes Lock holders, a save with the
// held context after the lease passed to another holder is refused with
// store.ErrLeaseLost and the other's record stands, held ends with cause
// ErrLeaseLost when the lease is lost, and store.LeaseHeld answers. To
// make a lease pass, the store given must also implement LeaseExpirer
// (a wrapper of the store under test will do); TestStore fails for a
// LeaseLocker that does not.
func TestStore(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"RoundTripMinimal", testRoundTripMinimal},
		{"MissingKey", testMissingKey},
		{"Delete", testDelete},
		{"List", testList},
		{"Generations", testGenerations},
		{"ConcurrentSavers", testConcurrentSavers},
		{"LockExclusion", testLockExclusion},
		{"LockTimeout", testLockTimeout},
		{"LockNamesIndependent", testLockNamesIndependent},
		{"UnlockTwice", testUnlockTwice},
		{"SaveLoadWhileLocked", testSaveLoadWhileLocked},
		{"RecordsAreCopies", testRecordsAreCopies},
		{"Describe", testDescribe},
		{"LeaseLocker", testLeaseLocker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			tt.fn(t, s)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// testKey returns a distinct key for each n, with every field set.
func testKey(n int) store.Key {
	return store.Key{
		Issuer:   fmt.Sprintf("https://auth%d.example.com", n),
		ClientID: fmt.Sprintf("client-%d", n),
		Resource: "https://api.example.com/mcp",
		Account:  fmt.Sprintf("user%d@example.com", n),
	}
}

// fullRecord returns a record with every field set, times in UTC with no
// monotonic reading.
func fullRecord(key store.Key, tag string) *store.Record {
	at := time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)
	return &store.Record{
		Key: key,
		Token: &store.Token{
			AccessToken:   "at-" + tag,
			TokenType:     "Bearer",
			RefreshToken:  "rt-" + tag,
			Expiry:        at.Add(time.Hour),
			ExpiresIn:     3600,
			RefreshExpiry: at.Add(30 * 24 * time.Hour),
			Extra: map[string]any{
				"scope":    "openid offline_access",
				"id_token": "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjMifQ." + tag,
				"number":   42.5,
				"flag":     true,
				"nested":   map[string]any{"a": []any{"x", 1.0, nil}},
				"tag":      tag,
			},
		},
		Client: &store.Client{
			Issuer:                  key.Issuer,
			ClientID:                key.ClientID,
			ClientSecret:            "cs-" + tag,
			ClientSecretExpiresAt:   at.Add(365 * 24 * time.Hour),
			RegistrationAccessToken: "rat-" + tag,
			RegistrationClientURI:   key.Issuer + "/register/" + key.ClientID,
			Metadata:                json.RawMessage(`{"client_name":"authloop test","redirect_uris":["http://127.0.0.1/cb"]}`),
		},
		Metadata:  json.RawMessage(`{"issuer":"` + key.Issuer + `","tag":"` + tag + `"}`),
		NotBefore: at.Add(2 * time.Minute),
		DPoPKey:   []byte("dpop-key-\x00\xff-" + tag),
	}
}

// equalRecords reports whether a and b hold the same content, comparing
// times as instants.
func equalRecords(a, b *store.Record) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

func normalize(r *store.Record) *store.Record {
	if r == nil {
		return nil
	}
	c := r.Clone()
	c.Updated = c.Updated.UTC()
	c.NotBefore = c.NotBefore.UTC()
	if c.Token != nil {
		c.Token.Expiry = c.Token.Expiry.UTC()
		c.Token.RefreshExpiry = c.Token.RefreshExpiry.UTC()
	}
	if c.Client != nil {
		c.Client.ClientSecretExpiresAt = c.Client.ClientSecretExpiresAt.UTC()
	}
	return c
}

// dump shows a record in full, for a failure message of this suite's
// fake secrets.
func dump(r *store.Record) string {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func mustSave(t *testing.T, s store.Store, rec *store.Record) uint64 {
	t.Helper()
	g, err := s.Save(ctx(t), rec)
	if err != nil {
		t.Fatalf("Save(%s): %v", rec.Key, err)
	}
	return g
}

func mustLoad(t *testing.T, s store.Store, key store.Key) *store.Record {
	t.Helper()
	r, err := s.Load(ctx(t), key)
	if err != nil {
		t.Fatalf("Load(%s): %v", key, err)
	}
	return r
}

func testRoundTrip(t *testing.T, s store.Store) {
	key := testKey(1)
	rec := fullRecord(key, "one")
	before := time.Now()
	g := mustSave(t, s, rec)
	if g != 1 || rec.Generation != 1 {
		t.Fatalf("first Save: generation %d, rec.Generation %d; want 1, 1", g, rec.Generation)
	}
	if rec.Updated.Before(before.Add(-time.Second)) || rec.Updated.After(time.Now().Add(time.Second)) {
		t.Errorf("Save set Updated to %v, not about now (%v)", rec.Updated, before)
	}
	got := mustLoad(t, s, key)
	if !equalRecords(got, rec) {
		t.Fatalf("Load after Save:\n got %s\nwant %s", dump(got), dump(rec))
	}
	if !got.Updated.Equal(rec.Updated) {
		t.Errorf("Updated: loaded %v, Save set %v", got.Updated, rec.Updated)
	}
}

func testRoundTripMinimal(t *testing.T, s store.Store) {
	key := store.Key{Issuer: "https://minimal.example.com", ClientID: "c"}
	for _, rec := range []*store.Record{
		{Key: key},
		{Key: key, Token: &store.Token{AccessToken: "only-access"}},
		{Key: key, Token: &store.Token{AccessToken: "a", RefreshToken: "r", Extra: map[string]any{"scope": "x"}}},
		{Key: key, Client: &store.Client{Issuer: key.Issuer, ClientID: "c", ClientSecret: "s"}},
		{Key: key, Metadata: json.RawMessage(`{"token_endpoint":"https://minimal.example.com/token"}`)},
	} {
		mustSave(t, s, rec)
		got := mustLoad(t, s, key)
		if !equalRecords(got, rec) {
			t.Fatalf("Load after Save:\n got %s\nwant %s", dump(got), dump(rec))
		}
	}
}

func testMissingKey(t *testing.T, s store.Store) {
	key := testKey(2)
	r, err := s.Load(ctx(t), key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load of a missing key: %v, %v; want an error wrapping ErrNotFound", r, err)
	}
	if r != nil {
		t.Errorf("Load of a missing key returned a record %v", r)
	}
	if err := s.Delete(ctx(t), key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete of a missing key: %v; want an error wrapping ErrNotFound", err)
	}
	mustSave(t, s, fullRecord(testKey(3), "other"))
	if _, err := s.Load(ctx(t), key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load of a missing key beside another: %v; want ErrNotFound", err)
	}
	// Keys that differ in one field are different keys.
	k := testKey(3)
	for _, other := range []store.Key{
		{Issuer: k.Issuer + "/", ClientID: k.ClientID, Resource: k.Resource, Account: k.Account},
		{Issuer: k.Issuer, ClientID: k.ClientID + "x", Resource: k.Resource, Account: k.Account},
		{Issuer: k.Issuer, ClientID: k.ClientID, Resource: "", Account: k.Account},
		{Issuer: k.Issuer, ClientID: k.ClientID, Resource: k.Resource, Account: ""},
	} {
		if _, err := s.Load(ctx(t), other); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Load(%s), a key saved by no one: %v; want ErrNotFound", other, err)
		}
	}
}

func testDelete(t *testing.T, s store.Store) {
	a, b := testKey(4), testKey(5)
	mustSave(t, s, fullRecord(a, "a"))
	mustSave(t, s, fullRecord(b, "b"))
	if err := s.Delete(ctx(t), a); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Load(ctx(t), a); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load after Delete: %v; want ErrNotFound", err)
	}
	if got := mustLoad(t, s, b); got.Token.AccessToken != "at-b" {
		t.Errorf("Delete of one key changed another: %s", got)
	}
	if err := s.Delete(ctx(t), a); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete: %v; want ErrNotFound", err)
	}
	// A deleted key can be saved again; its generations start again.
	if g := mustSave(t, s, fullRecord(a, "again")); g != 1 {
		t.Errorf("Save after Delete: generation %d; want 1", g)
	}
	if got := mustLoad(t, s, a); got.Token.AccessToken != "at-again" {
		t.Errorf("Load after Save after Delete: %s", got)
	}
}

func testList(t *testing.T, s store.Store) {
	keys, err := s.List(ctx(t))
	if err != nil || len(keys) != 0 {
		t.Fatalf("List of an empty store: %v, %v", keys, err)
	}
	want := map[store.Key]bool{}
	for i := 10; i < 15; i++ {
		mustSave(t, s, fullRecord(testKey(i), "l"))
		mustSave(t, s, fullRecord(testKey(i), "l2"))
		want[testKey(i)] = true
	}
	if err := s.Delete(ctx(t), testKey(12)); err != nil {
		t.Fatal(err)
	}
	delete(want, testKey(12))
	keys, err = s.List(ctx(t))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(keys) != len(want) {
		t.Fatalf("List: %d keys %v; want %d", len(keys), keys, len(want))
	}
	for i, k := range keys {
		if !want[k] {
			t.Errorf("List returned %s, which was not saved (or was deleted)", k)
		}
		if i > 0 && !less(keys[i-1], k) {
			t.Errorf("List is not sorted, or repeats a key: %s then %s", keys[i-1], k)
		}
	}
}

func less(a, b store.Key) bool {
	x := []string{a.Issuer, a.ClientID, a.Resource, a.Account}
	y := []string{b.Issuer, b.ClientID, b.Resource, b.Account}
	for i := range x {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

func testGenerations(t *testing.T, s store.Store) {
	a, b := testKey(20), testKey(21)
	for i := uint64(1); i <= 3; i++ {
		rec := fullRecord(a, fmt.Sprint(i))
		rec.Generation = 99 // ignored: Save assigns it
		if g := mustSave(t, s, rec); g != i || rec.Generation != i {
			t.Fatalf("Save %d of a key: generation %d, rec.Generation %d; want %d", i, g, rec.Generation, i)
		}
		if got := mustLoad(t, s, a); got.Generation != i {
			t.Fatalf("Load after save %d: generation %d", i, got.Generation)
		}
	}
	if g := mustSave(t, s, fullRecord(b, "b")); g != 1 {
		t.Errorf("first Save of another key: generation %d; want 1 (generations are per key)", g)
	}
	if g := mustSave(t, s, fullRecord(a, "4")); g != 4 {
		t.Errorf("Save after another key's save: generation %d; want 4", g)
	}
}

func testConcurrentSavers(t *testing.T, s store.Store) {
	const writers, saves = 8, 20
	key := testKey(30)
	var wg sync.WaitGroup
	gens := make(chan uint64, writers*saves)
	errs := make(chan error, writers*saves)
	for w := range writers {
		wg.Go(func() {
			for i := range saves {
				tag := fmt.Sprintf("w%d-s%d", w, i)
				rec := fullRecord(key, tag)
				g, err := s.Save(ctx(t), rec)
				if err != nil {
					errs <- err
					return
				}
				if g != rec.Generation {
					errs <- fmt.Errorf("save returned generation %d but set rec.Generation to %d", g, rec.Generation)
				}
				gens <- g
				// Readers meanwhile always see one whole record.
				got, err := s.Load(ctx(t), key)
				if err != nil {
					errs <- fmt.Errorf("load during saves: %w", err)
					return
				}
				if err := whole(got); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(gens)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[uint64]bool{}
	for g := range gens {
		if seen[g] {
			t.Errorf("generation %d was given to two saves", g)
		}
		seen[g] = true
	}
	for g := uint64(1); g <= writers*saves; g++ {
		if !seen[g] {
			t.Errorf("no save got generation %d", g)
		}
	}
	got := mustLoad(t, s, key)
	if got.Generation != writers*saves {
		t.Errorf("final generation %d; want %d", got.Generation, writers*saves)
	}
	if err := whole(got); err != nil {
		t.Error(err)
	}
}

// whole checks that every field of a record written by fullRecord comes
// from the same save.
func whole(r *store.Record) error {
	if r.Token == nil || r.Client == nil {
		return fmt.Errorf("record of generation %d lacks its token or client", r.Generation)
	}
	tag, ok := strings.CutPrefix(r.Token.AccessToken, "at-")
	if !ok {
		return fmt.Errorf("record of generation %d has an access token of no save", r.Generation)
	}
	want := fullRecord(r.Key, tag)
	want.Generation, want.Updated = r.Generation, r.Updated
	if !equalRecords(r, want) {
		return fmt.Errorf("record of generation %d mixes saves:\n got %s\nwant %s", r.Generation, dump(r), dump(want))
	}
	return nil
}

func testLockExclusion(t *testing.T, s store.Store) {
	const goroutines, rounds = 8, 25
	key := testKey(40)
	var holders, max, total atomic.Int32
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range rounds {
				unlock, err := s.Lock(ctx(t), key, "refresh")
				if err != nil {
					t.Error(err)
					return
				}
				n := holders.Add(1)
				if n > max.Load() {
					max.Store(n)
				}
				total.Add(1)
				hold(50 * time.Microsecond)
				holders.Add(-1)
				if err := unlock(); err != nil {
					t.Errorf("unlock: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if m := max.Load(); m != 1 {
		t.Errorf("%d goroutines held the lock at once", m)
	}
	if n := total.Load(); n != goroutines*rounds {
		t.Errorf("the lock was taken %d times; want %d", n, goroutines*rounds)
	}
}

// hold keeps the lock for d while yielding, so that the other goroutines
// run and try to take it meanwhile. (A sleep of 50 µs lasts a millisecond
// or more on a busy machine: 200 of them made the test 0.3 s long.)
func hold(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
		runtime.Gosched()
	}
}

func testLockTimeout(t *testing.T, s store.Store) {
	key := testKey(41)
	unlock, err := s.Lock(ctx(t), key, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	u2, err := s.Lock(short, key, "refresh")
	if err == nil {
		u2()
		t.Fatal("Lock of a held lock succeeded")
	}
	if !errors.Is(err, store.ErrLockTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock until a deadline: %v; want an error wrapping ErrLockTimeout and context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "refresh") || !strings.Contains(err.Error(), key.Issuer) {
		t.Errorf("the error %q does not name the lock and the key", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Lock returned %v after its deadline", d)
	}
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := s.Lock(canceled, key, "refresh"); !errors.Is(err, store.ErrLockTimeout) || !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a canceled context: %v; want ErrLockTimeout and context.Canceled", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	u3, err := s.Lock(ctx(t), key, "refresh")
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	u3()
	// A waiter is woken by the unlock.
	u4, err := s.Lock(ctx(t), key, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(20 * time.Millisecond); u4() }()
	u5, err := s.Lock(ctx(t), key, "refresh")
	if err != nil {
		t.Fatalf("Lock waiting for an unlock: %v", err)
	}
	u5()
}

func testLockNamesIndependent(t *testing.T, s store.Store) {
	a, b := testKey(42), testKey(43)
	r, err := s.Lock(ctx(t), a, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	defer r()
	short := func() context.Context {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.Cleanup(cancel)
		return c
	}
	l, err := s.Lock(short(), a, "login")
	if err != nil {
		t.Fatalf("Lock(login) while refresh is held: %v", err)
	}
	defer l()
	rb, err := s.Lock(short(), b, "refresh")
	if err != nil {
		t.Fatalf("Lock(refresh) of another key: %v", err)
	}
	defer rb()
}

func testUnlockTwice(t *testing.T, s store.Store) {
	key := testKey(44)
	unlock, err := s.Lock(ctx(t), key, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Errorf("second unlock: %v", err)
	}
	// The second unlock must not have released someone else's hold.
	u2, err := s.Lock(ctx(t), key, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	defer u2()
	_ = unlock()
	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if u3, err := s.Lock(short, key, "refresh"); err == nil {
		u3()
		t.Fatal("a stale unlock released a lock taken after it")
	}
}

func testSaveLoadWhileLocked(t *testing.T, s store.Store) {
	key := testKey(45)
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range []string{"refresh", "login"} {
		unlock, err := s.Lock(c, key, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Save(c, fullRecord(key, name)); err != nil {
			t.Fatalf("Save while holding %q: %v", name, err)
		}
		got, err := s.Load(c, key)
		if err != nil {
			t.Fatalf("Load while holding %q: %v", name, err)
		}
		if got.Token.AccessToken != "at-"+name {
			t.Errorf("Load while holding %q: %s", name, got)
		}
		if _, err := s.List(c); err != nil {
			t.Errorf("List while holding %q: %v", name, err)
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
	}
	// Another goroutine's Save is not blocked by the lock either.
	unlock, err := s.Lock(c, key, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	done := make(chan error, 1)
	go func() { _, err := s.Save(c, fullRecord(key, "other")); done <- err }()
	if err := <-done; err != nil {
		t.Fatalf("Save by another goroutine while a lock is held: %v", err)
	}
}

func testRecordsAreCopies(t *testing.T, s store.Store) {
	key := testKey(46)
	rec := fullRecord(key, "orig")
	mustSave(t, s, rec)
	want := rec.Clone()
	// Changing what was saved changes nothing stored.
	rec.Token.AccessToken = "changed"
	rec.Token.Extra["scope"] = "changed"
	rec.Token.Extra["nested"].(map[string]any)["a"].([]any)[0] = "changed"
	rec.Client.ClientSecret = "changed"
	rec.Metadata[2] = 'X'
	got := mustLoad(t, s, key)
	if !equalRecords(got, want) {
		t.Fatalf("a change to the saved record reached the store:\n got %s\nwant %s", dump(got), dump(want))
	}
	// Changing what was loaded changes nothing stored.
	got.Token.RefreshToken = "changed"
	got.Token.Extra["tag"] = "changed"
	got.Token.Extra["nested"].(map[string]any)["a"].([]any)[0] = "changed"
	got.Client.Metadata[2] = 'X'
	got.Metadata[2] = 'X'
	again := mustLoad(t, s, key)
	if !equalRecords(again, want) {
		t.Fatalf("a change to a loaded record reached the store:\n got %s\nwant %s", dump(again), dump(want))
	}
}

func testDescribe(t *testing.T, s store.Store) {
	d := s.Describe()
	if d == "" {
		t.Error("Describe returned nothing")
	}
	if strings.Contains(d, "at-") {
		t.Errorf("Describe mentions a token: %q", d)
	}
}

// LeaseExpirer is implemented by the store that a test of a
// store.LeaseLocker gives TestStore (a wrapper of the store under test will
// do): ExpireLease ends the lease of the lock called name of key at once,
// without telling its holder, as when the holder stalled past its lease.
type LeaseExpirer interface {
	ExpireLease(key store.Key, name string) error
}

func testLeaseLocker(t *testing.T, s store.Store) {
	ll, ok := s.(store.LeaseLocker)
	if !ok {
		return // the store's locks never pass while their holder lives
	}
	exp, ok := s.(LeaseExpirer)
	if !ok {
		t.Fatalf("%T implements store.LeaseLocker but not storetest.LeaseExpirer: give TestStore a store (or a wrapper) that can end a lease, so that fencing is checked", s)
	}
	key := testKey(50)
	if err := store.LeaseHeld(ctx(t), time.Hour); err != nil {
		t.Errorf("LeaseHeld of a context without a lease: %v; want nil", err)
	}

	held, unlock, err := ll.LockLease(ctx(t), key, "refresh")
	if err != nil {
		t.Fatalf("LockLease: %v", err)
	}
	if err := store.LeaseHeld(held, 0); err != nil {
		t.Errorf("LeaseHeld while the lease is held: %v", err)
	}
	if err := store.LeaseHeld(held, 1000*time.Hour); err != nil {
		t.Errorf("LeaseHeld, just after LockLease, with a margin longer than any lease: %v; want nil: a margin longer than a third of the lease counts as a third (store.Lease)", err)
	}
	if g, err := s.Save(held, fullRecord(key, "holder")); err != nil || g != 1 {
		t.Fatalf("Save with the held context while the lease is held: %d, %v", g, err)
	}
	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if u, err := s.Lock(short, key, "refresh"); err == nil {
		u()
		t.Fatal("Lock succeeded while LockLease held the lock")
	}

	// The lease passes: the holder stalled past it, another takes the lock
	// and saves.
	if err := exp.ExpireLease(key, "refresh"); err != nil {
		t.Fatalf("ExpireLease: %v", err)
	}
	other, err := s.Lock(ctx(t), key, "refresh")
	if err != nil {
		t.Fatalf("Lock after the first lease ended: %v", err)
	}
	if _, err := s.Save(ctx(t), fullRecord(key, "other")); err != nil {
		t.Fatalf("Save by the new holder: %v", err)
	}
	// The holder learns it (its renewals fail) and held ends.
	select {
	case <-held.Done():
	case <-ctx(t).Done():
		t.Fatal("held did not end after its lease was lost")
	}
	if c := context.Cause(held); !errors.Is(c, store.ErrLeaseLost) {
		t.Errorf("held ended with cause %v; want ErrLeaseLost", c)
	}
	// The stale holder's save is refused.
	if _, err := s.Save(held, fullRecord(key, "stale")); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Save with the held context of a lease that passed to another holder: %v; want an error wrapping ErrLeaseLost", err)
	}
	derived, cancelDerived := context.WithCancel(held)
	defer cancelDerived()
	if _, err := s.Save(derived, fullRecord(key, "stale2")); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Save with a context derived from the held context of a lost lease: %v; want an error wrapping ErrLeaseLost", err)
	}
	if got := mustLoad(t, s, key); got.Token.AccessToken != "at-other" || got.Generation != 2 {
		t.Errorf("after the stale holder's saves, Load gives %s; want the new holder's record, generation 2", got)
	}
	if err := store.LeaseHeld(held, 0); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("LeaseHeld of a lost lease: %v; want an error wrapping ErrLeaseLost", err)
	}
	if err := unlock(); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("unlock of a lost lease: %v; want an error wrapping ErrLeaseLost", err)
	}
	// The stale unlock left the new holder's lock alone.
	short2, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	if u, err := s.Lock(short2, key, "refresh"); err == nil {
		u()
		t.Error("the stale holder's unlock released the new holder's lock")
	}
	if err := other(); err != nil {
		t.Errorf("the new holder's unlock: %v", err)
	}

	// After unlock, held ends and no longer fences a save in.
	held2, unlock2, err := ll.LockLease(ctx(t), key, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock2(); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if held2.Err() == nil {
		t.Error("held did not end at unlock")
	}
	if err := store.LeaseHeld(held2, 0); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("LeaseHeld after unlock: %v; want an error wrapping ErrLeaseLost", err)
	}
	if _, err := s.Save(held2, fullRecord(key, "late")); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Save with the held context after unlock: %v; want an error wrapping ErrLeaseLost", err)
	}
	if got := mustLoad(t, s, key); got.Token.AccessToken != "at-other" {
		t.Errorf("a refused save changed the record: %s", got)
	}
}
