//go:build unix

package main

import (
	"bytes"
	"context"
	"github.com/authloop/authloop/store/redisstore"
	"golang.org/x/oauth2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store/redisstore/redistest"
)

// Adversary's tests for issue 16, second pass (the command on Redis). Each
// fails on the code it was written against; run them by name:
//
//	go -C cmd/authloop test -race -count=1 -run 'TestAdvRedis' .

// redisRefreshAcrossOutage runs `authloop refresh` of a Redis profile
// against a rotating server with reuse detection; Redis stops once the
// server has rotated the refresh token and before its answer reaches the
// command, and starts again outage after the answer is let go. It
// returns the run's exit status, its stderr, how long it ran after the
// answer was let go, and a later `authloop refresh`'s result (exit 0 only
// when the rotated refresh token was kept).
func redisRefreshAcrossOutage(t *testing.T, outage time.Duration) (syscall.WaitStatus, string, time.Duration, result) {
	t.Helper()
	c, rs, srv := redisProfileForOutage(t)
	release, held := holdNextAnswer(t, srv)
	r := c.start(t, "refresh", "--profile", "p")
	select {
	case <-held:
	case <-r.exited:
		t.Fatalf("exited before its refresh reached the server:\n%s", r.output())
	case <-time.After(time.Minute):
		t.Fatalf("no refresh reached the server:\n%s", r.output())
	}
	rs.Stop()
	release()
	at := time.Now()
	time.Sleep(outage)
	rs.Start()
	ws := r.wait()
	took := time.Since(at)
	return ws, r.output(), took, c.run("", "refresh", "--profile", "p")
}

// redisProfileForOutage is a profile "p" signed in with its tokens in a
// Redis of its own, at a server that rotates refresh tokens and detects
// their reuse.
func redisProfileForOutage(t *testing.T) (*cli, *redistest.Server, *oauthtest.Server) {
	t.Helper()
	buildBinary(t)
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	t.Cleanup(srv.Close)
	c := newCLI(t)
	c.mustLogin(srv, "p", "--store", "redis://"+rs.Addr()+"/0")
	return c, rs, srv
}

// holdNextAnswer holds srv's next answer, once it has acted on the
// request (a refresh rotated), until release is called (at the latest
// when the test ends); held receives when the answer is held.
func holdNextAnswer(t *testing.T, srv *oauthtest.Server) (release func(), held <-chan struct{}) {
	ch, h := make(chan struct{}), make(chan struct{}, 1)
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(release)
	srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultHoldAnswer, Release: ch, Held: h})
	return release, h
}

// TestRedisOutageAtSaveKeepsRotatedToken: Redis is away for 25 s (a
// restart of a large AOF, a failover) just as `authloop refresh` has got
// the server's answer, which rotated the refresh token. The command holds
// the new tokens, says so once on stderr, and saves them when Redis
// answers again: it exits 0 and the next refresh works (the adversary's
// TestAdvRedisOutageAtSaveLosesRotatedToken: it gave up after ~8 s, exit
// 1, and the profile needed a new login).
func TestRedisOutageAtSaveKeepsRotatedToken(t *testing.T) {
	ws, out, _, after := redisRefreshAcrossOutage(t, 25*time.Second)
	if ws.ExitStatus() != 0 {
		t.Errorf("refresh across a 25 s Redis outage at the save: %s, want 0 (the rotated refresh token kept once Redis is back):\n%s", describeStatus(ws), out)
	}
	if after.code != 0 {
		t.Errorf("refresh afterwards: %v; the rotated refresh token was lost (a new login needed)", after)
	}
	if n := strings.Count(out, "held in this process"); n != 1 {
		t.Errorf("stderr says %d times that the new tokens are held while Redis is away, want once:\n%s", n, out)
	}
}

// TestRedisSaveFailureNamesRedisAndExits4: Redis stays away longer than
// the command waits for it (redisSaveWait, shortened here: the command
// runs in the test's process). It then exits 4 (Redis unreachable), naming
// Redis and what was lost, and that a new login is needed, never with the
// file store's causes (the adversary's
// TestAdvRedisSaveFailureSaysFileStoreThings: exit 1, "fix the store
// (free space, permissions, a locked keyring)").
func TestRedisSaveFailureNamesRedisAndExits4(t *testing.T) {
	c, rs, srv := redisProfileForOutage(t)
	defer func(d time.Duration) { redisSaveWait = d }(redisSaveWait)
	redisSaveWait = 3 * time.Second
	t.Setenv("HOME", c.dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(c.dir, "config"))
	t.Setenv(redisPasswordEnv, "")
	t.Setenv(redisSecretKeyEnv, "")
	release, held := holdNextAnswer(t, srv)
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), []string{"refresh", "--profile", "p"}, &stdout, &stderr) }()
	select {
	case <-held:
	case code := <-done:
		t.Fatalf("exited %d before its refresh reached the server:\n%s", code, stderr.String())
	case <-time.After(time.Minute):
		t.Fatal("no refresh reached the server")
	}
	rs.Stop()
	release()
	var code int
	select {
	case code = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the command still waits for Redis 2 minutes after a wait of 3 s")
	}
	rs.Start()
	out := stderr.String()
	if code != exitUnreachable {
		t.Errorf("refresh whose save could not reach Redis: exit %d, want %d (Redis unreachable):\n%s", code, exitUnreachable, out)
	}
	url := "redis://" + rs.Addr() + "/0"
	for _, want := range []string{"held in this process", "Redis at " + url + " could not be reached within 3 seconds", "the rotated refresh token is lost", "check that Redis is running", "authloop login --profile p"} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "free space") || strings.Contains(out, "keyring") {
		t.Errorf("the message gives the file store's causes, not Redis's:\n%s", out)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout of a failed refresh: %q", stdout.String())
	}
	// What the message says: the grant is lost, a login is needed.
	if r := c.run("", "refresh", "--profile", "p"); r.code != exitLoginRequired {
		t.Errorf("refresh afterwards: %v, want exit %d (the rotated refresh token was lost)", r, exitLoginRequired)
	}
}

// TestRedisHeldTokensSecondSignalGivesUp: while the command holds new
// tokens that Redis cannot take, a first Ctrl+C does not end the wait (as
// it lets a token request already sent be answered and saved); a second
// one ends the run at once, as the signal would, saying what is lost.
func TestRedisHeldTokensSecondSignalGivesUp(t *testing.T) {
	c, rs, srv := redisProfileForOutage(t)
	release, held := holdNextAnswer(t, srv)
	r := c.start(t, "refresh", "--profile", "p")
	select {
	case <-held:
	case <-r.exited:
		t.Fatalf("exited before its refresh reached the server:\n%s", r.output())
	case <-time.After(time.Minute):
		t.Fatalf("no refresh reached the server:\n%s", r.output())
	}
	rs.Stop()
	release()
	r.waitLine("held in this process")
	_ = r.cmd.Process.Signal(os.Interrupt)
	r.waitLine("stopping")
	r.running("after a first Ctrl+C, while the new tokens wait for Redis")
	_ = r.cmd.Process.Signal(os.Interrupt)
	ws := r.wait()
	r.wantKilledBy(ws, syscall.SIGINT)
	if out := r.output(); !strings.Contains(out, "again: the new tokens were still waiting for Redis at redis://"+rs.Addr()+"/0: the rotated refresh token is lost") {
		t.Errorf("the second Ctrl+C does not say what it lost:\n%s", out)
	}
}

// loginRedisFront signs profile p in at f, its tokens in Redis at rs.
func loginRedisFront(t *testing.T, c *cli, f *hostileServer, rs *redistest.Server) {
	t.Helper()
	var wg sync.WaitGroup
	r := c.interactive(browseOn(t, f.URL+"/authorize", &wg), "login", "--profile", "p", "--no-browser", "--store", "redis://"+rs.Addr()+"/0",
		"--issuer", f.URL, "--client-id", f.back.ClientID(), "--scope", "openid offline_access", "--timeout", "1m")
	wg.Wait()
	if r.code != 0 {
		t.Fatalf("login: %v", r)
	}
}

// TestRedisLogoutRedisGoneAfterRevocationSaysRecordRemains: Redis stops
// while logout's revocation is on its way (the server revokes the grant),
// so the delete that follows cannot reach Redis: logout says that the
// server revoked the grant, that the record remains in Redis and what to
// run later, and exits 4 (the adversary's
// TestAdvRedisLogoutRedisDiesAfterRevocation: "deleted the tokens …, but
// the revocation failed", both false, exit 1). The logout it says to run
// then deletes the record.
func TestRedisLogoutRedisGoneAfterRevocationSaysRecordRemains(t *testing.T) {
	buildBinary(t)
	rs := redistest.Start(t)
	f := newHostileServer(t, oauthtest.Config{})
	c := newCLI(t)
	loginRedisFront(t, c, f, rs)
	var stopped atomic.Bool
	f.on(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/revoke" && stopped.CompareAndSwap(false, true) {
			rs.Stop() // then the revocation goes on to the server
		}
		return false
	})
	r := c.run("", "logout", "--profile", "p", "--forget")
	if !stopped.Load() {
		t.Fatalf("no revocation request: %v", r)
	}
	rs.Start()
	if n := len(redisKeys(t, rs.Client(), "{authloop}:rec:*")); n != 1 {
		t.Fatalf("records in Redis after the logout: %d, want 1 (the delete could not reach Redis)", n)
	}
	if strings.Contains(r.stderr+r.stdout, "deleted the tokens") || strings.Contains(r.stderr+r.stdout, "Logged out") {
		t.Errorf("logout says the tokens are deleted, while they are still in Redis:\n%v", r)
	}
	if strings.Contains(r.stderr, "revocation failed") || strings.Contains(r.stderr, "nothing was revoked") {
		t.Errorf("logout says the revocation failed, while the server revoked the grant:\n%v", r)
	}
	for _, want := range []string{"the server revoked the grant", "the record remains in Redis at redis://" + rs.Addr() + "/0: it could not be reached", "when Redis answers again, run: authloop logout --profile p"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("logout's stderr lacks %q:\n%v", want, r)
		}
	}
	if r.code != exitUnreachable {
		t.Errorf("logout with Redis gone before the delete: exit %d, want %d (Redis unreachable)", r.code, exitUnreachable)
	}
	checkErrorShape(t, r.stderr)
	// --forget kept the profile: the logout it says to run needs it.
	r = c.run("", "logout", "--profile", "p")
	if r.code != 0 || len(redisKeys(t, rs.Client(), "{authloop}:rec:*")) != 0 {
		t.Errorf("logout once Redis is back: %v; records left: %v", r, redisKeys(t, rs.Client(), "{authloop}:rec:*"))
	}
}

// TestRedisLogoutDeleteRefusedAfterRevocationSaysRevoked: the revocation
// succeeds, then Redis refuses the delete (the record's lock passed to
// another holder meanwhile: the delete is fenced). logout says that the
// server revoked the grant and that the record remains, not "nothing was
// revoked or deleted" (the adversary's finding 9), and exits 1.
func TestRedisLogoutDeleteRefusedAfterRevocationSaysRevoked(t *testing.T) {
	buildBinary(t)
	rs := redistest.Start(t)
	f := newHostileServer(t, oauthtest.Config{})
	c := newCLI(t)
	loginRedisFront(t, c, f, rs)
	rc := rs.Client()
	var stolen atomic.Bool
	f.on(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/revoke" && stolen.CompareAndSwap(false, true) {
			// Another holder takes the lock logout holds.
			for _, k := range redisKeys(t, rc, "{authloop}:lock:*") {
				rc.Set(context.Background(), k, "another-holder", time.Minute)
			}
		}
		return false
	})
	r := c.run("", "logout", "--profile", "p")
	if !stolen.Load() {
		t.Fatalf("no revocation request: %v", r)
	}
	if n := len(redisKeys(t, rc, "{authloop}:rec:*")); n != 1 {
		t.Fatalf("records in Redis after the logout: %d, want 1 (the delete was refused)", n)
	}
	if strings.Contains(r.stderr, "nothing was revoked") || strings.Contains(r.stderr, "revocation failed") || strings.Contains(r.stderr, "Logged out") {
		t.Errorf("logout does not tell what happened:\n%v", r)
	}
	for _, want := range []string{"the server revoked the grant", "the record remains in Redis at redis://" + rs.Addr() + "/0: it refused the delete"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("logout's stderr lacks %q:\n%v", want, r)
		}
	}
	if r.code != exitFailure {
		t.Errorf("logout whose delete Redis refused: exit %d, want %d", r.code, exitFailure)
	}
	checkErrorShape(t, r.stderr)
}

// TestAdvRedisStoreSwitchLeavesFileRecord: a profile signed in with the
// file store, then `authloop login --store redis://…` for the same server
// and client. The new sign-in goes to Redis; the old one's record file,
// with its live refresh token, stays on disk: nothing revokes or deletes
// it (endPrevious looks for previous sign-ins in the new store only), and
// from then on no command sees it (status and logout look in Redis). A
// logout then says the tokens are deleted while a working refresh token
// of the profile is still in a file here. Switching stores should end the
// sign-in kept in the old store (revoke and delete, as a switch of issuer
// does), or at least delete it and say so.
func TestAdvRedisStoreSwitchLeavesFileRecord(t *testing.T) {
	buildBinary(t)
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "p", "--store", "file")
	fileTok := readRecordTokens(t, c)
	if fileTok.RefreshToken == "" {
		t.Fatal("no refresh token in the file store after login")
	}
	c.mustLogin(srv, "p", "--store", "redis://"+rs.Addr()+"/0")
	if r := c.run("", "logout", "--profile", "p"); r.code != 0 {
		t.Fatalf("logout: %v", r)
	}
	var left []string
	for _, f := range configFiles(t, c) {
		if strings.HasSuffix(f, ".json") && !strings.HasPrefix(f, filepath.Join("authloop", "profiles")+string(filepath.Separator)) {
			left = append(left, f)
		}
	}
	if len(left) != 0 {
		t.Errorf("record files left in the configuration directory after the switch to Redis and a logout: %v (the file store's record of the first sign-in)", left)
	}
	// The first sign-in's refresh token still works at the server: its
	// grant was never revoked.
	if alive := refreshWorks(t, srv, fileTok.RefreshToken); alive {
		t.Errorf("the refresh token of the sign-in kept in the file store still works at the server after the switch and a logout")
	}
}

// refreshWorks reports whether the server still takes rt (it rotates it).
func refreshWorks(t *testing.T, srv *oauthtest.Server, rt string) bool {
	t.Helper()
	oc := &oauth2.Config{ClientID: srv.ClientID(), Endpoint: srv.Endpoint()}
	_, err := oc.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
	return err == nil
}

// TestAdvRedisSealedProfileTakesRecordInClear: a profile signed in with a
// secret key (its records sealed, AES-GCM bound to the key they are filed
// under, so that a record moved under another key does not open) reads a
// record in clear without a word: whoever may write to Redis, without the
// key, puts a record of their own tokens at the profile's key, and
// `authloop token` hands out their access token (the session adopts the
// planted grant, and seals it at its next save). redisstore reads a record
// in clear so that a store can take a key later; a profile that was sealed
// from its login (Profile.RedisSealed) should refuse one (exit 1, as for a
// record sealed with another key: "altered").
func TestAdvRedisSealedProfileTakesRecordInClear(t *testing.T) {
	buildBinary(t)
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	keyB64 := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	c.mustLogin(srv, "p", "--store", "redis://"+rs.Addr()+"/0", "--redis-secret-key-file", writePrivate(t, "key", keyB64+"\n"))

	ctx := context.Background()
	key, err := redisstore.ParseSecretKey(keyB64)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := redisstore.New(rs.Client(), redisstore.Options{SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sealed.List(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("records: %v, %v", keys, err)
	}
	rec, err := sealed.Load(ctx, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	// The writer without the key: a record in clear, of another grant.
	clear, err := redisstore.New(rs.Client(), redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const planted = "planted-access-token"
	rec.Token.AccessToken, rec.Token.RefreshToken = planted, "planted-refresh-token"
	if _, err := clear.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	r := c.run("", "token", "--profile", "p")
	if strings.TrimSpace(r.stdout) == planted {
		t.Errorf("token of a sealed profile handed out the access token of a record planted in clear: %v", r)
	}
	if r.code != exitFailure {
		t.Errorf("token of a sealed profile whose record is in clear: exit %d, want %d (refused as altered)", r.code, exitFailure)
	}
}

// TestAdvRedisPlainTCPToAnotherMachine: `--store redis://HOST` with a
// host that is not this machine sends the refresh tokens (in clear unless
// a secret key seals them) and the Redis password (AUTH) over plain TCP,
// without a word. The command refuses ?skip_verify because "it would send
// the tokens to whoever answers", and the library refuses http:// for
// every OAuth endpoint outside loopback (docs/SECURITY.md, "Plain-http
// endpoints outside the machine"); a plain redis:// to another machine
// does the same as both. It should be refused as a usage error (exit 2)
// naming rediss://, as http:// is (or take an explicit opt-in), before
// anything is sent. redis.invalid never resolves: today's run fails
// later, as Redis unreachable.
func TestAdvRedisPlainTCPToAnotherMachine(t *testing.T) {
	buildBinary(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	r := c.run("", "login", "--profile", "p", "--no-browser", "--issuer", srv.Issuer(), "--client-id", srv.ClientID(),
		"--store", "redis://authloop@redis.invalid:6379/0")
	if r.code != exitUsage || !strings.Contains(r.stderr, "rediss://") {
		t.Errorf("login --store redis:// to another machine (plain TCP): %v; want exit %d naming rediss://", r, exitUsage)
	}
	// Loopback stays allowed (tests, a local Redis).
	if _, err := parseRedisURL("redis://127.0.0.1:6379/0"); err != nil {
		t.Errorf("redis:// on loopback: %v", err)
	}
}

// TestAdvRedisLoginDeletesNewerSchemaRecord: a fleet upgrading authloop
// one machine at a time. A newer authloop writes the shared record in a
// newer envelope (schema 2); redisstore refuses it as corrupt rather than
// half understood ("schema version 2, but this version of authloop reads
// only version 1 (was it written by a newer authloop?)"). The older
// command's token exits 1 with "Redis at URL failed: reading the saved
// session issuer … from the Redis store at…": the cause is clipped away,
// and "check Redis" points elsewhere. A login then clears the "corrupt"
// record (clearCorrupt): on Redis, Delete removes it outright, so one old
// machine's login wipes the sign-in every newer machine shares (not
// revoked, nothing kept aside, as the file store keeps a corrupt file).
// A record of another schema should be refused without being deleted,
// saying to update authloop.
func TestAdvRedisLoginDeletesNewerSchemaRecord(t *testing.T) {
	buildBinary(t)
	rs := redistest.Start(t)
	rc := rs.Client()
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	url := "redis://" + rs.Addr() + "/0"
	c.mustLogin(srv, "p", "--store", url)
	ctx := context.Background()
	recs := redisKeys(t, rc, "{authloop}:rec:*")
	if len(recs) != 1 {
		t.Fatalf("records: %v", recs)
	}
	data, err := rc.HGet(ctx, recs[0], "data").Result()
	if err != nil || !strings.Contains(data, `"schema":1`) {
		t.Fatalf("the record's envelope (%v): %.60s", err, data)
	}
	newer := strings.Replace(data, `"schema":1`, `"schema":2`, 1)
	if err := rc.HSet(ctx, recs[0], "data", newer).Err(); err != nil {
		t.Fatal(err)
	}
	r := c.run("", "token", "--profile", "p")
	if !strings.Contains(r.stderr, "newer") {
		t.Errorf("token does not say that a newer authloop wrote the record: %v", r)
	}
	c.mustLogin(srv, "p", "--store", url) // what token's hint says to do
	got, err := rc.HGet(ctx, recs[0], "data").Result()
	if err == nil && got == newer {
		return // kept
	}
	aside := redisKeys(t, rc, "*corrupt*")
	if len(aside) == 0 {
		t.Errorf("login of the older authloop deleted the newer schema's record in Redis, with nothing kept aside (keys now: %v)", redisKeys(t, rc, "*"))
	}
}

// TestAdvRedisEnvPasswordSentToEveryRedis: $AUTHLOOP_REDIS_PASSWORD is
// read at every run by every Redis profile without a password file, so
// the password meant for one Redis goes to the Redis of every other
// profile: a profile "dev" signed in to a Redis without a password, and
// later, with the variable set for a profile "corp" on another Redis,
// `authloop token --profile dev` (or `status`, or git's credential helper,
// which run every profile) sends corp's password to dev's Redis in its
// HELLO … AUTH. A profile should send the password from the environment
// only if its login took one from there (kept in the profile as "from the
// environment", as the file's path is kept).
func TestAdvRedisEnvPasswordSentToEveryRedis(t *testing.T) {
	buildBinary(t)
	rs := redistest.Start(t) // dev's Redis, without a password
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "dev", "--store", "redis://"+rs.Addr()+"/0")

	// dev's Redis from now on: a listener that records what it is sent.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var got strings.Builder
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				for {
					n, err := conn.Read(buf)
					mu.Lock()
					got.Write(buf[:n])
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	prof := filepath.Join(c.dir, "config", "authloop", "profiles", "dev.json")
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.ReplaceAll(string(b), rs.Addr(), ln.Addr().String()))
	if err := os.WriteFile(prof, b, 0o600); err != nil {
		t.Fatal(err)
	}

	const corpPassword = "corp-Redis-Passw0rd"
	c.setenv(redisPasswordEnv + "=" + corpPassword)
	r := c.run("", "token", "--profile", "dev")
	mu.Lock()
	sent := got.String()
	mu.Unlock()
	if sent == "" {
		t.Fatalf("token --profile dev did not reach dev's Redis: %v", r)
	}
	if strings.Contains(sent, corpPassword) {
		t.Errorf("token --profile dev, a profile signed in without a Redis password, sent $%s to dev's Redis", redisPasswordEnv)
	}
}

// TestAdvRedisSecretFilesWritableByOthers: the Redis password file and
// the secret key file are refused when other users may read them, but
// taken when others may write them (mode 0622): another user who may not
// read the tokens replaces the secret key with one of their own, and every
// record saved from then on is sealed with it, readable by them from a
// copy of Redis's data (the threat sealing is for); or replaces the
// password file, and the command authenticates as whom they chose. As
// ssh does for its keys, a file others may write should be refused too,
// naming chmod 600.
func TestAdvRedisSecretFilesWritableByOthers(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(key, []byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pw, []byte("a-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{key, pw} {
		if err := os.Chmod(f, 0o622); err != nil { // the umask does not apply to chmod
			t.Fatal(err)
		}
	}
	if _, err := redisstore.SecretKeyFromFile(key); err == nil {
		t.Errorf("a secret key file others may write (mode 0622) is taken")
	}
	if _, err := readRedisPassword(pw); err == nil {
		t.Errorf("a Redis password file others may write (mode 0622) is taken")
	}
}
