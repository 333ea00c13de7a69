package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore"
)

// TestRedisStoreKeepsLeases: the wrappers a command puts around its store
// (guardedStore for the saves under way, clearCorrupt for login and
// logout) keep the Redis store's LockLease, so that the library fences a
// refresh with the lease (a holder whose lease passed to another process
// sends no token request and saves nothing). A file store stays without.
func TestRedisStoreKeepsLeases(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	rs, err := redisstore.New(c, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := &redisStore{s: rs, shown: "redis://127.0.0.1:1/0", prefix: redisstore.DefaultPrefix}
	p := &Profile{Name: "p", Issuer: "https://auth.example.com", ClientID: "c", Store: "redis://127.0.0.1:1/0"}
	for name, wrapped := range map[string]store.Store{
		"guarded":      st,
		"clearCorrupt": keepLease(&clearCorrupt{Store: st}, st),
	} {
		cfg, err := configFor(p, wrapped, sessionOptions{intr: &interrupts{}})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := cfg.Store.(store.LeaseLocker); !ok {
			t.Errorf("%s: the session's store (%T) is no store.LeaseLocker: the Redis lease would not fence refreshes", name, cfg.Store)
		}
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fs, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := configFor(p, keepLease(&clearCorrupt{Store: fs}, fs), sessionOptions{intr: &interrupts{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Store.(store.LeaseLocker); ok {
		t.Errorf("a file store's session store (%T) claims leases it does not have", cfg.Store)
	}
}

// TestParseRedisURL: what --store accepts as a Redis URL, and that no
// error quotes a password.
func TestParseRedisURL(t *testing.T) {
	const pw = "pAssw0rdXYZ"
	for _, tc := range []struct {
		url, addr, user, prefix string
		db                      int
		tls                     bool
	}{
		{url: "redis://127.0.0.1:6379/0", addr: "127.0.0.1:6379"},
		{url: "redis://localhost", addr: "localhost:6379"},
		{url: "rediss://authloop@redis.example.com:6380/3?prefix=team-a:", addr: "redis.example.com:6380", user: "authloop", prefix: "team-a:", db: 3, tls: true},
		{url: "redis://[::1]:7000/1?dial_timeout=2s", addr: "[::1]:7000", db: 1},
	} {
		tg, err := parseRedisURL(tc.url)
		if err != nil {
			t.Errorf("parseRedisURL(%q): %v", tc.url, err)
			continue
		}
		if tg.opts.Addr != tc.addr || tg.opts.Username != tc.user || tg.prefix != tc.prefix || tg.opts.DB != tc.db || (tg.opts.TLSConfig != nil) != tc.tls || tg.opts.Password != "" || !tg.opts.ContextTimeoutEnabled {
			t.Errorf("parseRedisURL(%q) = %+v, prefix %q", tc.url, tg.opts, tg.prefix)
		}
		if tg.shown != tc.url {
			t.Errorf("parseRedisURL(%q) shows %q", tc.url, tg.shown)
		}
	}
	for _, bad := range []string{
		"redis://u:" + pw + "@h:6379/0",
		"redis://:" + pw + "@h/0",
		"redis://u:" + pw + "@h:port/0",
		"redis://u:" + pw + "%zz@h/0",
		"redis://h/0?prefix=",
		"rediss://h/0?skip_verify=true",
		"redis://h/0?frobnicate=1",
		"redis://h/0?password=" + pw,
		"redis://h/0?frobnicate=" + pw,
		"redis://h/0?dial_timeout=" + pw,
		"redis://h/0?prefix=p#" + pw,
		"redis://h/x",
		"redis:///0",
		"redis://h/0#frag",
	} {
		_, err := parseRedisURL(bad)
		if err == nil {
			t.Errorf("parseRedisURL(%q) accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), pw[:6]) {
			t.Errorf("parseRedisURL(%q): the error quotes the password: %v", bad, err)
		}
	}
}

// TestScanProfileRedisFields: a Redis profile, as save writes it, is read
// by the fast path (scanProfile), field for field as json.Unmarshal reads
// it.
func TestScanProfileRedisFields(t *testing.T) {
	b := []byte(`{
  "version": 1,
  "name": "p",
  "issuer": "https://auth.example.com",
  "client_id": "c",
  "store": "redis://authloop@127.0.0.1:6379/0",
  "redis_password_file": "/home/me/.config/authloop/redis-password",
  "redis_password_env": true,
  "redis_secret_key_file": "/home/me/.config/authloop/redis-key",
  "redis_sealed": true
}`)
	p, ok := scanProfile(b)
	if !ok {
		t.Fatal("scanProfile refused a Redis profile as save writes it")
	}
	want := Profile{Version: 1, Name: "p", Issuer: "https://auth.example.com", ClientID: "c", Store: "redis://authloop@127.0.0.1:6379/0",
		RedisPasswordFile: "/home/me/.config/authloop/redis-password", RedisPasswordEnv: true, RedisSecretKeyFile: "/home/me/.config/authloop/redis-key", RedisSealed: true}
	if p.Store != want.Store || p.RedisPasswordFile != want.RedisPasswordFile || p.RedisPasswordEnv != want.RedisPasswordEnv || p.RedisSecretKeyFile != want.RedisSecretKeyFile || p.RedisSealed != want.RedisSealed || p.Name != want.Name {
		t.Errorf("scanProfile = %+v\nwant %+v", p, want)
	}
}

// TestProfileWithRedisPasswordRefused: a profile edited by hand to hold a
// Redis URL with a password is refused (exit 1, the file to fix named),
// and the message holds no part of the password.
func TestProfileWithRedisPasswordRefused(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(t.TempDir(), "config"))
	p := &Profile{Name: "p", Issuer: "https://auth.example.com", ClientID: "c", Store: "redis://127.0.0.1:6379/0"}
	if err := p.save(); err != nil {
		t.Fatal(err)
	}
	path, _ := profilePath("p")
	const pw = "hAndEditedPw"
	for _, store := range []string{"redis://u:" + pw + "@127.0.0.1:6379/0", "reddis://u:" + pw + "@127.0.0.1/0", "redis://u:" + pw + "%zz@h/0"} {
		b, _ := os.ReadFile(path)
		b = []byte(strings.Replace(string(b), `"store": "`+p.Store+`"`, `"store": "`+store+`"`, 1))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadProfile("p")
		if err == nil || strings.Contains(err.Error(), pw[:6]) || !strings.Contains(err.Error(), path) {
			t.Errorf("store %q: %v; want an error naming %s and no part of the password", store, err, path)
		}
		p.Store = store
	}
}
