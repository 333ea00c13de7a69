package redisstore

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore/redistest"
)

// The scenarios (issue 16, "Tests"), against a real redis-server
// and oauthtest with strict rotation and reuse detection: fleets of OS
// processes (the test binary re-executed, fleet_child_test.go) sharing one
// sign-in in Redis.
//
// The fleet is the (3 groups of 4 processes, 50 goroutines each,
// 20 refresh cycles of 2-second tokens: about 20 s under -race on a quiet
// 2-core machine); under -short, a smaller one (3 × 2 × 10, 6 cycles).
// REDISSTORE_REDIS_DOWN sets how long Redis is down in
// TestFleetWhileRedisIsDown (the 10s; default 3s).

// fleetLockTTL is the lease of the scenarios' stores: short, so that a
// stalled or killed holder's lock passes quickly, but longer than the
// Session's leaseMargin (2 s, storage.go) with room for the renewals
// (every LockTTL/3: a lease is sure for at least 2/3 of LockTTL), since a
// Session never sends a refresh under a shorter one
// (TestSessionRefreshesUnderAOneSecondLease).
const fleetLockTTL = 4 * time.Second

// fleetSpec sizes a fleet run.
type fleetSpec struct {
	Groups, Procs, Goroutines int
	Cycles                    int           // refreshes to wait for
	TTL                       time.Duration // access tokens' lifetime
	Pace                      time.Duration // between a goroutine's Token calls
}

// fleetEnv is a sign-in shared through Redis, with its servers.
type fleetEnv struct {
	t      *testing.T
	rs     *redistest.Server
	srv    *oauthtest.Server
	proxy  *redistest.TokenProxy
	st     *Store // the parent's own store, on its own client
	prefix string
	login  redistest.TokenRequest // the login's tokens, as if proxied: At is before the login, ExpiresIn the tokens' lifetime
}

// newFleetEnv starts Redis, oauthtest (rotation and reuse detection on,
// access tokens of ttl) and the proxy, and signs in, saving to Redis.
func newFleetEnv(t *testing.T, ttl time.Duration) *fleetEnv {
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{AccessTokenTTL: ttl})
	t.Cleanup(srv.Close)
	e := &fleetEnv{t: t, rs: rs, srv: srv, proxy: redistest.NewTokenProxy(t, srv.TokenEndpoint()), prefix: "{fleet}:"}
	var err error
	if e.st, err = New(rs.Client(), Options{Prefix: e.prefix, LockTTL: fleetLockTTL}); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	tok, err := authloop.Login(ctxT(t), sessionConfig(srv, e.st))
	if err != nil {
		t.Fatal(err)
	}
	s, err := authloop.NewSession(sessionConfig(srv, e.st), tok) // saves it
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	e.login = redistest.TokenRequest{At: at, Access: fp(tok.AccessToken), Refresh: fp(tok.RefreshToken), ExpiresIn: ttl}
	return e
}

// spec returns a child's spec for this environment.
func (e *fleetEnv) spec(role string, group, proc int) childSpec {
	return childSpec{
		Role: role, Redis: e.rs.Addr(), Prefix: e.prefix, LockTTL: fleetLockTTL,
		ClientID: e.srv.ClientID(), AuthURL: e.srv.AuthorizationEndpoint(), TokenURL: e.proxy.URL(),
		Issuer: e.srv.Issuer(), Group: group, Proc: proc,
	}
}

// child is a running child process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
}

// startChild re-executes the test binary as a child with spec.
func startChild(t *testing.T, spec childSpec) *child {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	c.cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	c.cmd.Stderr = &c.stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.out = bufio.NewReader(out)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	})
	return c
}

// line reads the child's next line of stdout.
func (c *child) line(t *testing.T) string {
	t.Helper()
	l, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatalf("child %d: reading its stdout: %v; stderr:\n%s", c.cmd.Process.Pid, err, c.stderr.String())
	}
	return l
}

// event reads the child's next stallEvent, which must be want.
func (c *child) event(t *testing.T, want string) stallEvent {
	t.Helper()
	var ev stallEvent
	l := c.line(t)
	if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Event != want {
		t.Fatalf("child says %q (%v); want a %q event", l, err, want)
	}
	return ev
}

// fleet is a running fleet of "fleet" children.
type fleet struct {
	env      *fleetEnv
	children []*child
	started  time.Time
}

// startFleet starts the fleet's processes and waits until each has
// loaded the sign-in.
func (e *fleetEnv) startFleet(fs fleetSpec) *fleet {
	f := &fleet{env: e}
	for g := range fs.Groups {
		for p := range fs.Procs {
			spec := e.spec("fleet", g+1, p+1)
			spec.Goroutines, spec.Pace, spec.TTL = fs.Goroutines, fs.Pace, fs.TTL
			f.children = append(f.children, startChild(e.t, spec))
		}
	}
	for _, c := range f.children {
		if l := c.line(e.t); l != "ready\n" {
			e.t.Fatalf("a fleet process says %q, want \"ready\"", l)
		}
	}
	// Each process talks to Redis on its own connections.
	list, err := e.rs.Client().ClientList(ctxT(e.t)).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	names := map[string]bool{}
	for _, l := range strings.Split(list, "\n") {
		for _, field := range strings.Fields(l) {
			if n, ok := strings.CutPrefix(field, "name=fleet-"); ok {
				names[n] = true
			}
		}
	}
	if len(names) != len(f.children) {
		e.t.Errorf("Redis has connections of %d fleet processes, want %d", len(names), len(f.children))
	}
	f.started = time.Now()
	return f
}

// tell writes a line to every process's stdin.
func (f *fleet) tell(line string) {
	for _, c := range f.children {
		if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
			f.env.t.Fatal(err)
		}
	}
}

// waitRefreshes waits until the proxy has seen n refresh requests, or
// fails the test after limit; each time a new one is seen, it calls
// onRefresh (if set) with how many there are.
func (f *fleet) waitRefreshes(n int, limit time.Duration, onRefresh func(int)) {
	t := f.env.t
	deadline := time.Now().Add(limit)
	seen := 0
	for {
		got := len(f.env.proxy.Refreshes())
		for ; seen < got; seen++ {
			if onRefresh != nil {
				onRefresh(seen + 1)
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d refreshes after %v, want %d", got, limit, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop closes every process's stdin and collects their stats.
func (f *fleet) stop() []childStats {
	t := f.env.t
	for _, c := range f.children {
		c.stdin.Close()
	}
	var all []childStats
	for _, c := range f.children {
		b, err := io.ReadAll(c.out)
		if werr := c.cmd.Wait(); werr != nil || err != nil {
			t.Fatalf("a fleet process: %v, %v; stderr:\n%s", werr, err, c.stderr.String())
		}
		var st childStats
		if err := json.Unmarshal(bytes.TrimSpace(b), &st); err != nil {
			t.Fatalf("a fleet process printed %q: %v; stderr:\n%s", b, err, c.stderr.String())
		}
		all = append(all, st)
	}
	return all
}

// checkChain checks the refresh requests the proxy saw
// (redistest.TokenProxy.Chain: each answered 200, each presenting the
// refresh token the one before got, the login's for the first, and with
// share not zero at least that share of the lifetime of the token before
// after it), and that the record holds the last refresh token issued. It
// returns the refreshes.
func (e *fleetEnv) checkChain(share float64) []redistest.TokenRequest {
	t := e.t
	t.Helper()
	rs, problems := e.proxy.Chain(e.login, share)
	for _, p := range problems {
		t.Error(p)
	}
	for i, r := range rs {
		if r.Transient() { // oauthtest never answers so
			t.Errorf("refresh %d answered %d %q", i+1, r.Status, r.Error)
		}
	}
	last := e.login
	if len(rs) > 0 {
		last = rs[len(rs)-1]
	}
	rec, err := e.st.Load(ctxT(t), sessionConfigKey(e))
	if err != nil {
		t.Fatal(err)
	}
	if fp(rec.Token.RefreshToken) != last.Refresh {
		t.Error("the record in Redis does not hold the last refresh token issued")
	}
	return rs
}

// sessionConfigKey is the key of the environment's sign-in.
func sessionConfigKey(e *fleetEnv) store.Key {
	keys, err := e.st.List(ctxT(e.t))
	if err != nil || len(keys) != 1 {
		e.t.Fatalf("List: %v, %v; want the one key of the sign-in", keys, err)
	}
	return keys[0]
}

// checkHandedOut checks what the processes handed out: no error of any
// kind, no token past its Expiry or within the Session's expiry margin of
// it when Token was called, and each access token last handed out (by
// the time Token was called) before the server's own expiry of it
// (bounded below by the time its request reached the proxy plus the
// lifetime, by the same machine's clock).
func (e *fleetEnv) checkHandedOut(stats []childStats, ttl time.Duration) (calls int64) {
	t := e.t
	t.Helper()
	issued := map[string]time.Time{e.login.Access: e.login.At}
	for _, r := range e.proxy.Refreshes() {
		issued[r.Access] = r.At
	}
	for _, st := range stats {
		calls += st.Calls
		if st.LoginRequired+st.InvalidGrant+st.Unavailable+st.Errors > 0 {
			t.Errorf("group %d process %d: Token failed: %d login required, %d invalid_grant, %d unavailable, %d other; first: %s",
				st.Group, st.Proc, st.LoginRequired, st.InvalidGrant, st.Unavailable, st.Errors, st.FirstError)
		}
		if st.Expired+st.Late > 0 {
			t.Errorf("group %d process %d: %d tokens handed out at or past their Expiry, %d within the expiry margin", st.Group, st.Proc, st.Expired, st.Late)
		}
		if st.Calls == 0 || len(st.Last) == 0 {
			t.Errorf("group %d process %d handed nothing out", st.Group, st.Proc)
		}
		for a, last := range st.Last {
			at, ok := issued[a]
			switch {
			case !ok:
				t.Errorf("group %d process %d handed out an access token the server did not issue through the proxy", st.Group, st.Proc)
			case !time.Unix(0, last).Before(at.Add(ttl)):
				t.Errorf("group %d process %d handed out an access token %v after the server's expiry of it",
					st.Group, st.Proc, time.Unix(0, last).Sub(at.Add(ttl)))
			}
		}
	}
	return calls
}

// fleetSize is the fleet, or a smaller one under -short.
func fleetSize() fleetSpec {
	if testing.Short() {
		return fleetSpec{Groups: 3, Procs: 2, Goroutines: 10, Cycles: 6, TTL: 2 * time.Second, Pace: 10 * time.Millisecond}
	}
	return fleetSpec{Groups: 3, Procs: 4, Goroutines: 50, Cycles: 20, TTL: 2 * time.Second, Pace: 10 * time.Millisecond}
}

// Scenario 1: a fleet of processes on three "machines" (groups of
// processes, each process with its own Redis client) calls Token from
// many goroutines through many refresh cycles of 2-second tokens. The
// server rotates refresh tokens and revokes a grant whose rotated refresh
// token comes back. Exactly one refresh per cycle, a chain where each
// refresh token is presented once, no invalid_grant, no expired token
// handed out.
func TestFleetSharesOneRefreshPerCycle(t *testing.T) {
	fs := fleetSize()
	e := newFleetEnv(t, fs.TTL)
	f := e.startFleet(fs)
	f.waitRefreshes(fs.Cycles, time.Duration(fs.Cycles)*fs.TTL*3+30*time.Second, nil)
	stats := f.stop()
	elapsed := time.Since(f.started)
	rs := e.checkChain(0.25)
	calls := e.checkHandedOut(stats, fs.TTL)
	// A refresh per cycle: a token is refreshed once it has half its
	// life left (RefreshBuffer capped at half the lifetime), or up to a
	// tenth of that buffer earlier (the timer's jitter), so a run of this
	// length holds at most elapsed/(0.9 × TTL/2) cycles.
	if max := int(elapsed/(fs.TTL/2*9/10)) + 1; len(rs) > max {
		t.Errorf("%d refreshes in %v: more than one per cycle (at most %d)", len(rs), elapsed.Round(time.Millisecond), max)
	}
	t.Logf("%d groups × %d processes × %d goroutines: %d Token calls, %d refreshes in %v",
		fs.Groups, fs.Procs, fs.Goroutines, calls, len(rs), elapsed.Round(time.Millisecond))
	logGaps(t, e.login, rs)
}

// logGaps logs the smallest and largest time between two refreshes.
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

// Scenario 4: Redis restarts during a fleet's run, once shut down
// (SIGTERM) and once crashed (SIGKILL); with AOF (appendfsync always, as
// redistest runs it) no saved refresh token is lost: the chain of
// refreshes goes on unbroken after each restart, with no invalid_grant.
func TestFleetThroughRedisRestarts(t *testing.T) {
	fs := fleetSpec{Groups: 2, Procs: 2, Goroutines: 10, Cycles: 6, TTL: 2 * time.Second, Pace: 10 * time.Millisecond}
	e := newFleetEnv(t, fs.TTL)
	f := e.startFleet(fs)
	f.waitRefreshes(fs.Cycles, time.Duration(fs.Cycles)*fs.TTL*3+30*time.Second, func(n int) {
		// Right after a refresh was sent: its save, or the processes'
		// loads of it, meet the restart.
		switch n {
		case 2:
			e.rs.Restart()
		case 4:
			e.rs.Kill()
			e.rs.Start()
		}
	})
	stats := f.stop()
	rs := e.checkChain(0.25)
	calls := e.checkHandedOut(stats, fs.TTL)
	t.Logf("%d Token calls, %d refreshes, Redis restarted after the 2nd and crashed and restarted after the 4th", calls, len(rs))
}

// redisDown is how long TestFleetWhileRedisIsDown keeps Redis down.
func redisDown(t *testing.T) time.Duration {
	if v := os.Getenv("REDISSTORE_REDIS_DOWN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("REDISSTORE_REDIS_DOWN: %v", err)
		}
		return d
	}
	return 3 * time.Second
}

// Scenario 5: Redis is down for a while. The processes keep handing out
// their valid token from memory; every refresh tried meanwhile (a forced
// Refresh every 100 ms in each process) fails as transient, an error
// wrapping store.ErrUnavailable, and sends nothing to the server; once
// Redis is back, the refreshes work again, in the same grant.
func TestFleetWhileRedisIsDown(t *testing.T) {
	down := redisDown(t)
	// Tokens outlive the outage: handed out until 3/4 of their life.
	fs := fleetSpec{Groups: 1, Procs: 3, Goroutines: 10, TTL: 2*down + 4*time.Second, Pace: 10 * time.Millisecond}
	e := newFleetEnv(t, fs.TTL)
	f := e.startFleet(fs)
	e.rs.Stop()
	f.tell("down")
	time.Sleep(down)
	back := time.Now() // no refresh before Redis is started again
	e.rs.Start()
	// Every process's probe recovers: wait for the first refresh, then
	// give the others time to adopt it.
	f.waitRefreshes(1, 30*time.Second, nil)
	time.Sleep(time.Second)
	stats := f.stop()
	rs := e.checkChain(0)
	calls := e.checkHandedOut(stats, fs.TTL)
	unavailable := 0
	for _, st := range stats {
		unavailable += st.ProbeUnavailable
		if st.ProbeUnavailable == 0 || len(st.ProbeOther) > 0 || !st.ProbeRecovered {
			t.Errorf("process %d: %d refreshes failed as unavailable, %d otherwise (%q), recovered: %v; want failures as unavailable only, then a refresh",
				st.Proc, st.ProbeUnavailable, len(st.ProbeOther), st.ProbeOther, st.ProbeRecovered)
		}
	}
	for i, r := range rs {
		if r.At.Before(back) {
			t.Errorf("refresh %d was sent while Redis was down (without the lock)", i+1)
		}
	}
	t.Logf("Redis down for %v: %d Token calls, all answered; %d refreshes refused as unavailable; %d refreshes after it", down, calls, unavailable, len(rs))
}
