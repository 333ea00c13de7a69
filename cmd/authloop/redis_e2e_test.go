package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store/redisstore/redistest"
)

// The command with its tokens in a real Redis (redistest starts a
// redis-server; the tests fail, never skip, where it is missing: `make
// deps` installs it), end to end with the built binary (issue 16).

// redisKeys returns the keys of the Redis that c reaches matching pattern,
// sorted.
func redisKeys(t *testing.T, c *redis.Client, pattern string) []string {
	t.Helper()
	keys, err := c.Keys(context.Background(), pattern).Result()
	if err != nil {
		t.Fatalf("KEYS %s: %v", pattern, err)
	}
	slices.Sort(keys)
	return keys
}

// configFiles lists the files under c's configuration directory, relative
// to it.
func configFiles(t *testing.T, c *cli) []string {
	t.Helper()
	root := filepath.Join(c.dir, "config")
	var files []string
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			files = append(files, rel)
		}
		return nil
	})
	return files
}

// writePrivate writes a file of mode 0600 into the test's directory.
func writePrivate(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestE2ERedisStore: login --store redis:// keeps the tokens in Redis and
// nothing of them in files; token, status, refresh and logout then work
// from the profile alone; two profiles share one Redis, each its own
// record; logout leaves the other's record and nothing of its own.
func TestE2ERedisStore(t *testing.T) {
	buildBinary(t) // skips under -short, before a redis-server is started
	rs := redistest.Start(t)
	rc := rs.Client()
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	url := "redis://" + rs.Addr() + "/0"

	r := c.login(srv, "one", "--store", url)
	if r.code != 0 {
		t.Fatalf("login --store %s: %v", url, r)
	}
	if !strings.Contains(r.stderr, "Kept in the Redis store at "+url) {
		t.Errorf("login does not say the tokens are kept in Redis at %s:\n%s", url, r.stderr)
	}
	if recs := redisKeys(t, rc, "{authloop}:rec:*"); len(recs) != 1 {
		t.Fatalf("records in Redis after login: %v, want 1", recs)
	}
	for _, f := range configFiles(t, c) {
		if f != filepath.Join("authloop", "profiles", "one.json") {
			t.Errorf("a file beside the profile after login with the Redis store: %s", f)
		}
	}
	prof, err := os.ReadFile(filepath.Join(c.dir, "config", "authloop", "profiles", "one.json"))
	if err != nil || !strings.Contains(string(prof), `"store": "`+url+`"`) {
		t.Fatalf("the profile does not keep the Redis URL (%v):\n%s", err, prof)
	}

	r = c.run("", "token", "--profile", "one")
	if r.code != 0 || !srv.ValidAccessToken(strings.TrimSpace(r.stdout)) {
		t.Fatalf("token: %v", r)
	}
	first := strings.TrimSpace(r.stdout)
	r = c.run("", "status", "--profile", "one")
	if r.code != 0 || !strings.Contains(r.stdout, "Redis store at "+url) {
		t.Errorf("status does not say where the tokens live (Redis store at %s): %v", url, r)
	}
	n := srv.Count("token")
	r = c.run("", "refresh", "--profile", "one")
	if r.code != 0 || srv.Count("token") != n+1 {
		t.Fatalf("refresh: %v (token requests %d, want %d)", r, srv.Count("token"), n+1)
	}
	r = c.run("", "token", "--profile", "one")
	if tok := strings.TrimSpace(r.stdout); r.code != 0 || tok == first || !srv.ValidAccessToken(tok) {
		t.Errorf("token after refresh: the refreshed token, read from Redis, not the first: %v", r)
	}

	c.mustLogin(srv, "two", "--store", url)
	recs := redisKeys(t, rc, "{authloop}:rec:*")
	if len(recs) != 2 {
		t.Fatalf("records in Redis with two profiles: %v, want 2", recs)
	}
	if r := c.run("", "logout", "--profile", "one"); r.code != 0 {
		t.Fatalf("logout: %v", r)
	}
	left := redisKeys(t, rc, "{authloop}:*")
	if got := redisKeys(t, rc, "{authloop}:rec:*"); len(got) != 1 {
		t.Errorf("records after logging profile one out: %v, want profile two's only", got)
	}
	if r := c.run("", "token", "--profile", "two"); r.code != 0 || !srv.ValidAccessToken(strings.TrimSpace(r.stdout)) {
		t.Errorf("token of profile two after one logged out: %v", r)
	}
	if r := c.run("", "token", "--profile", "one"); r.code != exitLoginRequired {
		t.Errorf("token of the logged-out profile: %v, want exit %d", r, exitLoginRequired)
	}
	for _, k := range left {
		if strings.Contains(k, ":lock:") {
			t.Errorf("a lock left in Redis after the commands ended: %s", k)
		}
	}
}

// TestE2ERedisPrefix: the URL's prefix parameter puts the keys under it,
// and status names it.
func TestE2ERedisPrefix(t *testing.T) {
	buildBinary(t) // skips under -short, before a redis-server is started
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	url := "redis://" + rs.Addr() + "/2?prefix=team-a:"
	c.mustLogin(srv, "p", "--store", url)
	db2 := redis.NewClient(&redis.Options{Addr: rs.Addr(), DB: 2})
	defer db2.Close()
	if keys := redisKeys(t, db2, "team-a:rec:*"); len(keys) != 1 {
		t.Errorf("records under team-a: in database 2: %v, want 1", keys)
	}
	if r := c.run("", "status", "--profile", "p"); r.code != 0 || !strings.Contains(r.stdout, `(keys under "team-a:")`) {
		t.Errorf("status: %v", r)
	}
}

// TestE2ERedisPasswordInURLRefused: a Redis URL with a password is a usage
// error (exit 2) that says where the password goes, and never prints it,
// nor keeps a profile; so is one that does not parse.
func TestE2ERedisPasswordInURLRefused(t *testing.T) {
	buildBinary(t)
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	const pw = "Sup3rSecretRedisPw"
	for _, url := range []string{
		"redis://authloop:" + pw + "@" + rs.Addr() + "/0",
		"redis://:" + pw + "@" + rs.Addr() + "/0",
		"rediss://authloop:" + pw + "@" + rs.Addr() + ":notaport/0", // does not parse
		"redis://authloop:" + pw + "%zz@" + rs.Addr() + "/0",        // does not parse
	} {
		r := c.run("", "login", "--profile", "p", "--no-browser", "--issuer", srv.Issuer(), "--client-id", srv.ClientID(), "--store", url)
		if r.code != exitUsage {
			t.Errorf("login --store with a password in the URL: %v, want exit %d", r, exitUsage)
		}
		if strings.Contains(r.stdout+r.stderr, pw) || strings.Contains(r.stdout+r.stderr, pw[:8]) {
			t.Errorf("the password is printed:\n%v", r)
		}
		if !strings.Contains(url, "%zz") && !strings.Contains(url, "notaport") && (!strings.Contains(r.stderr, redisPasswordEnv) || !strings.Contains(r.stderr, "--redis-password-file")) {
			t.Errorf("the message does not say where the password goes (%s or --redis-password-file):\n%s", redisPasswordEnv, r.stderr)
		}
	}
	if files := configFiles(t, c); len(files) != 0 {
		t.Errorf("files kept after refused logins: %v", files)
	}
	if srv.Count("authorize")+srv.Count("token") != 0 {
		t.Errorf("the server was asked before the usage error")
	}
}

// TestE2ERedisACLPassword: a Redis with an ACL user and password; the
// password from $AUTHLOOP_REDIS_PASSWORD, then from --redis-password-file
// (the profile keeps the file's path, never the password); a wrong one
// exits 1 naming the credentials and not the password; a password file
// others may read is refused.
func TestE2ERedisACLPassword(t *testing.T) {
	buildBinary(t) // skips under -short, before a redis-server is started
	const pw = "acl-Passw0rd-4-authloop"
	rs := redistest.StartWith(t, redistest.Config{User: "authloop", Password: pw})
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	url := "redis://authloop@" + rs.Addr() + "/0"
	profile := filepath.Join(c.dir, "config", "authloop", "profiles", "p.json")

	// No password: refused by Redis, exit 1, the credentials named.
	r := c.login(srv, "p", "--store", url)
	if r.code != exitFailure || !strings.Contains(r.stderr, "credentials") || !strings.Contains(r.stderr, url) {
		t.Errorf("login without the password: %v, want exit 1 naming the credentials and %s", r, url)
	}

	c.setenv(redisPasswordEnv + "=" + pw)
	r = c.login(srv, "p", "--store", url)
	if r.code != 0 {
		t.Fatalf("login with %s: %v", redisPasswordEnv, r)
	}
	if r := c.run("", "token", "--profile", "p"); r.code != 0 || !srv.ValidAccessToken(strings.TrimSpace(r.stdout)) {
		t.Errorf("token with %s: %v", redisPasswordEnv, r)
	}
	c.setenv(redisPasswordEnv + "=wrong-" + pw)
	r = c.run("", "token", "--profile", "p")
	if r.code != exitFailure || !strings.Contains(r.stderr, "credentials") || strings.Contains(r.stdout+r.stderr, pw) {
		t.Errorf("token with a wrong password: %v, want exit 1 naming the credentials, without the password", r)
	}

	file := writePrivate(t, "redis-password", pw+"\n")
	c.setenv(redisPasswordEnv + "=")
	if r := c.login(srv, "p", "--store", url, "--redis-password-file", file); r.code != 0 {
		t.Fatalf("login --redis-password-file: %v", r)
	}
	b, err := os.ReadFile(profile)
	if err != nil || !strings.Contains(string(b), `"redis_password_file": "`+file+`"`) || strings.Contains(string(b), pw) {
		t.Errorf("the profile must name the password file and never hold the password (%v):\n%s", err, b)
	}
	if r := c.run("", "token", "--profile", "p"); r.code != 0 || !srv.ValidAccessToken(strings.TrimSpace(r.stdout)) {
		t.Errorf("token with the password file: %v", r)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	r = c.run("", "token", "--profile", "p")
	if r.code != exitFailure || !strings.Contains(r.stderr, "chmod 600 "+file) || strings.Contains(r.stdout+r.stderr, pw) {
		t.Errorf("token with a password file others may read: %v, want exit 1 saying chmod 600", r)
	}
}

// TestE2ERedisTLS: rediss:// to a TLS-only Redis whose certificate this
// machine does not trust exits 1 saying so and how to trust it; with
// SSL_CERT_FILE naming it, login and token work.
func TestE2ERedisTLS(t *testing.T) {
	buildBinary(t) // skips under -short, before a redis-server is started
	rs := redistest.StartWith(t, redistest.Config{TLS: true})
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	url := "rediss://" + rs.Addr() + "/0"
	r := c.login(srv, "p", "--store", url)
	if r.code != exitFailure || !strings.Contains(r.stderr, "TLS certificate is not trusted") || !strings.Contains(r.stderr, "SSL_CERT_FILE") {
		t.Errorf("login to a Redis with an untrusted certificate: %v, want exit 1 naming the certificate and SSL_CERT_FILE", r)
	}
	c.setenv("SSL_CERT_FILE=" + filepath.Join(rs.Dir(), "cert.pem"))
	if r := c.login(srv, "p", "--store", url); r.code != 0 {
		t.Fatalf("login --store %s: %v", url, r)
	}
	if r := c.run("", "token", "--profile", "p"); r.code != 0 || !srv.ValidAccessToken(strings.TrimSpace(r.stdout)) {
		t.Errorf("token over TLS: %v", r)
	}
	if keys := redisKeys(t, rs.Client(), "{authloop}:rec:*"); len(keys) != 1 {
		t.Errorf("records in Redis: %v, want 1", keys)
	}
}

// TestE2ERedisDown: with Redis stopped, every command that needs the
// tokens (and a new login, before it asks the server anything) exits 4
// naming Redis and its address, and says to check that it runs and to try
// again later (the command keeps nothing between runs, so
// even a still-valid access token cannot be read); once Redis is back,
// token works again.
func TestE2ERedisDown(t *testing.T) {
	buildBinary(t) // skips under -short, before a redis-server is started
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	url := "redis://" + rs.Addr() + "/0"
	c.mustLogin(srv, "p", "--store", url, "--git-host", "git.example.com")
	rs.Stop()
	r := c.run("protocol=https\nhost=git.example.com\n\n", "git-credential", "get")
	if r.code != exitUnreachable || !strings.Contains(r.stderr, "Redis at "+url) {
		t.Errorf("git-credential get with Redis stopped: %v, want exit %d naming Redis", r, exitUnreachable)
	}
	for _, args := range [][]string{
		{"token", "--profile", "p"},
		{"refresh", "--profile", "p"},
		{"status", "--profile", "p"},
		{"logout", "--profile", "p"},
		{"status"}, // every profile
	} {
		r := c.run("", args...)
		if r.code != exitUnreachable {
			t.Errorf("authloop %s with Redis stopped: %v, want exit %d", strings.Join(args, " "), r, exitUnreachable)
			continue
		}
		for _, want := range []string{"Redis at " + url, "running", "try again later"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("authloop %s with Redis stopped: stderr lacks %q:\n%s", args[0], want, r.stderr)
			}
		}
	}
	// A new login: fails before the browser, nothing asked of the server.
	n := srv.Count("authorize")
	if r := c.login(srv, "q", "--store", url); r.code != exitUnreachable || !strings.Contains(r.stderr, "Redis at "+url) || srv.Count("authorize") != n {
		t.Errorf("login --store %s with Redis stopped: %v, want exit %d before any authorization request", url, r, exitUnreachable)
	}
	rs.Start()
	if r := c.run("", "token", "--profile", "p"); r.code != 0 || !srv.ValidAccessToken(strings.TrimSpace(r.stdout)) {
		t.Errorf("token once Redis is back: %v", r)
	}
}

// TestE2ERedisSealed: with --redis-secret-key-file the record in Redis
// holds no token in clear, and token reads it; the profile keeps the file's
// path, not the key; a wrong key exits 1 saying which key to give; a
// profile sealed with $AUTHLOOP_REDIS_SECRET_KEY refuses to run without it.
func TestE2ERedisSealed(t *testing.T) {
	buildBinary(t) // skips under -short, before a redis-server is started
	rs := redistest.Start(t)
	rc := rs.Client()
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	url := "redis://" + rs.Addr() + "/0"
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	other := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	keyFile := writePrivate(t, "redis-key", key+"\n")

	c.mustLogin(srv, "p", "--store", url, "--redis-secret-key-file", keyFile)
	r := c.run("", "token", "--profile", "p")
	tok := strings.TrimSpace(r.stdout)
	if r.code != 0 || !srv.ValidAccessToken(tok) {
		t.Fatalf("token, sealed: %v", r)
	}
	recs := redisKeys(t, rc, "{authloop}:rec:*")
	if len(recs) != 1 {
		t.Fatalf("records: %v", recs)
	}
	data, err := rc.HGet(context.Background(), recs[0], "data").Result()
	if err != nil || !strings.Contains(data, `"sealed"`) || strings.Contains(data, tok) {
		t.Errorf("the record in Redis is not sealed, or holds the access token (%v):\n%s", err, data)
	}
	b, _ := os.ReadFile(filepath.Join(c.dir, "config", "authloop", "profiles", "p.json"))
	if !strings.Contains(string(b), `"redis_secret_key_file": "`+keyFile+`"`) || strings.Contains(string(b), key) {
		t.Errorf("the profile must name the key file, never hold the key:\n%s", b)
	}

	if err := os.WriteFile(keyFile, []byte(other+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = c.run("", "token", "--profile", "p")
	if r.code != exitFailure || !strings.Contains(r.stderr, "another secret key") || !strings.Contains(r.stderr, "--redis-secret-key-file") ||
		strings.Contains(r.stdout+r.stderr, key) || strings.Contains(r.stdout+r.stderr, other) {
		t.Errorf("token with a wrong key: %v, want exit 1 saying which key to give, never a key", r)
	}

	// Sealed with the key from the environment.
	c.setenv(redisSecretKeyEnv + "=" + key)
	c.mustLogin(srv, "env", "--store", url)
	if r := c.run("", "token", "--profile", "env"); r.code != 0 {
		t.Errorf("token with %s: %v", redisSecretKeyEnv, r)
	}
	c.setenv(redisSecretKeyEnv + "=")
	r = c.run("", "token", "--profile", "env")
	if r.code != exitFailure || !strings.Contains(r.stderr, redisSecretKeyEnv) {
		t.Errorf("token of a sealed profile without its key: %v, want exit 1 naming %s", r, redisSecretKeyEnv)
	}
}

// TestE2ERedisHung: a Redis that accepts connections but does not answer
// (SIGSTOP) is unreachable too: token gives up (go-redis's read timeout)
// and exits 4 naming Redis, rather than hang.
func TestE2ERedisHung(t *testing.T) {
	buildBinary(t) // skips under -short, before a redis-server is started
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	url := "redis://" + rs.Addr() + "/0"
	c.mustLogin(srv, "p", "--store", url)
	rs.Pause()
	r := c.run("", "token", "--profile", "p") // c.run's 2-minute deadline catches a hang
	rs.Resume()
	if r.code != exitUnreachable || !strings.Contains(r.stderr, "Redis at "+url) || !strings.Contains(r.stderr, "try again later") {
		t.Errorf("token with Redis paused: %v, want exit %d naming Redis", r, exitUnreachable)
	}
}

// TestE2ERedisOneRefreshFromManyProcesses: several `authloop token`
// processes of one Redis profile, started together when the token needs a
// refresh, refresh it once (under redisstore's lease) and all print the
// new token; against a server that rotates refresh tokens and revokes the
// grant on reuse, a second refresh would have failed.
func TestE2ERedisOneRefreshFromManyProcesses(t *testing.T) {
	buildBinary(t) // skips under -short, before a redis-server is started
	rs := redistest.Start(t)
	srv := oauthtest.NewServer(oauthtest.Config{AccessTokenTTL: 4 * time.Second})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "p", "--store", "redis://"+rs.Addr()+"/0")
	first := c.run("", "token", "--profile", "p")
	// --min-valid is capped at half the token's lifetime: past 2 s, every
	// token call refreshes first.
	time.Sleep(2500 * time.Millisecond)
	n := srv.Count("token")
	const procs = 6
	results := make([]result, procs)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Go(func() { results[i] = c.run("", "token", "--profile", "p") })
	}
	wg.Wait()
	if got := srv.Count("token") - n; got != 1 {
		t.Errorf("%d token requests from %d processes, want 1 refresh", got, procs)
	}
	for i, r := range results {
		tok := strings.TrimSpace(r.stdout)
		if r.code != 0 || tok == strings.TrimSpace(first.stdout) || !srv.ValidAccessToken(tok) || tok != strings.TrimSpace(results[0].stdout) {
			t.Errorf("process %d: %v; want the one refreshed token", i, r)
		}
	}
}
