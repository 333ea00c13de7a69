package integration_test

// Issue 16's scenario 1 against Ory Hydra: a fleet of OS processes (the
// test binary re-executed, processes_test.go's childMain) sharing one
// sign-in through the Redis store (store/redisstore), on one real
// redis-server (store/redisstore/redistest). store/redisstore's
// TestFleetSharesOneRefreshPerCycle runs the same fleet against oauthtest.

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/integration/peers"
	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore"
	"github.com/authloop/authloop/store/redisstore/redistest"
)

// modeRedis: an authloop.Session on the Redis store, on a Redis client of
// the process's own (its own connections, as on a machine of its own).
const modeRedis = "authloop+redis"

// childIndexEnv holds a child's index among the children of a run (0,
// 1, …): a modeRedis child takes its group and place from it.
const childIndexEnv = "AUTHLOOP_INTEGRATION_CHILD_INDEX"

// redisChild tells a modeRedis child where its store is.
type redisChild struct {
	Addr      string // host:port
	Prefix    string
	LockTTL   time.Duration
	GroupSize int // processes per group
}

// childStore opens a child's store, with what closes it: the shared file
// store (modeAuthloop), or the Redis store on a client of the child's own
// named fleet-g<group>-p<place> (modeRedis), with short timeouts as
// redistest's clients have, so that a Redis that does not answer fails a
// call rather than holds it.
func childStore(c childConfig) (store.Store, func(), error) {
	if c.Mode != modeRedis {
		st, err := store.NewFile(c.StoreDir)
		return st, func() {}, err
	}
	i, err := strconv.Atoi(os.Getenv(childIndexEnv))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", childIndexEnv, err)
	}
	g := max(c.Redis.GroupSize, 1)
	rc := redis.NewClient(&redis.Options{
		Addr:                  c.Redis.Addr,
		ClientName:            fmt.Sprintf("fleet-g%d-p%d", i/g+1, i%g+1),
		DialTimeout:           2 * time.Second,
		ReadTimeout:           2 * time.Second,
		WriteTimeout:          2 * time.Second,
		MaxRetries:            1,
		ContextTimeoutEnabled: true,
	})
	st, err := redisstore.New(rc, redisstore.Options{Prefix: c.Redis.Prefix, LockTTL: c.Redis.LockTTL})
	if err != nil {
		rc.Close()
		return nil, nil, err
	}
	return st, func() { rc.Close() }, nil
}

// handedOut notes in last (made when nil) that the access token was
// handed out by a Token call made at asked.
func handedOut(last map[string]int64, access string, asked time.Time) map[string]int64 {
	if last == nil {
		last = map[string]int64{}
	}
	last[redistest.Fingerprint(access)] = asked.UnixNano()
	return last
}

// mergeLasts returns, per access token, the latest time of those in ms;
// nil when they hold none.
func mergeLasts(ms []map[string]int64) map[string]int64 {
	var all map[string]int64
	for _, m := range ms {
		for k, v := range m {
			if all == nil {
				all = map[string]int64{}
			}
			all[k] = max(all[k], v)
		}
	}
	return all
}

// fleetConnections returns the fleet processes that hold a connection to
// Redis (their client names, fleet-g<group>-p<place>).
func fleetConnections(t *testing.T, rs *redistest.Server) map[string]bool {
	t.Helper()
	list, err := rs.Client().ClientList(t.Context()).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	names := map[string]bool{}
	for _, l := range strings.Split(list, "\n") {
		for _, field := range strings.Fields(l) {
			if n, ok := strings.CutPrefix(field, "name=fleet-"); ok {
				names[n] = true
			}
		}
	}
	return names
}

// Scenario 1 of issue 16 at Ory Hydra: 3 groups of 4 OS processes (each
// with its own Redis client, named for its group: 3 "machines"), 50
// goroutines each calling Token every 10 ms, through 20 refreshes of
// 2-second access tokens, sharing one sign-in in one redis-server. Hydra
// rotates refresh tokens and, when a rotated one comes back, revokes the
// whole grant: a refresh token presented twice would show as invalid_grant
// and as processes told to sign in again.
//
// The figures are the issue's: Hydra's per-client lifespans
// (NewShortLivedClient) take 2 s, and Hydra answers a refresh within
// milliseconds, well within a cycle (a refresh at half the lifetime). The
// fleet runs about 17 s under -race on a 2-core machine.
//
// A proxy before Hydra's token endpoint (redistest.TokenProxy, the one
// store/redisstore's fleet tests use) records every token request that
// reaches Hydra: its grant, the refresh token presented, what Hydra
// answered and issued (by fingerprint). From its record: every refresh
// answered 200, each presenting the refresh token the one before got (the
// sign-in's for the first), none twice, and each at least a quarter of the
// lifetime the token before announced after it: one refresh per cycle, not
// two. (Hydra's expires_in is whole seconds, rounded down: it announces 1 s
// for some of the 2-second tokens, whose refresh then comes about 0.5 s
// after, so the rule follows each token's announced lifetime, not the
// client's.) A 5xx answer is logged, not failed: Hydra's in-memory SQLite
// may refuse a write so, and the retry presents the same refresh token,
// which Hydra refuses if it had taken it. The record in Redis ends with
// the last refresh token issued. From the processes: no Token call failed
// or was told to sign in again, no token handed out past its Expiry, nor
// by Hydra's clock (each access token handed out was issued through the
// proxy, and last handed out before its request reached the proxy plus
// the lifetime Hydra announced for it), and each process ends with a token
// Hydra's userinfo endpoint accepts.
func TestFleetOnRedisSharesOneRefreshPerCycleAtHydra(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test: skipped with -short")
	}
	hydraServer.start(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Hydra's log (tail):\n%s", tail(hydra.Output(), 3000))
		}
	})
	const (
		groups     = 3
		procs      = 4 // per group
		goroutines = 50
		cycles     = 20
		ttl        = 2 * time.Second
		// lockTTL is the stores' lease, as store/redisstore's fleet
		// tests have it: longer than the Session's margin before a
		// token request (a third of the lease, at most 2 s) with room
		// for the renewals.
		lockTTL = 4 * time.Second
		prefix  = "{fleet}:"
	)
	rs := redistest.Start(t)
	signedIn := time.Now()
	c, f, tok := sharedLoginToken(t, hydraServer, ttl, modeRedis)
	// The sign-in, as the proxy would have recorded it: its tokens, a
	// time before it, and the lifetime Hydra announced for it (expires_in
	// rounds down to whole seconds: 1 s for some 2-second tokens, whose
	// first refresh then comes about 0.5 s after the sign-in).
	announced := ttl
	if tok.ExpiresIn > 0 {
		announced = time.Duration(tok.ExpiresIn) * time.Second
	}
	login := redistest.TokenRequest{At: signedIn, Access: redistest.Fingerprint(tok.AccessToken), Refresh: redistest.Fingerprint(tok.RefreshToken), ExpiresIn: announced}

	st, err := redisstore.New(rs.Client(), redisstore.Options{Prefix: prefix, LockTTL: lockTTL})
	if err != nil {
		t.Fatal(err)
	}
	cfg := *f.cfg
	cfg.Store = st
	cfg.DisableAutoRefresh = true // the parent saves the sign-in and refreshes nothing
	s, err := authloop.NewSession(&cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	proxy := redistest.NewTokenProxy(t, f.meta.TokenEndpoint)
	c.TokenURL = proxy.URL()
	c.Redis = redisChild{Addr: rs.Addr(), Prefix: prefix, LockTTL: lockTTL, GroupSize: procs}
	c.Pause = 10 * time.Millisecond
	var connected map[string]bool
	res := runChildren(t, c, runSpec{
		processes: groups * procs, goroutines: goroutines, refreshes: cycles, duration: 60 * time.Second,
		onRefresh: func(n int) {
			if n == 2 { // every process has loaded the sign-in from Redis by now
				connected = fleetConnections(t, rs)
			}
		},
	})
	t.Logf("%d groups × %d processes × %d goroutines, Hydra %s, %v access tokens: %s",
		groups, procs, goroutines, peers.HydraVersion, ttl, res.summary())

	if len(connected) != groups*procs {
		t.Errorf("Redis had connections of %d fleet processes (%v); want %d, each on its own client", len(connected), slices.Sorted(maps.Keys(connected)), groups*procs)
	}

	// What reached Hydra.
	rsd, problems := proxy.Chain(login, 0.25)
	for _, p := range problems {
		t.Error(p)
	}
	if len(rsd) < cycles {
		t.Errorf("%d refreshes reached Hydra; want at least %d", len(rsd), cycles)
	}
	if all := proxy.Requests(); len(all) != len(rsd) {
		t.Errorf("%d token requests reached Hydra, %d of them refreshes: the processes sent other grants", len(all), len(rsd))
	}
	if res.Refreshes != len(rsd) {
		t.Errorf("the processes sent %d refreshes, %d reached Hydra through the proxy", res.Refreshes, len(rsd))
	}
	last := login
	if len(rsd) > 0 {
		last = rsd[len(rsd)-1]
	}
	keys, err := st.List(t.Context())
	if err != nil || len(keys) != 1 {
		t.Fatalf("Redis holds %d records (%v); want the sign-in's", len(keys), err)
	}
	rec, err := st.Load(t.Context(), keys[0])
	if err != nil {
		t.Fatal(err)
	}
	if redistest.Fingerprint(rec.Token.RefreshToken) != last.Refresh {
		t.Error("the record in Redis does not hold the last refresh token Hydra issued")
	}

	// What the processes saw.
	if res.InvalidGrant != 0 || res.Represented != 0 || res.AcceptedTwice != 0 || res.OtherFailures != 0 {
		t.Errorf("the processes saw %d invalid_grant, %d refresh tokens presented again, %d accepted twice, %d other failed token requests; want none",
			res.InvalidGrant, res.Represented, res.AcceptedTwice, res.OtherFailures)
	}
	if res.Transient != 0 {
		// Not authloop's doing, and retried (a retry of a refresh token
		// Hydra had taken would be refused, and fail the checks above):
		// Hydra's in-memory SQLite can refuse a write with a 500.
		t.Logf("%d token requests answered 5xx or not at all (retried): %v", res.Transient, res.Failures)
	}
	if res.LoginRequired != 0 || res.Errors != 0 {
		t.Errorf("%d Token calls told to sign in again, %d failed otherwise; first: %s", res.LoginRequired, res.Errors, res.FirstError)
	}
	if res.Expired != 0 {
		t.Errorf("%d expired tokens handed out", res.Expired)
	}
	// By Hydra's clock: each access token handed out was issued through
	// the proxy (or at the sign-in), and last handed out (by the time Token
	// was called) before the time its request reached the proxy plus the
	// lifetime Hydra announced for it, which is before Hydra's expiry of
	// it (Hydra issued it later, and rounds its expires_in down).
	expires := map[string]time.Time{login.Access: signedIn.Add(login.ExpiresIn)}
	for _, r := range rsd {
		if r.Status == http.StatusOK {
			expires[r.Access] = r.At.Add(r.ExpiresIn)
		}
	}
	if len(res.Last) == 0 {
		t.Error("the processes reported no token handed out")
	}
	for a, last := range res.Last {
		exp, ok := expires[a]
		switch {
		case !ok:
			t.Errorf("a process handed out an access token Hydra did not issue through the proxy (%s)", a)
		case !time.Unix(0, last).Before(exp):
			t.Errorf("an access token was handed out %v after Hydra's expiry of it", time.Unix(0, last).Sub(exp))
		}
	}
	if res.Lost != 0 {
		t.Errorf("%d of %d processes ended without a token Hydra accepts: %q", res.Lost, res.Processes, res.Finals)
	}
	logGaps(t, login, rsd)
	short := 0
	for _, r := range rsd {
		if r.Status == http.StatusOK && r.ExpiresIn < ttl {
			short++
		}
	}
	t.Logf("Hydra announced less than %v (expires_in rounds down to whole seconds) for %d of %d refreshed tokens", ttl, short, len(rsd))
}

// logGaps logs the smallest, median and largest time between two
// refreshes that reached the server (the sign-in before the first).
func logGaps(t *testing.T, login redistest.TokenRequest, rs []redistest.TokenRequest) {
	var gaps []time.Duration
	prev := login.At
	for _, r := range rs {
		gaps = append(gaps, r.At.Sub(prev))
		prev = r.At
	}
	if len(gaps) > 0 {
		slices.Sort(gaps)
		t.Logf("time between refreshes: min %v, median %v, max %v", gaps[0].Round(time.Millisecond),
			gaps[len(gaps)/2].Round(time.Millisecond), gaps[len(gaps)-1].Round(time.Millisecond))
	}
}
