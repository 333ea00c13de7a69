// Package redisstore is an authloop store.Store kept in Redis, so that
// processes on many machines (the replicas of a gateway, a fleet of
// workers) share one sign-in and refresh it once per expiry.
//
// It is a Go module of its own, so that the Redis client enters the module
// graph of the programs that use this store only.
//
// # Key layout
//
// Every key starts with Options.Prefix (by default "{authloop}:"); id is
// the record key's store.Key.ID() (32 hex digits, stable across processes
// and versions):
//
//	<prefix>rec:<id>          hash: "gen" the generation, "stamp" a random
//	                          value new at each write, "data" the record
//	                          as {"schema":1,"record":{...}} (JSON), or with
//	                          Options.SecretKey {"schema":1,"sealed":"..."}
//	<prefix>keys              hash: <id> -> the store.Key as JSON, for List
//	<prefix>lock:<id>:<name>  string: the random owner of the lock, with the
//	                          lease's expiry (PX)
//
// A record whose envelope has a newer schema than this version reads (a
// fleet in the middle of an upgrade) fails to load with an error wrapping
// ErrNewerSchema and store.ErrCorrupt, which says to upgrade; callers
// should leave it in place, since the newer versions read it.
//
// Save and Delete change the record and the index in one Lua script, so a
// deleted record leaves nothing behind, and a lock leaves nothing once it is
// released or its lease ends. In a Redis Cluster every key of a store must
// be in one hash slot (the scripts touch several): the prefix must hold a
// hash tag, as the default does.
//
// # Locks are leases
//
// Lock and LockLease take a lock with SET NX PX and a random owner, renew
// it every LockTTL/3 while it is held (a script that extends it only if the
// owner is still this holder), and release it with a script that deletes
// it only if the owner is still this holder. A holder that dies frees the
// lock when its lease ends, at most LockTTL later. A holder that stalls
// for longer than its lease (SIGSTOP, a long pause, cut off from Redis)
// loses the lock; Store implements store.LeaseLocker so that it can tell
// (store.LeaseHeld) and so that its Save is refused (fenced) when another
// holder has the lock, or has saved the record since (the save script
// compares the lock's owner and the record's stamp, random per write).
//
// # Durability and availability
//
// A Save returns once Redis has applied it; whether it survives a Redis
// restart is Redis's persistence: with appendonly yes and appendfsync
// always, a saved record survives a restart and a crash of the machine;
// with appendfsync everysec (Redis's default for AOF), a crash of the
// machine (not of Redis alone) may lose the last second of saves; with
// persistence off, a restart loses every record, and every session must
// sign in again. Locks are leases and need no persistence. Set
// maxmemory-policy to noeviction (Redis's default): an eviction policy
// may drop records (allkeys-*) or locks before their lease ends
// (volatile-*). Use a primary,
// not a replica that may be promoted (replication is asynchronous: a
// failover may lose the last saves and hand a held lock out again).
//
// When Redis cannot be reached, every method fails, without waiting for
// the whole context when the connection is refused, with an error wrapping
// store.ErrUnavailable that says so; nothing is done without the lock. How
// long a method waits for an unresponsive Redis is the client's timeouts
// (redis.Options DialTimeout, ReadTimeout, MaxRetries), or the context's
// deadline when the client's ContextTimeoutEnabled is set, as it should be.
//
// No error or Describe of this package holds a token or a secret. Redis
// holds the records, tokens included, in clear unless Options.SecretKey
// seals them: restrict who may read it all the same (ACL, TLS with
// rediss://, no public network), since whoever can write it can delete
// records or hold locks.
package redisstore

import (
	"cmp"
	"context"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authloop/authloop/store"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the prefix of every key when Options.Prefix is empty.
// Its hash tag, {authloop}, keeps every key in one Redis Cluster slot.
const DefaultPrefix = "{authloop}:"

// DefaultLockTTL is the lease of a lock when Options.LockTTL is zero.
const DefaultLockTTL = 15 * time.Second

// MinLockTTL is the shortest lease New accepts: renewals every LockTTL/3
// need a few round trips to Redis to fit in it.
const MinLockTTL = 100 * time.Millisecond

// Options configures a Store. The zero value is ready for use.
type Options struct {
	// Prefix starts the name of every key of the store (see the package
	// doc's key layout), so that several stores, or other data, can share
	// one Redis database. Empty means DefaultPrefix. With a
	// *redis.ClusterClient it must hold a hash tag ("{...}").
	Prefix string

	// LockTTL is the lease of a lock: how long a lock of a holder that
	// died, or that stalled without renewing, stays taken. Its holder
	// renews it every LockTTL/3. Zero means DefaultLockTTL; less than
	// MinLockTTL is refused. Longer leases survive longer stalls (of the
	// holder or of Redis) without a change of holder; shorter ones free a
	// dead holder's lock sooner.
	LockTTL time.Duration

	// SecretKey, when set, seals each record (its tokens, the client's
	// secrets, everything but the key it is filed under) with AES-GCM
	// before it reaches Redis, so that a copy of Redis's data (an RDB or
	// AOF file, a backup, a replica) holds no usable token without the
	// key. It must be 16, 24 or 32 bytes (AES-128, -192, -256; 32 is the
	// one to use): see ParseSecretKey, SecretKeyFromFile and
	// SecretKeyFromEnv. Every process sharing the records needs the same
	// key. A record sealed with another key fails to load with
	// ErrWrongSecretKey; a record saved before the key was set is read,
	// and sealed at its next save (unless RequireSealed). Nil stores
	// records in clear.
	SecretKey []byte

	// RequireSealed, with SecretKey, refuses a record stored in clear:
	// Load fails with an error wrapping ErrNotSealed, and the record is
	// neither returned nor sealed, so a session never adopts it. Set it
	// once every record of the store is sealed (a program that sealed its
	// records from the first save): a record in clear is then one that
	// whoever may write to Redis, without the key, put there (their own
	// tokens, for the program to use). Saving over it (a new sign-in)
	// replaces it. New refuses RequireSealed without a SecretKey.
	RequireSealed bool
}

// Store is a store.Store and store.LeaseLocker kept in Redis. It is safe
// for concurrent use by many goroutines, and by many processes on many
// machines sharing one Redis. The zero value is not ready for use; call
// New.
type Store struct {
	c      redis.UniversalClient
	aead   cipher.AEAD // nil: records in clear (Options.SecretKey)
	sealed bool        // Options.RequireSealed
	prefix string
	ttl    time.Duration
	where  string // for messages: the address, without any credential
}

var (
	_ store.Store       = (*Store)(nil)
	_ store.LeaseLocker = (*Store)(nil)
)

// New returns a store kept in the Redis that client reaches: a
// *redis.Client (one server, or Sentinel through redis.NewFailoverClient)
// or a *redis.ClusterClient. It does not contact Redis, so it succeeds
// while Redis is down; the methods fail until it is up. The client stays
// the caller's to close, after the last use of the store.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: New with a nil client; pass a redis.NewClient or redis.NewUniversalClient")
	}
	s := &Store{c: client, prefix: cmp.Or(opts.Prefix, DefaultPrefix), ttl: cmp.Or(opts.LockTTL, DefaultLockTTL)}
	if s.ttl < MinLockTTL {
		return nil, fmt.Errorf("redisstore: Options.LockTTL %v is shorter than the minimum, %v", s.ttl, MinLockTTL)
	}
	if _, ok := client.(*redis.ClusterClient); ok && !hasHashTag(s.prefix) {
		return nil, fmt.Errorf("redisstore: Options.Prefix %q has no hash tag, so a Redis Cluster would spread one record's keys over several slots; use a prefix such as %q", s.prefix, DefaultPrefix)
	}
	if opts.RequireSealed && opts.SecretKey == nil {
		return nil, errors.New("redisstore: Options.RequireSealed without an Options.SecretKey: records can be required sealed only by a store that seals them")
	}
	s.sealed = opts.RequireSealed
	if opts.SecretKey != nil {
		aead, err := newAEAD(opts.SecretKey)
		if err != nil {
			return nil, err
		}
		s.aead = aead
	}
	switch c := client.(type) {
	case *redis.Client:
		s.where = c.Options().Addr
	case *redis.ClusterClient:
		s.where = "cluster " + strings.Join(c.Options().Addrs, ",")
	default:
		s.where = fmt.Sprintf("%T", client)
	}
	return s, nil
}

// hasHashTag reports whether a key starting with prefix hashes by a
// non-empty {...} within prefix, as Redis Cluster computes a key's slot.
func hasHashTag(prefix string) bool {
	i := strings.IndexByte(prefix, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(prefix[i+1:], '}')
	return j > 0
}

// Describe says "Redis store at <address> (keys under <prefix>)".
func (s *Store) Describe() string {
	return fmt.Sprintf("Redis store at %s (keys under %q)", s.where, s.prefix)
}

func (s *Store) recKey(id string) string { return s.prefix + "rec:" + id }
func (s *Store) indexKey() string        { return s.prefix + "keys" }
func (s *Store) lockKey(key store.Key, name string) string {
	return s.prefix + "lock:" + key.ID() + ":" + name
}

// schemaVersion is the version of the stored record's envelope; another
// version is refused as corrupt rather than half understood.
const schemaVersion = 1

// ErrNewerSchema is wrapped, beside store.ErrCorrupt, by the error of a
// Load whose record was written in a newer schema than this version
// reads: by a newer version of authloop sharing the store (a fleet in the
// middle of an upgrade). The record is sound for the newer versions, so it
// must not be deleted or overwritten as a corrupt one would be: upgrade
// this program instead. A record that no version can read (not JSON, an
// older or no schema, fields missing) wraps store.ErrCorrupt only.
var ErrNewerSchema = errors.New("redisstore: the record was written by a newer version of authloop")

// newerSchemaError reports a record of schema version v, newer than
// schemaVersion; it wraps ErrNewerSchema.
type newerSchemaError struct{ v int }

func (e newerSchemaError) Error() string {
	return fmt.Sprintf("its schema is version %d, and this version of authloop reads only version %d (a newer authloop wrote it)", e.v, schemaVersion)
}

func (e newerSchemaError) Unwrap() error { return ErrNewerSchema }

type envelope struct {
	Schema int           `json:"schema"`
	Record *store.Record `json:"record,omitempty"`
	// Sealed, instead of Record, is the record sealed with
	// Options.SecretKey (seal.go).
	Sealed []byte `json:"sealed,omitempty"`
}

// Load returns a copy of the record of key, or an error wrapping
// store.ErrNotFound, store.ErrCorrupt (a value that is not a record of
// key; also ErrNewerSchema when a newer version wrote it),
// store.ErrUnavailable, ErrWrongSecretKey, ErrNoSecretKey or ErrNotSealed
// (Options.RequireSealed).
func (s *Store) Load(ctx context.Context, key store.Key) (*store.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	vals, err := s.c.HMGet(ctx, s.recKey(key.ID()), "gen", "data").Result()
	if err != nil {
		return nil, s.fail(ctx, "load "+key.String(), err)
	}
	if vals[0] == nil && vals[1] == nil {
		return nil, fmt.Errorf("%w: %s in the %s", store.ErrNotFound, key, s.Describe())
	}
	rec, err := s.decode(key, vals[0], vals[1])
	if errors.Is(err, ErrWrongSecretKey) || errors.Is(err, ErrNoSecretKey) || errors.Is(err, ErrNotSealed) {
		return nil, fmt.Errorf("redisstore: load %s (Redis key %s): %w", key, s.recKey(key.ID()), err)
	}
	if nse := (newerSchemaError{}); errors.As(err, &nse) {
		// Not "delete it": the newer versions sharing the store read it.
		return nil, fmt.Errorf("redisstore: load %s: %w: %w: Redis key %s: %v; upgrade authloop here to read it, and leave the record in place",
			key, ErrNewerSchema, store.ErrCorrupt, s.recKey(key.ID()), nse)
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: load %s: %w: Redis key %s: %v; delete it (redis-cli DEL) and sign in again",
			key, store.ErrCorrupt, s.recKey(key.ID()), err)
	}
	return rec, nil
}

// decode reads a record hash's fields. Its errors never quote the value.
func (s *Store) decode(key store.Key, gen, data any) (*store.Record, error) {
	gs, ok1 := gen.(string)
	ds, ok2 := data.(string)
	if !ok1 || !ok2 {
		return nil, errors.New(`the hash lacks its "gen" or its "data" field`)
	}
	var g uint64
	if _, err := fmt.Sscan(gs, &g); err != nil || g == 0 {
		return nil, errors.New(`the "gen" field is not a positive number`)
	}
	var env envelope
	if err := json.Unmarshal([]byte(ds), &env); err != nil {
		return nil, errors.New(`the "data" field is not a JSON record`)
	}
	if env.Schema > schemaVersion {
		return nil, newerSchemaError{env.Schema}
	}
	if env.Schema != schemaVersion {
		return nil, fmt.Errorf("schema version %d, but this version of authloop reads only version %d", env.Schema, schemaVersion)
	}
	if env.Sealed == nil && s.sealed {
		return nil, ErrNotSealed
	}
	if env.Sealed != nil {
		rec, err := s.open(key, env.Sealed)
		if err != nil {
			return nil, err
		}
		env.Record = rec
	}
	if env.Record == nil {
		return nil, errors.New(`no "record" in the "data" field`)
	}
	if env.Record.Key != key {
		return nil, errors.New("it holds the record of another key")
	}
	env.Record.Generation = g
	return env.Record, nil
}

// fence is the Lua check of a write fenced by a lease (a third key, the
// lock KEYS[3]; its owner ARGV[5] and the record's stamp ARGV[6] the holder
// last knew): the write is refused when the lock is another owner's, or
// when it is free and the record is not the one the holder knew (another
// stamp, or none: a record deleted, re-created, or created meanwhile).
// Stamps are random per write, so unlike generations (which start again
// at 1 after a Delete) they never come back.
const fence = `
if #KEYS == 3 then
	local owner = redis.call('GET', KEYS[3])
	if owner ~= ARGV[5] then
		local st = redis.call('HGET', KEYS[1], 'stamp') or ''
		if owner or st == '' or st ~= ARGV[6] then
			return -1
		end
	end
end
`

// saveScript writes a record (ARGV[3]) with a new stamp (ARGV[4]) and its
// index entry (ARGV[1] -> ARGV[2]) and bumps its generation, atomically,
// unless the fence refuses it (-1).
var saveScript = redis.NewScript(fence + `
local g = redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('HSET', KEYS[1], 'data', ARGV[3], 'stamp', ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return g
`)

// Save stores a copy of rec, as store.Store describes, in one atomic
// script.
//
// With a context from LockLease of this store for rec.Key (or derived from
// one), the save is fenced: the script refuses it, with an error wrapping
// store.ErrLeaseLost, when the lock passed to another holder, that is when
// another owner holds the lock, or when the lock is free and the record is
// not the one this holder last knew (its stamp, random per write, is not
// the one when it took the lock or of its own last fenced write; or there
// was no record then, or is none now). So a lease that merely ran out
// while no one else took over does not cost the holder the tokens it got
// meanwhile, and a record deleted and written again is never overwritten
// by a stale holder. A fenced Save whose context has ended is refused before the
// script with an error wrapping ErrLeaseLost when the lease is not held;
// to save the answer to a request already sent after held may have ended,
// use context.WithoutCancel(held) (with a timeout): it keeps the lease,
// and the script decides.
func (s *Store) Save(ctx context.Context, rec *store.Record) (uint64, error) {
	if rec == nil {
		return 0, errors.New("redisstore: Save of a nil record")
	}
	l := leaseOf(ctx, s, rec.Key)
	if err := ctx.Err(); err != nil {
		if l != nil {
			if lerr := l.Held(0); lerr != nil {
				return 0, fmt.Errorf("redisstore: save %s refused: %w", rec.Key, lerr)
			}
		}
		if cause := context.Cause(ctx); cause != err {
			return 0, fmt.Errorf("redisstore: save %s: %w: %w", rec.Key, cause, err)
		}
		return 0, err
	}
	if len(rec.Metadata) > 0 && !json.Valid(rec.Metadata) {
		return 0, fmt.Errorf("redisstore: Save of %s: Metadata is not valid JSON", rec.Key)
	}
	if rec.Client != nil && len(rec.Client.Metadata) > 0 && !json.Valid(rec.Client.Metadata) {
		return 0, fmt.Errorf("redisstore: Save of %s: Client.Metadata is not valid JSON", rec.Key)
	}
	c := *rec
	c.Generation = 0 // kept in the hash's "gen" field
	c.Updated = time.Now().UTC().Round(0)
	env := envelope{Schema: schemaVersion, Record: &c}
	if s.aead != nil {
		plain, err := json.Marshal(&c)
		if err != nil {
			return 0, fmt.Errorf("redisstore: Save of %s: a field cannot be encoded as JSON (a value in Token.Extra?)", rec.Key)
		}
		if env.Sealed, err = s.seal(rec.Key, plain); err != nil {
			return 0, fmt.Errorf("redisstore: Save of %s: %w", rec.Key, err)
		}
		env.Record = nil
	}
	data, err := json.Marshal(env)
	if err != nil {
		return 0, fmt.Errorf("redisstore: Save of %s: a field cannot be encoded as JSON (a value in Token.Extra?)", rec.Key)
	}
	keyJSON, err := json.Marshal(rec.Key)
	if err != nil {
		return 0, fmt.Errorf("redisstore: Save of %s: %w", rec.Key, err)
	}
	id := rec.Key.ID()
	stamp := newOwner() // random, never repeated
	keys := []string{s.recKey(id), s.indexKey()}
	args := []any{id, keyJSON, data, stamp}
	keys, args = l.fence(keys, args)
	g, err := saveScript.Run(ctx, s.c, keys, args...).Int64()
	if err != nil {
		return 0, s.fail(ctx, "save "+rec.Key.String(), err)
	}
	if g < 0 {
		l.lose()
		return 0, fmt.Errorf("redisstore: save %s refused: the %q lock passed to another holder (it holds it, or it saved the record since): %w",
			rec.Key, l.name, store.ErrLeaseLost)
	}
	l.wrote(stamp)
	rec.Generation, rec.Updated = uint64(g), c.Updated
	return uint64(g), nil
}

// deleteScript removes a record and its index entry (ARGV[1]), unless
// the fence refuses it (-1); it returns 0 when there was no record.
var deleteScript = redis.NewScript(fence + `
local n = redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return n
`)

// Delete removes the record of key and its index entry, or returns an
// error wrapping store.ErrNotFound when there is none. Locks are not
// affected (they end by themselves). With a context from LockLease of this
// store for key (or derived from one, context.WithoutCancel included), the
// delete is fenced as Save is: refused, with an error wrapping
// store.ErrLeaseLost, when the lock passed to another holder or the record
// is not the one this holder knew (a logout that stalled must not delete
// the sign-in made after it).
func (s *Store) Delete(ctx context.Context, key store.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id := key.ID()
	keys := []string{s.recKey(id), s.indexKey()}
	args := []any{id, "", "", ""}
	l := leaseOf(ctx, s, key)
	keys, args = l.fence(keys, args)
	n, err := deleteScript.Run(ctx, s.c, keys, args...).Int64()
	if err != nil {
		return s.fail(ctx, "delete "+key.String(), err)
	}
	if n < 0 {
		l.lose()
		return fmt.Errorf("redisstore: delete %s refused: the %q lock passed to another holder (it holds it, or the record changed since): %w",
			key, l.name, store.ErrLeaseLost)
	}
	l.wrote("") // no record now
	if n == 0 {
		return fmt.Errorf("%w: %s in the %s", store.ErrNotFound, key, s.Describe())
	}
	return nil
}

// List returns the keys of all records, sorted, from the index. An index
// entry that is not a key is left out, and reported in an error wrapping
// store.ErrCorrupt beside the keys.
func (s *Store) List(ctx context.Context) ([]store.Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := s.c.HGetAll(ctx, s.indexKey()).Result()
	if err != nil {
		return nil, s.fail(ctx, "list", err)
	}
	keys := make([]store.Key, 0, len(m))
	var errs []error
	for id, v := range m {
		var k store.Key
		if err := json.Unmarshal([]byte(v), &k); err != nil || k.ID() != id {
			errs = append(errs, fmt.Errorf("redisstore: list: %w: field %q of Redis key %s is not the key of that id", store.ErrCorrupt, id, s.indexKey()))
			continue
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	return keys, errors.Join(errs...)
}

func compareKeys(a, b store.Key) int {
	return cmp.Or(cmp.Compare(a.Issuer, b.Issuer), cmp.Compare(a.ClientID, b.ClientID),
		cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Account, b.Account), cmp.Compare(a.Grant, b.Grant))
}

// fail turns a Redis client error into this package's error for what:
// ctx's own error (and its cause) when ctx ended first; an error wrapping
// store.ErrUnavailable when Redis could not be reached, or answered that
// it cannot serve now (loading its data after a restart, busy, a cluster
// or replica that is down); otherwise Redis's refusal (a wrong password,
// a missing ACL permission).
func (s *Store) fail(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		if cause := context.Cause(ctx); cause != ctx.Err() {
			return fmt.Errorf("redisstore: %s: the context ended before Redis at %s answered: %w: %w", what, s.where, cause, err)
		}
		return fmt.Errorf("redisstore: %s: the context ended before Redis at %s answered: %w", what, s.where, err)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) && (redis.HasErrorPrefix(err, "WRONGPASS") || redis.HasErrorPrefix(err, "NOAUTH") || redis.HasErrorPrefix(err, "NOPERM")) {
		return fmt.Errorf("redisstore: %s: Redis at %s refused the client's credentials or rights (check the client's Username and Password, and that the ACL user may run scripts, on keys under %q): %w", what, s.where, s.prefix, err)
	}
	if errors.As(err, &rerr) && !transientReply(err) {
		return fmt.Errorf("redisstore: %s: Redis at %s refused: %w", what, s.where, err)
	}
	return fmt.Errorf("redisstore: %s: cannot reach Redis at %s (is it running, and are its address, TLS and credentials right?): %w: %w",
		what, s.where, store.ErrUnavailable, err)
}

// transientReply reports whether a Redis error reply says "not now".
func transientReply(err error) bool {
	for _, p := range []string{"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY"} {
		if redis.HasErrorPrefix(err, p) {
			return true
		}
	}
	return false
}
