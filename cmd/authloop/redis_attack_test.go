//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
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

// TestRedisStoreSwitchEndsPreviousSignIn: a profile signed in with one
// store, then `authloop login --store` another for the same server and
// client (the same record key). The login ends the sign-in kept in the
// old store as a switch of issuer ends one: its grant is revoked and its
// record deleted there, and status lists no previous sign-in. Was:
// endPrevious looked for previous sign-ins in the new store only, so the
// old record, its refresh token live at the server, stayed behind unknown
// to every command (a logout said the tokens were deleted). When the old
// store cannot be reached (Redis down), the sign-in there is kept and
// listed, by status too, and ended by a logout once Redis is back.
func TestRedisStoreSwitchEndsPreviousSignIn(t *testing.T) {
	buildBinary(t)
	rs := redistest.Start(t)
	rc := rs.Client()
	url := "redis://" + rs.Addr() + "/0"
	ctx := context.Background()
	redisRefresh := func(t *testing.T) string {
		t.Helper()
		recs := redisKeys(t, rc, "{authloop}:rec:*")
		if len(recs) != 1 {
			t.Fatalf("records in Redis: %v", recs)
		}
		data, err := rc.HGet(ctx, recs[0], "data").Result()
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			Record struct {
				Token struct {
					RefreshToken string `json:"refresh_token"`
				} `json:"token"`
			} `json:"record"`
		}
		decodeJSON(t, data, &env)
		if env.Record.Token.RefreshToken == "" {
			t.Fatal("no refresh token in the Redis record")
		}
		return env.Record.Token.RefreshToken
	}
	recordFilesLeft := func(c *cli) []string {
		var left []string
		for _, f := range configFiles(t, c) {
			if strings.HasSuffix(f, ".json") && !strings.HasPrefix(f, filepath.Join("authloop", "profiles")+string(filepath.Separator)) {
				left = append(left, f)
			}
		}
		return left
	}
	ended := func(t *testing.T, c *cli, r result, in string, srv *oauthtest.Server, oldRT string) {
		t.Helper()
		if r.code != 0 || !strings.Contains(r.stderr, "Ended the previous sign-in of profile p at "+srv.Issuer()) || !strings.Contains(r.stderr, in) {
			t.Errorf("login with another store: want it to say it ended the previous sign-in%s: %v", in, r)
		}
		if refreshWorks(t, srv, oldRT) {
			t.Errorf("the refresh token of the sign-in kept in the old store still works at the server")
		}
		if st := c.run("", "status", "--profile", "p"); st.code != 0 || strings.Contains(st.stdout, "previous") {
			t.Errorf("status after the switch: %v", st)
		}
		if tk := c.run("", "token", "--profile", "p"); tk.code != 0 || !srv.ValidAccessToken(strings.TrimSpace(tk.stdout)) {
			t.Errorf("token after the switch: %v", tk)
		}
	}

	t.Run("file to redis", func(t *testing.T) {
		srv := oauthtest.NewServer(oauthtest.Config{})
		defer srv.Close()
		c := newCLI(t)
		c.mustLogin(srv, "p", "--store", "file")
		fileTok := readRecordTokens(t, c)
		if fileTok.RefreshToken == "" {
			t.Fatal("no refresh token in the file store after login")
		}
		r := c.login(srv, "p", "--store", url)
		if left := recordFilesLeft(c); len(left) != 0 {
			t.Errorf("record files left after the switch to Redis: %v", left)
		}
		ended(t, c, r, "in the file store", srv, fileTok.RefreshToken)
		if r := c.run("", "logout", "--profile", "p"); r.code != 0 {
			t.Errorf("logout: %v", r)
		}
		if keys := redisKeys(t, rc, "{authloop}:rec:*"); len(keys) != 0 {
			t.Errorf("records in Redis after logout: %v", keys)
		}
	})

	t.Run("redis to file", func(t *testing.T) {
		srv := oauthtest.NewServer(oauthtest.Config{})
		defer srv.Close()
		c := newCLI(t)
		c.mustLogin(srv, "p", "--store", url)
		oldRT := redisRefresh(t)
		r := c.login(srv, "p", "--store", "file")
		if keys := redisKeys(t, rc, "{authloop}:*"); len(keys) != 0 {
			t.Errorf("keys left in Redis after the switch to the file store: %v", keys)
		}
		ended(t, c, r, "in Redis at "+url, srv, oldRT)
		if len(recordFilesLeft(c)) != 1 {
			t.Errorf("record files: %v, want the new sign-in's", recordFilesLeft(c))
		}
	})

	t.Run("same redis under another name", func(t *testing.T) {
		// redis://HOST:PORT is database 0 as redis://HOST:PORT/0 is: the
		// login writes the same record, which is the current sign-in,
		// never a previous one to end.
		srv := oauthtest.NewServer(oauthtest.Config{})
		defer srv.Close()
		c := newCLI(t)
		c.mustLogin(srv, "p", "--store", url)
		r := c.login(srv, "p", "--store", "redis://"+rs.Addr())
		if r.code != 0 || strings.Contains(r.stderr, "previous sign-in") || srv.Count("revoke") != 0 {
			t.Errorf("login to the same Redis under another name ended a sign-in (%d revocations): %v", srv.Count("revoke"), r)
		}
		if refreshWorks(t, srv, redisRefresh(t)) == false {
			t.Errorf("the record in Redis is not the live sign-in")
		}
		if st := c.run("", "status", "--profile", "p"); strings.Contains(st.stdout, "previous") {
			t.Errorf("status: %v", st)
		}
		rc.FlushDB(ctx)
	})

	t.Run("redis down at the switch", func(t *testing.T) {
		srv := oauthtest.NewServer(oauthtest.Config{})
		defer srv.Close()
		c := newCLI(t)
		c.mustLogin(srv, "p", "--store", url)
		oldRT := redisRefresh(t)
		rs.Stop()
		restarted := false
		defer func() {
			if !restarted {
				rs.Start()
			}
		}()
		r := c.login(srv, "p", "--store", "file")
		if r.code != 0 || !strings.Contains(r.stderr, "previous sign-in of profile p at "+srv.Issuer()) || !strings.Contains(r.stderr, "in Redis at "+url) || !strings.Contains(r.stderr, "still kept") {
			t.Errorf("login to the file store with the old Redis down: want it kept and said so: %v", r)
		}
		st := c.run("", "status", "--profile", "p")
		if st.code != 0 || !strings.Contains(st.stdout, "still holds a previous sign-in at "+srv.Issuer()) || !strings.Contains(st.stdout, "in Redis at "+url) {
			t.Errorf("status does not list the sign-in kept in Redis: %v", st)
		}
		if lo := c.run("", "logout", "--profile", "p"); lo.code != 1 || !strings.Contains(lo.stderr, "still kept") {
			t.Errorf("logout with the old Redis still down: want it to say the previous sign-in is kept: %v", lo)
		}
		rs.Start()
		restarted = true
		if rt := redisRefresh(t); rt != oldRT {
			t.Fatal("the record kept in Redis changed while Redis was down")
		}
		lo := c.run("", "logout", "--profile", "p")
		if lo.code != 0 || !strings.Contains(lo.stderr, "Ended the previous sign-in of profile p at "+srv.Issuer()) {
			t.Errorf("logout with Redis back: %v", lo)
		}
		if refreshWorks(t, srv, oldRT) {
			t.Errorf("the refresh token of the sign-in kept in Redis still works at the server after the logout")
		}
		if keys := redisKeys(t, rc, "{authloop}:rec:*"); len(keys) != 0 {
			t.Errorf("records in Redis after logout: %v", keys)
		}
		if st := c.run("", "status", "--profile", "p"); strings.Contains(st.stdout, "previous") {
			t.Errorf("status after logout: %v", st)
		}
	})
}

// refreshWorks reports whether the server still takes rt (it rotates it).
func refreshWorks(t *testing.T, srv *oauthtest.Server, rt string) bool {
	t.Helper()
	oc := &oauth2.Config{ClientID: srv.ClientID(), Endpoint: srv.Endpoint()}
	_, err := oc.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
	return err == nil
}

// TestRedisSealedProfileRefusesRecordInClear: a profile signed in with a
// secret key (its records sealed, AES-GCM bound to the key they are filed
// under) refuses a record in clear: whoever may write to Redis, without
// the key, puts a record of their own tokens at the profile's key, and
// `authloop token` exits 1 without handing out their access token (the
// store is opened with redisstore.Options.RequireSealed), saying the
// record is not sealed and to sign in again; a login then overwrites it,
// sealed, and token works again; logout deletes one (without revoking its
// tokens). (Found by the adversary: the planted grant was adopted.)
func TestRedisSealedProfileRefusesRecordInClear(t *testing.T) {
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
	if r.code != exitFailure || !strings.Contains(r.stderr, "not sealed") || !strings.Contains(r.stderr, "authloop login --profile p") ||
		strings.Contains(r.stdout+r.stderr, "planted-") {
		t.Errorf("token of a sealed profile whose record is in clear: %v; want exit %d saying it is not sealed and to log in, with no planted token", r, exitFailure)
	}
	// The hint's way out: a login overwrites the planted record, sealed.
	c.mustLogin(srv, "p", "--store", "redis://"+rs.Addr()+"/0")
	if r := c.run("", "token", "--profile", "p"); r.code != 0 || !srv.ValidAccessToken(strings.TrimSpace(r.stdout)) {
		t.Errorf("token after a new login over the record in clear: %v", r)
	}
	if rec, err := sealed.Load(ctx, keys[0]); err != nil || rec.Token.AccessToken == planted {
		t.Errorf("the record after the new login: %v, %v", rec, err)
	}
	data, err := rs.Client().HGet(ctx, "{authloop}:rec:"+keys[0].ID(), "data").Result()
	if err != nil || !strings.Contains(data, `"sealed"`) {
		t.Errorf("the record after the new login is not sealed (%v): %.60s", err, data)
	}
	// Planted again: logout deletes it (a sealed profile never uses it).
	if _, err := clear.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if r := c.run("", "logout", "--profile", "p"); r.code != 0 {
		t.Errorf("logout of a sealed profile whose record is in clear: %v", r)
	}
	if left := redisKeys(t, rs.Client(), "{authloop}:rec:*"); len(left) != 0 {
		t.Errorf("logout left the record in clear: %v", left)
	}
}

// TestRedisPlainTCPToAnotherMachineRefused: `--store redis://HOST` with a
// host that is not this machine would send the refresh tokens (in clear
// unless a secret key seals them) and the Redis password (AUTH) over plain
// TCP; as the library refuses http:// for every OAuth endpoint outside
// loopback, login refuses it as a usage error (exit 2) naming rediss://,
// before anything is sent. redis:// on loopback (127.0.0.1, ::1,
// localhost) stays allowed, and rediss:// anywhere. (Found by the
// adversary: it was accepted without a word.)
func TestRedisPlainTCPToAnotherMachineRefused(t *testing.T) {
	buildBinary(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	r := c.run("", "login", "--profile", "p", "--no-browser", "--issuer", srv.Issuer(), "--client-id", srv.ClientID(),
		"--store", "redis://authloop@redis.invalid:6379/0")
	if r.code != exitUsage || !strings.Contains(r.stderr, "rediss://") {
		t.Errorf("login --store redis:// to another machine (plain TCP): %v; want exit %d naming rediss://", r, exitUsage)
	}
	if !strings.Contains(r.stderr, "rediss://authloop@redis.invalid:6379/0") {
		t.Errorf("login --store redis:// to another machine: the message does not give the rediss:// URL: %v", r)
	}
	for _, u := range []string{"redis://redis.example.com/0", "redis://10.0.0.7:6379", "redis://[2001:db8::1]:6379", "REDIS://redis.example.com", "redis://localhost.example.com", "redis://127.0.0.1.nip.io"} {
		if _, err := parseRedisURL(u); !errors.Is(err, errPlainRedis) || !strings.Contains(err.Error(), "rediss://") {
			t.Errorf("parseRedisURL(%q): %v, want errPlainRedis naming rediss://", u, err)
		}
	}
	// Loopback stays allowed (tests, a local Redis), and TLS anywhere.
	for _, u := range []string{"redis://127.0.0.1:6379/0", "redis://[::1]:6379", "redis://localhost", "redis://LocalHost:6379", "rediss://redis.example.com/0"} {
		if _, err := parseRedisURL(u); err != nil {
			t.Errorf("parseRedisURL(%q): %v", u, err)
		}
	}
}

// TestRedisNewerSchemaRecordKeptAndUpgradeSaid: a fleet upgrading
// authloop one machine at a time. A newer authloop writes the shared
// record in a newer envelope (schema 2). The older command's token and
// status say that a newer authloop wrote it and to upgrade authloop here
// (exit 1), rather than "Redis failed" with the cause clipped; its login
// and logout refuse the same way (exit 1) and leave the record as it was,
// the sign-in every newer machine shares, where they used to delete it as
// a corrupt one (login's clearCorrupt; on Redis, Delete keeps nothing
// aside). No token is requested or revoked.
func TestRedisNewerSchemaRecordKeptAndUpgradeSaid(t *testing.T) {
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
	requests := len(srv.Requests())
	says := func(what string, r result) {
		t.Helper()
		if r.code != 1 || !strings.Contains(r.stderr, "written by a newer authloop") || !strings.Contains(r.stderr, "upgrade authloop on this machine") {
			t.Errorf("%s of a record of a newer schema: want exit 1 saying a newer authloop wrote it and to upgrade authloop here: %v", what, r)
		}
		if got, err := rc.HGet(ctx, recs[0], "data").Result(); err != nil || got != newer {
			t.Fatalf("after %s, the record of the newer schema is no longer as it was (%v); keys now: %v", what, err, redisKeys(t, rc, "*"))
		}
	}
	says("token", c.run("", "token", "--profile", "p"))
	says("status", c.run("", "status", "--profile", "p"))
	says("login", c.login(srv, "p", "--store", url))
	says("logout", c.run("", "logout", "--profile", "p"))
	for _, q := range requestsSince(srv, requests) {
		if q.Endpoint != "metadata" { // logout looks up the revocation endpoint first
			t.Errorf("a request reached the authorization server: %v", q)
		}
	}
}

// TestRedisEnvPasswordOnlyToProfileThatTookIt: $AUTHLOOP_REDIS_PASSWORD
// goes only to the Redis of a profile whose login took the password from
// there (the profile records "redis_password_env"): a profile "dev"
// signed in to a Redis without a password, and later, with the variable
// set for another profile's Redis, `authloop token --profile dev` sends
// dev's Redis no password (no AUTH). (Found by the adversary: it was sent
// to the Redis of every profile; TestE2ERedisACLPassword shows a profile
// signed in with the variable sending it.)
func TestRedisEnvPasswordOnlyToProfileThatTookIt(t *testing.T) {
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
	if strings.Contains(string(b), "redis_password_env") {
		t.Errorf("dev, signed in without a password, records one from the environment:\n%s", b)
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

// TestRedisSecretFilesWritableByOthersRefused: the Redis password file
// and the secret key file are refused when other users may read or write
// them (any right for group or others, as ssh does for its keys), naming
// chmod 600: another user who may write them would replace the secret key
// with one of their own (every record saved from then on sealed with it,
// readable by them from a copy of Redis's data), or the password (the
// command authenticating as whom they chose). (Found by the adversary: a
// 0622 file was taken.)
func TestRedisSecretFilesWritableByOthersRefused(t *testing.T) {
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
	if _, err := redisstore.SecretKeyFromFile(key); err == nil || !strings.Contains(err.Error(), "chmod 600 "+key) {
		t.Errorf("a secret key file others may write (mode 0622): %v, want a refusal naming chmod 600", err)
	}
	for _, mode := range []os.FileMode{0o622, 0o602, 0o620, 0o640, 0o604, 0o610} {
		if err := os.Chmod(pw, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := readRedisPassword(pw); err == nil || !strings.Contains(err.Error(), "chmod 600 "+pw) || strings.Contains(err.Error(), "a-password") {
			t.Errorf("a Redis password file of mode %v: %v, want a refusal naming chmod 600, without the password", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		if err := os.Chmod(pw, mode); err != nil {
			t.Fatal(err)
		}
		if got, err := readRedisPassword(pw); err != nil || got != "a-password" {
			t.Errorf("a Redis password file of mode %v: %q, %v", mode, got, err)
		}
	}
}
