package main

// `authloop login --store redis://…` (issue 16): the profile's tokens kept
// in Redis through store/redisstore, so that the machines of a fleet share
// one sign-in. The profile keeps the URL (never with a password), where to
// read the password and the secret key (a file's path, or the environment
// variables below), never the secrets themselves.

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/authloop/authloop/internal/urlrule"
	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore"
)

// The environment variables that hold the Redis password and the secret
// key that seals the records, when no file is named.
const (
	redisPasswordEnv  = "AUTHLOOP_REDIS_PASSWORD"
	redisSecretKeyEnv = "AUTHLOOP_REDIS_SECRET_KEY"
)

// redisPrefixParam is the URL's query parameter that sets the prefix of
// the store's keys (redisstore.Options.Prefix); the rest of the URL is
// go-redis's (redis.ParseURL).
const redisPrefixParam = "prefix"

// isRedisURL reports whether a --store value, or a profile's store, is a
// Redis URL rather than auto, file or keyring.
func isRedisURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "redis://") || strings.HasPrefix(l, "rediss://")
}

// errRedisPassword reports a Redis URL with a password in it: a usage error
// whose message never holds the URL.
var errRedisPassword = errors.New("the Redis URL holds a password")

// plainRedisHint is the way out of errPlainRedis for the URL raw.
func plainRedisHint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	tls := url.URL{Scheme: "rediss", User: u.User, Host: u.Host, Path: u.Path}
	return "use TLS: --store " + tls.String() + " (a CA of your own: set SSL_CERT_FILE to its certificate); plain redis:// is for Redis on this machine only (127.0.0.1, ::1, localhost)"
}

// errPlainRedis reports a plain redis:// URL to a host that is not this
// machine: the tokens and the Redis password would cross the network in
// clear. rediss:// (TLS) is the way; redis:// stays allowed on loopback,
// as http:// is for the OAuth endpoints.
var errPlainRedis = errors.New("plain redis:// to another machine")

// redisTarget is a parsed Redis URL: the client's options (without a
// password) and the store's prefix.
type redisTarget struct {
	opts   *redis.Options
	prefix string // "" for redisstore.DefaultPrefix
	shown  string // the URL as messages and status show it: no secret in it
}

// parseRedisURL checks and parses a Redis URL. Its errors never quote the
// URL, which may hold a password: one that does is refused with an error
// wrapping errRedisPassword. A plain redis:// URL to a host that is not
// loopback (127.0.0.0/8, ::1, localhost) is refused with an error wrapping
// errPlainRedis, naming rediss://.
func parseRedisURL(raw string) (*redisTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the URL, password and all.
		return nil, errors.New("it is not a valid URL (the value is not shown: it may hold a password); write it as redis://[USER@]HOST:PORT[/DB] or rediss://… for TLS")
	}
	q := u.Query()
	if _, ok := u.User.Password(); ok || q.Has("password") {
		return nil, messageError{"the Redis URL holds a password (not shown here): authloop never takes one on the command line nor keeps one in a profile", errRedisPassword}
	}
	// Messages show the URL without its query and fragment: a value
	// there, which go-redis would refuse, may be a secret put in the wrong
	// place.
	where := (&url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host, Path: u.Path}).String()
	if u.Opaque != "" || u.Fragment != "" || u.Host == "" {
		return nil, fmt.Errorf("%s is not a Redis URL: write it as redis://[USER@]HOST:PORT[/DB] or rediss://… for TLS", where)
	}
	prefix := q.Get(redisPrefixParam)
	if q.Has(redisPrefixParam) && prefix == "" {
		return nil, fmt.Errorf("%s: its prefix parameter is empty; leave it out for the default prefix %q", where, redisstore.DefaultPrefix)
	}
	if q.Has("skip_verify") {
		return nil, fmt.Errorf("%s: skip_verify is refused: it would send the tokens to whoever answers; to trust a private CA, set SSL_CERT_FILE to its certificate", where)
	}
	q.Del(redisPrefixParam)
	cu := *u
	cu.RawQuery = q.Encode()
	opts, err := redis.ParseURL(cu.String())
	if err != nil {
		// go-redis's errors quote the value they refuse, which may be a
		// secret put in the wrong place: only their first words are shown
		// ("invalid dial_timeout duration", "unexpected option").
		why, _, _ := strings.Cut(strings.TrimPrefix(err.Error(), "redis: "), ":")
		return nil, fmt.Errorf("%s is not a Redis URL: %s (the values are not shown); see `authloop help login`", where, why)
	}
	// Checked last, so that a URL wrong in other ways says so first.
	if u.Scheme == "redis" && !urlrule.IsLoopbackHost(u.Hostname()) {
		return nil, messageError{where + ": plain redis:// to another machine would send the tokens and the Redis password in clear; use rediss:// (TLS)", errPlainRedis}
	}
	opts.ContextTimeoutEnabled = true
	return &redisTarget{opts: opts, prefix: prefix, shown: u.String()}, nil
}

// redisClients are the Redis clients of the commands running in this
// process, one per address, user and password, closed when the last
// command ends (closeRedisClients). A command runs once per process; tests
// run several at once in one.
var redisClients struct {
	mu      sync.Mutex
	running int
	byKey   map[string]*redis.Client
}

// commandStarted and closeRedisClients bracket each command (execute).
func commandStarted() {
	redisClients.mu.Lock()
	redisClients.running++
	redisClients.mu.Unlock()
}

// closeRedisClients closes the Redis clients when no other command runs.
func closeRedisClients() {
	redisClients.mu.Lock()
	defer redisClients.mu.Unlock()
	redisClients.running--
	if redisClients.running > 0 {
		return
	}
	for k, c := range redisClients.byKey {
		_ = c.Close()
		delete(redisClients.byKey, k)
	}
}

// quietLog is go-redis's logger in the command: silent. go-redis logs
// each failed dial to stderr ("redis: connection pool: failed to dial…"),
// which the person would read above authloop's own message, and a script
// reading stderr would take for output; the failure reaches the command
// as the store's error, and is said once (explainRedis).
type quietLog struct{}

func (quietLog) Printf(context.Context, string, ...any) {}

var setQuietLog sync.Once

// redisClient returns the client for opts, made once per command.
func redisClient(opts *redis.Options) *redis.Client {
	setQuietLog.Do(func() { redis.SetLogger(quietLog{}) })
	key := strings.Join([]string{opts.Network, opts.Addr, opts.Username, opts.Password, fmt.Sprint(opts.DB, opts.TLSConfig != nil)}, "\x00")
	redisClients.mu.Lock()
	defer redisClients.mu.Unlock()
	if c := redisClients.byKey[key]; c != nil {
		return c
	}
	if redisClients.byKey == nil {
		redisClients.byKey = map[string]*redis.Client{}
	}
	c := redis.NewClient(opts)
	redisClients.byKey[key] = c
	return c
}

// openRedis opens profile p's Redis store: its URL, its password (from the
// file the profile names, or from $AUTHLOOP_REDIS_PASSWORD when its login
// took it from there, else none: the variable, maybe set for another
// profile's Redis, goes to no other) and its secret key (from the file the
// profile names, else from $AUTHLOOP_REDIS_SECRET_KEY). A profile sealed
// from its login refuses a record in clear (redisstore.ErrNotSealed).
// Nothing is sent to Redis.
func openRedis(p *Profile) (store.Store, error) {
	t, err := parseRedisURL(p.Store)
	if err != nil {
		return nil, &cliError{code: exitFailure, err: fmt.Errorf("profile %s: store: %w", p.Name, err), hint: redisLoginHint(p)}
	}
	if p.RedisPasswordFile != "" {
		pw, err := readRedisPassword(p.RedisPasswordFile)
		if err != nil {
			ce := splitFix(err)
			if ce.hint == "" {
				ce.hint = "fix that file, or name another: authloop login --profile " + p.Name + " --redis-password-file FILE"
			}
			return nil, ce
		}
		t.opts.Password = pw
	} else if p.RedisPasswordEnv {
		t.opts.Password = os.Getenv(redisPasswordEnv)
	}
	var key []byte
	switch {
	case p.RedisSecretKeyFile != "":
		key, err = redisstore.SecretKeyFromFile(p.RedisSecretKeyFile)
	case os.Getenv(redisSecretKeyEnv) != "":
		key, err = redisstore.SecretKeyFromEnv(redisSecretKeyEnv)
	case p.RedisSealed:
		err = fmt.Errorf("profile %s keeps its tokens in Redis sealed with a secret key, and none is given", p.Name)
	}
	if err != nil {
		ce := splitFix(messageError{strings.TrimPrefix(err.Error(), "redisstore: "), err})
		if ce.hint == "" {
			ce.hint = secretKeyHint(p)
		}
		return nil, ce
	}
	rs, err := redisstore.New(redisClient(t.opts), redisstore.Options{Prefix: t.prefix, SecretKey: key, RequireSealed: p.RedisSealed})
	if err != nil {
		return nil, &cliError{code: exitFailure, err: err, hint: redisLoginHint(p)}
	}
	return &redisStore{s: rs, shown: t.shown, prefix: cmp.Or(t.prefix, redisstore.DefaultPrefix)}, nil
}

// redisLoginHint says how to give profile p another Redis URL.
func redisLoginHint(p *Profile) string {
	return "sign in again with a Redis URL such as redis://HOST:6379/0: authloop login --profile " + p.Name + " --store URL"
}

// secretKeyHint says how to give profile p the key its records are
// sealed with.
func secretKeyHint(p *Profile) string {
	if p.RedisSecretKeyFile != "" {
		return "put the secret key (32 bytes in base64, readable by you alone) in " + p.RedisSecretKeyFile + ", or name another file: authloop login --profile " + p.Name + " --redis-secret-key-file FILE"
	}
	return "set " + redisSecretKeyEnv + " to the secret key the tokens were sealed with (32 bytes in base64), or name a file that holds it: authloop login --profile " + p.Name + " --redis-secret-key-file FILE"
}

// readRedisPassword reads the Redis password from path with
// redisstore.PasswordFromFile (its first line; a file other users may read
// or write is refused on Unix; errors never hold the password), its errors
// without the package's prefix, for the command's messages.
func readRedisPassword(path string) (string, error) {
	pw, err := redisstore.PasswordFromFile(path)
	if err != nil {
		return "", errors.New(strings.TrimPrefix(err.Error(), "redisstore: "))
	}
	return pw, nil
}

// redisStore is a profile's Redis store: redisstore's, whose errors it
// wraps in a *redisError (for the messages: the URL, never a secret), and
// whose Describe names the URL.
type redisStore struct {
	s      *redisstore.Store
	shown  string
	prefix string
	// replaceClear, set by login and logout (replaceRecordInClear),
	// deletes a record in clear that a sealed profile refuses
	// (redisstore.ErrNotSealed) when it is loaded, and reports none: the
	// sign-in then writes its own, the logout leaves nothing.
	replaceClear bool
}

// replaceRecordInClear makes st, a store login or logout opened, clear
// away a record in clear that the sealed profile refuses, as they clear a
// corrupt record: the sign-in then saves its own, sealed; the logout
// deletes it without sending its tokens anywhere. The other commands
// refuse such a record and say to log in.
func replaceRecordInClear(st store.Store) {
	if r, ok := st.(*redisStore); ok {
		r.replaceClear = true
	}
}

var (
	_ store.Store       = (*redisStore)(nil)
	_ store.LeaseLocker = (*redisStore)(nil)
)

// redisError is an error of a profile's Redis store, with the store's URL.
type redisError struct {
	url string
	err error
}

func (e *redisError) Error() string { return e.err.Error() }
func (e *redisError) Unwrap() error { return e.err }

func (r *redisStore) wrap(err error) error {
	if err == nil {
		return nil
	}
	return &redisError{url: r.shown, err: err}
}

func (r *redisStore) Load(ctx context.Context, key store.Key) (*store.Record, error) {
	rec, err := r.s.Load(ctx, key)
	if r.replaceClear && errors.Is(err, redisstore.ErrNotSealed) {
		if derr := r.s.Delete(ctx, key); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			return nil, r.wrap(fmt.Errorf("%w; deleting it failed: %w", err, derr))
		}
		return nil, fmt.Errorf("%w: %s (a record in clear, refused by a sealed profile, was deleted)", store.ErrNotFound, key)
	}
	return rec, r.wrap(err)
}

func (r *redisStore) Save(ctx context.Context, rec *store.Record) (uint64, error) {
	gen, err := r.s.Save(ctx, rec)
	return gen, r.wrap(err)
}

func (r *redisStore) Delete(ctx context.Context, key store.Key) error {
	return r.wrap(r.s.Delete(ctx, key))
}

func (r *redisStore) List(ctx context.Context) ([]store.Key, error) {
	keys, err := r.s.List(ctx)
	return keys, r.wrap(err)
}

func (r *redisStore) Lock(ctx context.Context, key store.Key, name string) (func() error, error) {
	unlock, err := r.s.Lock(ctx, key, name)
	if err != nil {
		return nil, r.wrap(err)
	}
	return func() error { return r.wrap(unlock()) }, nil
}

func (r *redisStore) LockLease(ctx context.Context, key store.Key, name string) (context.Context, func() error, error) {
	held, unlock, err := r.s.LockLease(ctx, key, name)
	if err != nil {
		return nil, nil, r.wrap(err)
	}
	return held, func() error { return r.wrap(unlock()) }, nil
}

// Describe says "Redis store at URL (keys under PREFIX)", the URL without
// any secret.
func (r *redisStore) Describe() string {
	return fmt.Sprintf("Redis store at %s (keys under %q)", r.shown, r.prefix)
}

// leaseStore is a wrapper of a store (guardedStore, clearCorrupt) that
// keeps the LockLease of the store it wraps, so that the library fences
// its refreshes with the lease (store.LeaseLocker).
type leaseStore struct {
	store.Store
	ll store.LeaseLocker
}

func (l leaseStore) LockLease(ctx context.Context, key store.Key, name string) (context.Context, func() error, error) {
	return l.ll.LockLease(ctx, key, name)
}

// keepLease returns wrapper, made a store.LeaseLocker when inner, the
// store it wraps, is one.
func keepLease(wrapper, inner store.Store) store.Store {
	if ll, ok := inner.(store.LeaseLocker); ok {
		return leaseStore{Store: wrapper, ll: ll}
	}
	return wrapper
}

// explainRedis explains a failure of a profile's Redis store: unreachable
// (4), credentials or rights refused, a wrong or missing secret key (1).
// It returns nil for an error that is not one.
func explainRedis(err error, profile string) *cliError {
	var (
		re *redisError
		cv *tls.CertificateVerificationError
	)
	if !errors.As(err, &re) {
		return nil
	}
	switch {
	case errors.Is(err, redisstore.ErrNewerSchema):
		// Checked before store.ErrCorrupt, which it wraps too: the record
		// is sound for the newer machines sharing it, and must be kept.
		return &cliError{code: exitFailure, err: messageError{newerSchemaMessage(profile, re.url), err}, hint: newerSchemaHint}
	case errors.Is(err, store.ErrCorrupt):
		return &cliError{code: exitLoginRequired, err: messageError{"the saved tokens of profile " + profile + " in Redis at " + re.url + " cannot be read: the record there is corrupt", err},
			hint: "run: authloop login --profile " + profile + " (it replaces the record), or authloop logout --profile " + profile + " to delete it"}
	case errors.Is(err, redisstore.ErrWrongSecretKey):
		return &cliError{code: exitFailure, err: messageError{"the tokens in Redis at " + re.url + " were sealed with another secret key than the one given (or altered)", err},
			hint: "give the key they were sealed with (in " + redisSecretKeyEnv + ", or in the file named by --redis-secret-key-file), or sign in again: authloop login --profile " + profile}
	case errors.Is(err, redisstore.ErrNotSealed):
		return &cliError{code: exitFailure, err: messageError{"the tokens in Redis at " + re.url + " are not sealed, though profile " + profile + " seals its tokens: refused, as altered", err},
			hint: "someone who may write to that Redis, without the key, may have put them there (check its ACL users); sign in again to overwrite them: authloop login --profile " + profile}
	case errors.Is(err, redisstore.ErrNoSecretKey):
		return &cliError{code: exitFailure, err: messageError{"the tokens in Redis at " + re.url + " are sealed with a secret key, and none is given", err},
			hint: "set " + redisSecretKeyEnv + " to the key they were sealed with, or name a file that holds it: authloop login --profile " + profile + " --redis-secret-key-file FILE"}
	case redis.HasErrorPrefix(err, "WRONGPASS"), redis.HasErrorPrefix(err, "NOAUTH"), redis.HasErrorPrefix(err, "NOPERM"):
		return &cliError{code: exitFailure, err: messageError{"Redis at " + re.url + " refused authloop's credentials or rights (" + redisReply(err) + ")", err},
			hint: "check the user in the URL, the password (a profile takes $" + redisPasswordEnv + " only if its login did: sign in again with it set, or with --redis-password-file FILE), and that the ACL user may run scripts on the store's keys"}
	case errors.As(err, &cv):
		// Not a failure that passes: the server's certificate is not one
		// this machine trusts.
		return &cliError{code: exitFailure, err: messageError{"Redis at " + re.url + " could not be reached: its TLS certificate is not trusted (" + clip(tidy(cv.Err.Error()), 80) + ")", err},
			hint: "if a private CA signed it, set SSL_CERT_FILE to that CA's certificate (PEM); check the host name in the URL"}
	case errors.Is(err, store.ErrUnavailable), unreachable(err):
		why := netProblem(err)
		if why == "" {
			why = "no answer"
		}
		return &cliError{code: exitUnreachable, err: messageError{"Redis at " + re.url + " could not be reached (" + why + "); the tokens are kept there", err},
			hint: "check that Redis is running and reachable there (its address, TLS and the network), and try again later"}
	}
	return &cliError{code: exitFailure, err: messageError{"Redis at " + re.url + " failed: " + tidy(strings.TrimPrefix(err.Error(), "redisstore: ")), err},
		hint: "check Redis at " + re.url}
}

// redisReply is the first word of Redis's error reply (WRONGPASS, NOAUTH,
// NOPERM): enough to name the refusal, never a secret.
func redisReply(err error) string {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return "refused"
	}
	w, _, _ := strings.Cut(rerr.Error(), " ")
	return sanitize(w)
}

// newerSchemaMessage says that profile's record in Redis at url was
// written by a newer authloop than this one (redisstore.ErrNewerSchema).
func newerSchemaMessage(profile, url string) string {
	return "the saved tokens of profile " + profile + " in Redis at " + url + " were written by a newer authloop, which this one cannot read"
}

// newerSchemaHint is the way out of a record of a newer schema: upgrade,
// and leave the record, which the newer machines share, alone.
const newerSchemaHint = "upgrade authloop on this machine (other machines sharing the store run a newer one); the record is left as it is, for them: do not delete it"
