package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zalando/go-keyring"
	"go.uber.org/goleak"

	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/storetest"
)

// keyringTestEnv, set to 1, makes the tests against the real OS keyring
// fail, instead of skip, when no keyring answers: CI sets it (see
// testdata/keyring-test.sh), so those tests cannot be skipped unnoticed.
const keyringTestEnv = "AUTHLOOP_KEYRING_TEST"

// keyringLeakOptions ignores the goroutines of the D-Bus session
// connection that go-keyring opens once and keeps for the process.
func keyringLeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.newConn.func1"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*Conn).inWorker"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*Conn).outWorker"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.newTail"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*tail).run"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*unixTransport).ReadMessage"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*Conn).Close"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*defaultSignalHandler).DeliverSignal"),
	}
}

var (
	osKeyringOnce sync.Once
	osKeyringErr  error
)

// needOSKeyring skips t, or fails it under AUTHLOOP_KEYRING_TEST=1, when
// the OS keyring does not answer.
func needOSKeyring(t *testing.T) {
	t.Helper()
	osKeyringOnce.Do(func() {
		osKeyringErr = store.Probe(store.OSKeyring, "authloop-test-probe", 5*time.Second)
	})
	if osKeyringErr == nil {
		return
	}
	if os.Getenv(keyringTestEnv) == "1" {
		t.Fatalf("%s=1 but the OS keyring does not answer: %v", keyringTestEnv, osKeyringErr)
	}
	t.Skipf("no OS keyring answers (%v); run `make keyring` (store/testdata/keyring-test.sh) to test against a real Secret Service", osKeyringErr)
}

// fakeKeyring is an in-memory keyring with Windows' size limit.
type fakeKeyring struct {
	mu      sync.Mutex
	items   map[string]string // service + "\x00" + user
	limit   int
	failSet error
}

func newFakeKeyring() *fakeKeyring { return &fakeKeyring{items: map[string]string{}, limit: 2560} }

func (f *fakeKeyring) Set(service, user, secret string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failSet != nil {
		return f.failSet
	}
	if len(secret) > f.limit {
		return keyring.ErrSetDataTooBig
	}
	f.items[service+"\x00"+user] = secret
	return nil
}

func (f *fakeKeyring) Get(service, user string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.items[service+"\x00"+user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return s, nil
}

func (f *fakeKeyring) Delete(service, user string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.items[service+"\x00"+user]; !ok {
		return keyring.ErrNotFound
	}
	delete(f.items, service+"\x00"+user)
	return nil
}

func (f *fakeKeyring) users() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var us []string
	for k := range f.items {
		us = append(us, k[strings.IndexByte(k, 0)+1:])
	}
	return us
}

// keyringVariant is a keyring store to test: on a fake keyring, or on the
// real one.
type keyringVariant struct {
	name string
	new  func(t *testing.T) (*store.Keyring, store.SecretBackend)
}

func keyringVariants() []keyringVariant {
	return []keyringVariant{
		{"Fake", func(t *testing.T) (*store.Keyring, store.SecretBackend) {
			fk := newFakeKeyring()
			k, err := store.NewKeyringWithBackend(filepath.Join(t.TempDir(), "authloop"), "authloop-test", fk)
			if err != nil {
				t.Fatal(err)
			}
			return k, fk
		}},
		{"OS", func(t *testing.T) (*store.Keyring, store.SecretBackend) {
			needOSKeyring(t)
			var b [6]byte
			_, _ = rand.Read(b[:])
			service := "authloop-test-" + hex.EncodeToString(b[:])
			t.Cleanup(func() { _ = keyring.DeleteAll(service) })
			k, err := store.NewKeyring(filepath.Join(t.TempDir(), "authloop"), service)
			if err != nil {
				t.Fatal(err)
			}
			return k, store.OSKeyring
		}},
	}
}

func TestKeyring(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	for _, v := range keyringVariants() {
		t.Run(v.name, func(t *testing.T) {
			storetest.TestStore(t, func(t *testing.T) store.Store { k, _ := v.new(t); return k })
		})
	}
}

func readRecordFile(t *testing.T, dir string, key store.Key) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, key.ID()+".json"))
	if err != nil {
		t.Fatal(err)
	}
	noSecrets(t, "the record file of a keyring store", string(data))
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestKeyringSecretsStayInKeyring(t *testing.T) {
	for _, v := range keyringVariants() {
		t.Run(v.name, func(t *testing.T) {
			k, _ := v.new(t)
			rec := sampleRecord(helperKey)
			rec.Token.Extra["issued_token"] = "secret-issued"
			rec.Client.RegistrationAccessToken = "secret-registration"
			rec.DPoPKey = []byte("secret-dpop-key")
			if _, err := k.Save(bg, rec); err != nil {
				t.Fatal(err)
			}
			m := readRecordFile(t, k.Dir(), helperKey)
			if ref, _ := m["keyring"].(map[string]any); ref == nil || ref["parts"] != 1.0 {
				t.Errorf("record file: keyring reference %v; want one part", m["keyring"])
			}
			if m["dpop_key"] != nil {
				t.Error("the DPoP private key is in the record file of a keyring store")
			}
			got, err := k.Load(bg, helperKey)
			if err != nil {
				t.Fatal(err)
			}
			if got.Token.AccessToken != "secret-access-value" || got.Token.RefreshToken != "secret-refresh-value" ||
				got.Token.Extra["id_token"] != "secret-id-token-value" || got.Token.Extra["issued_token"] != "secret-issued" ||
				got.Token.Extra["scope"] != "openid" || got.Client.ClientSecret != "secret-client-value" ||
				got.Client.RegistrationAccessToken != "secret-registration" || string(got.DPoPKey) != "secret-dpop-key" {
				t.Errorf("Load: %+v %+v %+v", got, got.Token, got.Client)
			}
			// A record whose only secret is its DPoP key keeps it in the
			// keyring too.
			keyOnly := store.Key{Issuer: "https://keyonly.example.com", ClientID: "k"}
			if _, err := k.Save(bg, &store.Record{Key: keyOnly, DPoPKey: []byte("secret-dpop-key")}); err != nil {
				t.Fatal(err)
			}
			if m := readRecordFile(t, k.Dir(), keyOnly); m["keyring"] == nil || m["dpop_key"] != nil {
				t.Errorf("a record holding only a DPoP key: file %v; want it in the keyring", m)
			}
			if got, err := k.Load(bg, keyOnly); err != nil || string(got.DPoPKey) != "secret-dpop-key" {
				t.Errorf("Load of a record holding only a DPoP key: %v, %v", got, err)
			}
			// A record without secrets needs no keyring item.
			plain := store.Key{Issuer: "https://plain.example.com", ClientID: "p"}
			if _, err := k.Save(bg, &store.Record{Key: plain, Metadata: json.RawMessage(`{"a":1}`)}); err != nil {
				t.Fatal(err)
			}
			if m := readRecordFile(t, k.Dir(), plain); m["keyring"] != nil {
				t.Errorf("a record without secrets refers to the keyring: %v", m["keyring"])
			}
		})
	}
}

func TestKeyringSplitsLargeRecords(t *testing.T) {
	for _, v := range keyringVariants() {
		t.Run(v.name, func(t *testing.T) {
			k, backend := v.new(t)
			rec := sampleRecord(helperKey)
			// A 10 KB ID token with multi-byte characters, which must not
			// be cut in the middle.
			big := "secret-" + strings.Repeat("é€x", 1500)
			rec.Token.Extra["id_token"] = big
			for range 3 {
				if _, err := k.Save(bg, rec); err != nil {
					t.Fatalf("Save of a large record: %v", err)
				}
			}
			m := readRecordFile(t, k.Dir(), helperKey)
			parts := int(m["keyring"].(map[string]any)["parts"].(float64))
			if parts < len(big)/store.KeyringChunk {
				t.Errorf("a %d-byte secret kept in %d parts", len(big), parts)
			}
			got, err := k.Load(bg, helperKey)
			if err != nil {
				t.Fatal(err)
			}
			if got.Token.Extra["id_token"] != big {
				t.Error("the large ID token did not come back whole")
			}
			if fk, ok := backend.(*fakeKeyring); ok {
				users := fk.users()
				if len(users) != parts {
					t.Errorf("the keyring holds %d items after 3 saves; want the last generation's %d: %v", len(users), parts, users)
				}
				for _, u := range users {
					if !strings.HasPrefix(u, helperKey.ID()+".g3.") {
						t.Errorf("item %q of an old generation was not deleted", u)
					}
				}
			}
		})
	}
}

func TestKeyringMissingSecrets(t *testing.T) {
	for _, v := range keyringVariants() {
		t.Run(v.name, func(t *testing.T) {
			k, backend := v.new(t)
			if _, err := k.Save(bg, sampleRecord(helperKey)); err != nil {
				t.Fatal(err)
			}
			svc := readRecordFile(t, k.Dir(), helperKey)["keyring"].(map[string]any)["service"].(string)
			item := helperKey.ID() + ".g1.p0"
			if err := backend.Delete(svc, item); err != nil {
				t.Fatal(err)
			}
			_, err := k.Load(bg, helperKey)
			if !errors.Is(err, store.ErrSecretsMissing) || errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Load without the keyring item: %v; want ErrSecretsMissing", err)
			}
			for _, want := range []string{helperKey.Issuer, item, "log in again"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			// An item that does not match the file is caught too.
			if err := backend.Set(svc, item, `{"id":"x","generation":1,"access_token":"secret-forged"}`); err != nil {
				t.Fatal(err)
			}
			_, err = k.Load(bg, helperKey)
			if !errors.Is(err, store.ErrSecretsMissing) || !strings.Contains(err.Error(), "do not match") {
				t.Errorf("Load with a forged item: %v", err)
			}
			noSecrets(t, "error", err.Error())
			// A new save (a new login) repairs it.
			if _, err := k.Save(bg, sampleRecord(helperKey)); err != nil {
				t.Fatal(err)
			}
			if _, err := k.Load(bg, helperKey); err != nil {
				t.Errorf("Load after a new Save: %v", err)
			}
		})
	}
}

func TestKeyringDeleteRemovesItems(t *testing.T) {
	fk := newFakeKeyring()
	k, err := store.NewKeyringWithBackend(filepath.Join(t.TempDir(), "authloop"), "authloop-test", fk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	if err := k.Delete(bg, helperKey); err != nil {
		t.Fatal(err)
	}
	if u := fk.users(); len(u) != 0 {
		t.Errorf("items left after Delete: %v", u)
	}
	if err := k.Delete(bg, helperKey); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
}

func TestKeyringSetFailureKeepsRecord(t *testing.T) {
	fk := newFakeKeyring()
	k, err := store.NewKeyringWithBackend(filepath.Join(t.TempDir(), "authloop"), "authloop-test", fk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	fk.mu.Lock()
	fk.failSet = errors.New("the keyring is locked")
	fk.mu.Unlock()
	rec := sampleRecord(helperKey)
	rec.Token.AccessToken = "secret-new"
	if _, err := k.Save(bg, rec); err == nil || !strings.Contains(err.Error(), "the keyring is locked") {
		t.Fatalf("Save with a failing keyring: %v", err)
	}
	got, err := k.Load(bg, helperKey)
	if err != nil || got.Generation != 1 || got.Token.AccessToken != "secret-access-value" {
		t.Fatalf("after a failed Save: %v, %v; want generation 1 whole", got, err)
	}
	if u := fk.users(); len(u) != 1 {
		t.Errorf("items after a failed Save: %v", u)
	}
}

func TestKeyringAndFileShareRecords(t *testing.T) {
	fk := newFakeKeyring()
	dir := filepath.Join(t.TempDir(), "authloop")
	f, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	k, err := store.NewKeyringWithBackend(dir, "authloop-test", fk)
	if err != nil {
		t.Fatal(err)
	}
	// A record written by the file store is read by the keyring store...
	if _, err := f.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	got, err := k.Load(bg, helperKey)
	if err != nil || got.Token.RefreshToken != "secret-refresh-value" {
		t.Fatalf("keyring Load of a file record: %v, %v", got, err)
	}
	// ...whose next save moves the secrets into the keyring.
	if g, err := k.Save(bg, got); err != nil || g != 2 {
		t.Fatalf("keyring Save: %d, %v", g, err)
	}
	readRecordFile(t, dir, helperKey)
	// The file store refuses, clearly, a record whose secrets it cannot see.
	_, err = f.Load(bg, helperKey)
	if !errors.Is(err, store.ErrSecretsMissing) || !strings.Contains(err.Error(), "keyring") {
		t.Errorf("file Load of a keyring record: %v", err)
	}
}

func TestKeyringLockAcrossStores(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	// A keyring store's locks are the file store's: they exclude each other.
	dir := filepath.Join(t.TempDir(), "authloop")
	f, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	k, err := store.NewKeyringWithBackend(dir, "authloop-test", newFakeKeyring())
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := f.Lock(bg, helperKey, "login")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	if _, err := k.Lock(ctx, helperKey, "login"); !errors.Is(err, store.ErrLockTimeout) {
		t.Errorf("keyring Lock while the file store holds it: %v", err)
	}
}

func TestDefault(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	s, why, err := store.Default("")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := store.DefaultDir()
	switch s := s.(type) {
	case *store.Keyring:
		if !strings.HasPrefix(why, "OS keyring (") || !strings.Contains(why, dir) {
			t.Errorf("Default picked the keyring and says %q", why)
		}
	case *store.File:
		if os.Getenv(keyringTestEnv) == "1" {
			t.Errorf("%s=1, but Default picked the file store: %s", keyringTestEnv, why)
		}
		if s.Dir() != dir || !strings.Contains(why, "file store at "+dir+": no keyring answered: ") {
			t.Errorf("Default picked the file store and says %q", why)
		}
	default:
		t.Fatalf("Default returned %T", s)
	}
	t.Log(why)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("Default's directory: %v, %v", fi, err)
	}
}

// blockingKeyring never answers until released.
type blockingKeyring struct{ release chan struct{} }

func (b blockingKeyring) Set(string, string, string) error {
	<-b.release
	return errors.New("released")
}
func (b blockingKeyring) Get(string, string) (string, error) {
	<-b.release
	return "", errors.New("released")
}
func (b blockingKeyring) Delete(string, string) error { <-b.release; return errors.New("released") }

func TestProbe(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	if err := store.Probe(newFakeKeyring(), "s", time.Second); err != nil {
		t.Errorf("probe of a working keyring: %v", err)
	}
	fk := newFakeKeyring()
	fk.failSet = errors.New("no collection")
	if err := store.Probe(fk, "s", time.Second); err == nil || !strings.Contains(err.Error(), "no collection") {
		t.Errorf("probe of a failing keyring: %v", err)
	}
	if u := fk.users(); len(u) != 0 {
		t.Errorf("probe left items: %v", u)
	}
	b := blockingKeyring{make(chan struct{})}
	defer close(b.release) // ends the probe's goroutine before goleak looks
	start := time.Now()
	err := store.Probe(b, "s", 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not answer within 100ms") {
		t.Errorf("probe of a hanging keyring: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("probe took %v", d)
	}
}

func ExampleDefault() {
	s, why, err := store.Default("")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("credentials kept in:", why)
	_ = s
}

// lossyKeyring is a fake keyring that takes items but cannot give them
// back, cannot delete them, or gives back another value.
type lossyKeyring struct {
	*fakeKeyring
	failGet, failDelete error
	otherValue          bool
}

func (l *lossyKeyring) Get(service, user string) (string, error) {
	if l.failGet != nil {
		return "", l.failGet
	}
	s, err := l.fakeKeyring.Get(service, user)
	if l.otherValue {
		s += "-changed"
	}
	return s, err
}

func (l *lossyKeyring) Delete(service, user string) error {
	if l.failDelete != nil {
		return l.failDelete
	}
	return l.fakeKeyring.Delete(service, user)
}

// A keyring that takes the probe's item but cannot read it back, cannot
// delete it, or returns another value fails the probe, with the reason.
func TestProbeRefusesKeyringThatCannotRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name string
		k    *lossyKeyring
		want string
	}{
		{"get fails", &lossyKeyring{fakeKeyring: newFakeKeyring(), failGet: errors.New("item locked")}, "item locked"},
		{"delete fails", &lossyKeyring{fakeKeyring: newFakeKeyring(), failDelete: errors.New("read-only collection")}, "read-only collection"},
		{"another value", &lossyKeyring{fakeKeyring: newFakeKeyring(), otherValue: true}, "another value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := store.Probe(tt.k, "s", time.Second); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("probe: %v; want an error saying %q", err, tt.want)
			}
		})
	}
}

// noSessionBus makes the process look as if no D-Bus session bus were
// running, or skips t where the systemd user session's bus socket exists.
func noSessionBus(t *testing.T, address string) {
	t.Helper()
	run := filepath.Join("/run/user", strconv.Itoa(os.Getuid()))
	for _, name := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(filepath.Join(run, name)); err == nil {
			t.Skipf("%s exists: a session bus is there to find", filepath.Join(run, name))
		}
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", address)
}

// Without a D-Bus session bus (no $DBUS_SESSION_BUS_ADDRESS, or only
// "autolaunch:"), the OS keyring is not asked at all (asking would start a
// bus and leave it behind), and Default picks the file store, saying why.
func TestDefaultWithoutSessionBusPicksFile(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("the OS keyring does not use D-Bus here")
	}
	for _, address := range []string{"", "autolaunch:"} {
		t.Run(fmt.Sprintf("%q", address), func(t *testing.T) {
			noSessionBus(t, address)
			err := store.Probe(store.OSKeyring, "authloop-test-probe", 5*time.Second)
			if err == nil || !strings.Contains(err.Error(), "no D-Bus session bus") {
				t.Errorf("probe of the OS keyring without a bus: %v; want no D-Bus session bus", err)
			}
			dir := filepath.Join(t.TempDir(), "authloop")
			s, why, err := store.Default(dir)
			if err != nil {
				t.Fatal(err)
			}
			if f, ok := s.(*store.File); !ok || f.Dir() != dir {
				t.Fatalf("Default without a bus picked %T (%s); want the file store in %s", s, why, dir)
			}
			if !strings.Contains(why, "no keyring answered: no D-Bus session bus") {
				t.Errorf("Default says %q; want the reason", why)
			}
		})
	}
}

// Every keyring item holds at most KeyringChunk bytes of whole UTF-8
// characters (D-Bus strings must be valid UTF-8, and the OS keyrings limit
// an item's size), wherever the cuts fall in a secret of 3-byte characters.
func TestKeyringItemsAreWholeCharactersWithinChunkSize(t *testing.T) {
	for pad := range 3 {
		fk := newFakeKeyring()
		k, err := store.NewKeyringWithBackend(filepath.Join(t.TempDir(), "authloop"), "authloop-test", fk)
		if err != nil {
			t.Fatal(err)
		}
		rec := sampleRecord(helperKey)
		big := "secret-" + strings.Repeat("x", pad) + strings.Repeat("€", 2000)
		rec.Token.Extra["id_token"] = big
		if _, err := k.Save(bg, rec); err != nil {
			t.Fatalf("pad %d: Save: %v", pad, err)
		}
		fk.mu.Lock()
		for user, item := range fk.items {
			if len(item) > store.KeyringChunk || !utf8.ValidString(item) {
				t.Errorf("pad %d: item %q holds %d bytes (valid UTF-8: %v); want at most %d of whole characters",
					pad, user[strings.IndexByte(user, 0)+1:], len(item), utf8.ValidString(item), store.KeyringChunk)
			}
		}
		fk.mu.Unlock()
		got, err := k.Load(bg, helperKey)
		if err != nil || got.Token.Extra["id_token"] != big {
			t.Errorf("pad %d: the large ID token did not come back whole: %v", pad, err)
		}
	}
}

// Secrets too large for the keyring store's 64 items are refused with the
// limit named, and the record saved before stays whole.
func TestKeyringRefusesSecretsBeyondItsLimit(t *testing.T) {
	fk := newFakeKeyring()
	k, err := store.NewKeyringWithBackend(filepath.Join(t.TempDir(), "authloop"), "authloop-test", fk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	rec := sampleRecord(helperKey)
	rec.Token.Extra["id_token"] = "secret-" + strings.Repeat("x", 64*store.KeyringChunk)
	_, err = k.Save(bg, rec)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than the %d the keyring store keeps", 64*store.KeyringChunk)) {
		t.Fatalf("Save of %d bytes of secrets: %v; want a refusal naming the limit", 64*store.KeyringChunk, err)
	}
	noSecrets(t, "the error", err.Error())
	got, err := k.Load(bg, helperKey)
	if err != nil || got.Generation != 1 || got.Token.Extra["id_token"] != "secret-id-token-value" {
		t.Errorf("after the refused Save: %v, %v; want generation 1 whole", got, err)
	}
	if u := fk.users(); len(u) != 1 {
		t.Errorf("items after the refused Save: %v", u)
	}
}

// A record whose only secret is any one of its secret fields keeps it in
// the keyring and gets it back, and its file shows none of it.
func TestKeyringRecordWithOneSecret(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(*store.Record)
		got  func(*store.Record) string
	}{
		{"access token", func(r *store.Record) { r.Token = &store.Token{AccessToken: "secret-1"} },
			func(r *store.Record) string { return r.Token.AccessToken }},
		{"refresh token", func(r *store.Record) { r.Token = &store.Token{RefreshToken: "secret-1"} },
			func(r *store.Record) string { return r.Token.RefreshToken }},
		{"ID token", func(r *store.Record) { r.Token = &store.Token{Extra: map[string]any{"id_token": "secret-1"}} },
			func(r *store.Record) string { s, _ := r.Token.Extra["id_token"].(string); return s }},
		{"client secret", func(r *store.Record) { r.Client = &store.Client{ClientID: "c", ClientSecret: "secret-1"} },
			func(r *store.Record) string { return r.Client.ClientSecret }},
		{"registration access token", func(r *store.Record) { r.Client = &store.Client{ClientID: "c", RegistrationAccessToken: "secret-1"} },
			func(r *store.Record) string { return r.Client.RegistrationAccessToken }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fk := newFakeKeyring()
			k, err := store.NewKeyringWithBackend(filepath.Join(t.TempDir(), "authloop"), "authloop-test", fk)
			if err != nil {
				t.Fatal(err)
			}
			rec := &store.Record{Key: helperKey}
			tt.set(rec)
			if _, err := k.Save(bg, rec); err != nil {
				t.Fatal(err)
			}
			readRecordFile(t, k.Dir(), helperKey) // fails on a secret in the file
			if u := fk.users(); len(u) != 1 {
				t.Errorf("keyring items: %v; want one", u)
			}
			got, err := k.Load(bg, helperKey)
			if err != nil {
				t.Fatal(err)
			}
			if s := tt.got(got); s != "secret-1" {
				t.Errorf("the %s came back as %q", tt.name, s)
			}
		})
	}
}

// Secrets of exactly the size of one keyring item, or a few bytes more or
// less, leave no keyring item empty.
func TestKeyringNoEmptyItems(t *testing.T) {
	fk := newFakeKeyring()
	k, err := store.NewKeyringWithBackend(filepath.Join(t.TempDir(), "authloop"), "authloop-test", fk)
	if err != nil {
		t.Fatal(err)
	}
	// items saves an access token of n bytes and returns the items.
	items := func(n int) map[string]string {
		t.Helper()
		rec := &store.Record{Key: helperKey, Token: &store.Token{AccessToken: "secret-" + strings.Repeat("a", n-len("secret-"))}}
		if _, err := k.Save(bg, rec); err != nil {
			t.Fatal(err)
		}
		fk.mu.Lock()
		defer fk.mu.Unlock()
		return maps.Clone(fk.items)
	}
	// The secrets' encoding adds a fixed overhead to the token.
	total := 0
	for _, item := range items(1000) {
		total += len(item)
	}
	exact := store.KeyringChunk - (total - 1000)
	for n := exact - 2; n <= exact+2; n++ {
		for user, item := range items(n) {
			if item == "" {
				t.Errorf("access token of %d bytes: item %q is empty", n, user[strings.IndexByte(user, 0)+1:])
			}
		}
	}
}

// A Delete whose keyring items cannot all be deleted deletes the record
// and says which items stay behind, with the keyring's reason; items
// already gone are no failure.
func TestKeyringDeleteReportsItemsLeft(t *testing.T) {
	lk := &lossyKeyring{fakeKeyring: newFakeKeyring()}
	k, err := store.NewKeyringWithBackend(filepath.Join(t.TempDir(), "authloop"), "authloop-test", lk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	lk.failDelete = errors.New("the collection is read-only")
	err = k.Delete(bg, helperKey)
	if err == nil || !strings.Contains(err.Error(), "not all of its items") || !strings.Contains(err.Error(), "the collection is read-only") {
		t.Errorf("Delete with a failing keyring: %v; want the items left named with the reason", err)
	}
	if _, err := k.Load(bg, helperKey); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load after Delete: %v; want ErrNotFound", err)
	}

	// Items someone else removed already: Delete succeeds.
	lk.failDelete = nil
	if _, err := k.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	for _, u := range lk.users() {
		_ = lk.fakeKeyring.Delete("authloop-test", u)
	}
	if err := k.Delete(bg, helperKey); err != nil {
		t.Errorf("Delete of a record whose items are gone: %v", err)
	}
}

// Secrets that fill exactly the keyring store's 64 items are kept; one
// byte more is refused.
func TestKeyringKeepsSecretsUpToItsLimit(t *testing.T) {
	fk := newFakeKeyring()
	k, err := store.NewKeyringWithBackend(filepath.Join(t.TempDir(), "authloop"), "authloop-test", fk)
	if err != nil {
		t.Fatal(err)
	}
	save := func(n int) error {
		rec := &store.Record{Key: helperKey, Token: &store.Token{AccessToken: "secret-" + strings.Repeat("a", n-len("secret-"))}}
		_, err := k.Save(bg, rec)
		return err
	}
	// The secrets' encoding adds a fixed overhead to the token.
	if err := save(1000); err != nil {
		t.Fatal(err)
	}
	total := 0
	fk.mu.Lock()
	for _, item := range fk.items {
		total += len(item)
	}
	fk.mu.Unlock()
	full := 64*store.KeyringChunk - (total - 1000)
	if err := save(full); err != nil {
		t.Errorf("secrets that fill the 64 items: %v", err)
	} else if u := fk.users(); len(u) != 64 {
		t.Errorf("secrets that fill the 64 items are in %d", len(u))
	} else if got, err := k.Load(bg, helperKey); err != nil || len(got.Token.AccessToken) != full {
		t.Errorf("Load of secrets that fill the 64 items: %v", err)
	}
	if err := save(full + 1); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Errorf("secrets one byte over the 64 items: %v; want them refused", err)
	}
}

// NewKeyring keeps items under the service it is given, or under
// DefaultService when given none.
func TestNewKeyringService(t *testing.T) {
	for service, want := range map[string]string{"": store.DefaultService, "my-app": "my-app"} {
		k, err := store.NewKeyring(filepath.Join(t.TempDir(), "authloop"), service)
		if err != nil {
			t.Fatal(err)
		}
		if d := k.Describe(); !strings.Contains(d, fmt.Sprintf("service %q", want)) {
			t.Errorf("NewKeyring(%q) describes itself as %s; want service %q", service, d, want)
		}
	}
}
