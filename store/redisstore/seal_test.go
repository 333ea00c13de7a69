package redisstore

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore/redistest"
	"github.com/authloop/authloop/store/storetest"
)

func secretKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// sealedStore is a store on srv with prefix and key.
func sealedStore(t *testing.T, srv *redistest.Server, prefix string, key []byte) *Store {
	t.Helper()
	s, err := New(srv.Client(), Options{Prefix: prefix, SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A store with a secret key keeps every promise of a store.
func TestStoreSealed(t *testing.T) {
	srv := redistest.Start(t)
	storetest.TestStore(t, func(t *testing.T) store.Store {
		return expirable{sealedStore(t, srv, fmt.Sprintf("{t%d}:", prefixes.Add(1)), secretKey(7))}
	})
}

// What Redis holds of a sealed record names none of its secrets: the
// tokens, the id token in Extra, the client secret and the registration
// access token.
func TestSealedRecordHoldsNoSecretInRedis(t *testing.T) {
	srv := redistest.Start(t)
	s := sealedStore(t, srv, "{seal}:", secretKey(1))
	ctx := ctxT(t)
	k := key(1)
	rec := &store.Record{
		Key: k,
		Token: &store.Token{AccessToken: "secret-access", RefreshToken: "secret-refresh",
			Extra: map[string]any{"id_token": "secret-id-token"}},
		Client: &store.Client{Issuer: k.Issuer, ClientID: "c", ClientSecret: "secret-client", RegistrationAccessToken: "secret-rat"},
	}
	if _, err := s.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	data, err := s.c.HGet(ctx, s.recKey(k.ID()), "data").Result()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(data, "secret") {
		t.Errorf("Redis holds a secret in clear: %s", data)
	}
	got, err := s.Load(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if got.Token.RefreshToken != "secret-refresh" || got.Client.ClientSecret != "secret-client" || got.Token.Extra["id_token"] != "secret-id-token" {
		t.Errorf("the record does not load back whole: %+v", got)
	}
}

// A record sealed with one key does not open with another, nor without a
// key, nor filed under another record's key; the errors say which.
func TestSealedRecordOpensOnlyWithItsKeyAndPlace(t *testing.T) {
	srv := redistest.Start(t)
	ctx := ctxT(t)
	s := sealedStore(t, srv, "{seal2}:", secretKey(1))
	if _, err := s.Save(ctx, testRecord(key(1), "a")); err != nil {
		t.Fatal(err)
	}
	other := sealedStore(t, srv, "{seal2}:", secretKey(2))
	if _, err := other.Load(ctx, key(1)); !errors.Is(err, ErrWrongSecretKey) {
		t.Errorf("Load with another key: %v, want ErrWrongSecretKey", err)
	}
	clear := sealedStore(t, srv, "{seal2}:", nil)
	if _, err := clear.Load(ctx, key(1)); !errors.Is(err, ErrNoSecretKey) {
		t.Errorf("Load without a key: %v, want ErrNoSecretKey", err)
	}
	// The sealed data of key 1 copied under key 2 (an attacker with write
	// access to Redis swapping records) does not open.
	if _, err := s.Save(ctx, testRecord(key(2), "b")); err != nil {
		t.Fatal(err)
	}
	data := s.c.HGet(ctx, s.recKey(key(1).ID()), "data").Val()
	s.c.HSet(ctx, s.recKey(key(2).ID()), "data", data)
	if _, err := s.Load(ctx, key(2)); !errors.Is(err, ErrWrongSecretKey) {
		t.Errorf("Load of a record moved under another key: %v, want ErrWrongSecretKey", err)
	}
}

// Records saved in clear before a key was set are read with it, and
// sealed at their next save.
func TestClearRecordSealedAtNextSave(t *testing.T) {
	srv := redistest.Start(t)
	ctx := ctxT(t)
	clear := sealedStore(t, srv, "{seal3}:", nil)
	if _, err := clear.Save(ctx, testRecord(key(1), "a")); err != nil {
		t.Fatal(err)
	}
	s := sealedStore(t, srv, "{seal3}:", secretKey(3))
	rec, err := s.Load(ctx, key(1))
	if err != nil || rec.Token.RefreshToken != "rt-a" {
		t.Fatalf("Load of a clear record with a key: %v", err)
	}
	if _, err := s.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if data := s.c.HGet(ctx, s.recKey(key(1).ID()), "data").Val(); strings.Contains(data, "rt-a") {
		t.Errorf("still in clear after a save with the key: %s", data)
	}
}

// With RequireSealed, a record in clear (put there by whoever may write
// to Redis without the key) is refused, neither returned nor sealed over;
// a save (a new sign-in) replaces it, and sealed records load as before.
func TestRequireSealedRefusesRecordInClear(t *testing.T) {
	srv := redistest.Start(t)
	ctx := ctxT(t)
	clear := sealedStore(t, srv, "{seal4}:", nil)
	if _, err := clear.Save(ctx, testRecord(key(1), "planted")); err != nil {
		t.Fatal(err)
	}
	s, err := New(srv.Client(), Options{Prefix: "{seal4}:", SecretKey: secretKey(4), RequireSealed: true})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Load(ctx, key(1))
	if !errors.Is(err, ErrNotSealed) || rec != nil {
		t.Fatalf("Load of a record in clear with RequireSealed: %v, %v; want ErrNotSealed and no record", rec, err)
	}
	if errors.Is(err, store.ErrCorrupt) || strings.Contains(err.Error(), "rt-planted") {
		t.Errorf("the refusal is not corrupt, and names no token: %v", err)
	}
	if data := s.c.HGet(ctx, s.recKey(key(1).ID()), "data").Val(); !strings.Contains(data, "rt-planted") {
		t.Errorf("the refused record was changed: %s", data)
	}
	if _, err := s.Save(ctx, testRecord(key(1), "mine")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, key(1))
	if err != nil || got.Token.RefreshToken != "rt-mine" {
		t.Errorf("Load after a save over the record in clear: %v, %v", got, err)
	}
	if _, err := New(srv.Client(), Options{RequireSealed: true}); err == nil {
		t.Error("RequireSealed without a SecretKey was accepted")
	}
}

func TestNewRefusesAKeyOfTheWrongLength(t *testing.T) {
	srv := redistest.Start(t)
	for _, n := range []int{1, 15, 20, 31, 33, 64} {
		if _, err := New(srv.Client(), Options{SecretKey: make([]byte, n)}); err == nil {
			t.Errorf("a %d-byte key was accepted", n)
		}
	}
	for _, n := range []int{16, 24, 32} {
		if _, err := New(srv.Client(), Options{SecretKey: make([]byte, n)}); err != nil {
			t.Errorf("a %d-byte key: %v", n, err)
		}
	}
}

func TestParseSecretKey(t *testing.T) {
	k := []byte("0123456789abcdef0123456789ABCDEF")
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(k),
		base64.RawStdEncoding.EncodeToString(k),
		base64.URLEncoding.EncodeToString(k),
		base64.RawURLEncoding.EncodeToString(k),
		hex.EncodeToString(k),
		" " + base64.StdEncoding.EncodeToString(k) + "\n",
	} {
		got, err := ParseSecretKey(s)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseSecretKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "not a key", base64.StdEncoding.EncodeToString(k[:20]), hex.EncodeToString(k[:31])} {
		_, err := ParseSecretKey(s)
		if err == nil {
			t.Errorf("ParseSecretKey(%q): no error", s)
			continue
		}
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("the error quotes the key: %v", err)
		}
	}
}

func TestSecretKeyFromFileAndEnv(t *testing.T) {
	k := secretKey(9)
	enc := base64.StdEncoding.EncodeToString(k)
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	if err := os.WriteFile(path, []byte(enc+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := SecretKeyFromFile(path); err != nil || !bytes.Equal(got, k) {
		t.Errorf("SecretKeyFromFile: %x, %v", got, err)
	}
	// Any right for the group or others is refused (as ssh does for its
	// keys): one who may write the file replaces the key with their own.
	for _, mode := range []os.FileMode{0o644, 0o640, 0o622, 0o602, 0o620, 0o610, 0o601} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := SecretKeyFromFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("a key file of mode %v: %v, want a refusal naming chmod 600", mode, err)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if got, err := SecretKeyFromFile(path); err != nil || !bytes.Equal(got, k) {
		t.Errorf("SecretKeyFromFile of a 0400 file: %x, %v", got, err)
	}
	if _, err := SecretKeyFromFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing key file: no error")
	}
	t.Setenv("AUTHLOOP_TEST_KEY", enc)
	if got, err := SecretKeyFromEnv("AUTHLOOP_TEST_KEY"); err != nil || !bytes.Equal(got, k) {
		t.Errorf("SecretKeyFromEnv: %x, %v", got, err)
	}
	t.Setenv("AUTHLOOP_TEST_KEY", "")
	if _, err := SecretKeyFromEnv("AUTHLOOP_TEST_KEY"); err == nil || !strings.Contains(err.Error(), "AUTHLOOP_TEST_KEY") {
		t.Errorf("an empty variable: %v, want an error naming it", err)
	}
}

// PasswordFromFile reads the first line without its end, refuses an empty
// one and (on Unix) a file others may read, never quoting the password.
func TestPasswordFromFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if pw, err := PasswordFromFile(write("ok", "s3cret-pw\r\nnext line\n", 0o600)); err != nil || pw != "s3cret-pw" {
		t.Errorf("PasswordFromFile = %q, %v; want the first line", pw, err)
	}
	if _, err := PasswordFromFile(write("empty", "\n", 0o600)); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty password: %v, want a refusal saying so", err)
	}
	if runtime.GOOS != "windows" {
		p := write("shared", "s3cret-pw\n", 0o640)
		if _, err := PasswordFromFile(p); err == nil || !strings.Contains(err.Error(), "chmod 600 "+p) || strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("a group-readable file: %v, want a refusal naming chmod 600 and not the password", err)
		}
	}
}
