package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/storetest"
)

// newFile returns a file store in a new directory that NewFile creates.
func newFile(t testing.TB) *store.File {
	t.Helper()
	s, err := store.NewFile(filepath.Join(t.TempDir(), "authloop"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFile(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	storetest.TestStore(t, func(t *testing.T) store.Store { return newFile(t) })
}

func errorsIsTimeout(err error) bool {
	return errors.Is(err, store.ErrLockTimeout) && errors.Is(err, context.DeadlineExceeded)
}

var bg = context.Background()

func sampleRecord(key store.Key) *store.Record {
	return &store.Record{
		Key: key,
		Token: &store.Token{AccessToken: "secret-access-value", RefreshToken: "secret-refresh-value",
			Extra: map[string]any{"id_token": "secret-id-token-value", "scope": "openid"}},
		Client: &store.Client{Issuer: key.Issuer, ClientID: key.ClientID, ClientSecret: "secret-client-value"},
	}
}

// noSecrets fails t if s shows any value of sampleRecord's secrets.
func noSecrets(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, "secret-") {
		t.Errorf("%s shows a secret: %q", what, s)
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func recordPath(s *store.File, key store.Key) string {
	return filepath.Join(s.Dir(), key.ID()+".json")
}

func TestFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	dir := filepath.Join(t.TempDir(), "a", "b", "authloop")
	s, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m.Perm() != 0o700 || !m.IsDir() {
		t.Errorf("store directory: %v; want drwx------", m)
	}
	if _, err := s.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(bg, helperKey, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if m := mode(t, filepath.Join(dir, e.Name())); m.Perm() != 0o600 || !m.IsRegular() {
			t.Errorf("%s: %v; want -rw-------", e.Name(), m)
		}
	}
	id := helperKey.ID()
	want := []string{id + ".json"}
	for _, name := range []string{"refresh", "save"} {
		if l := filepath.Base(store.LockPath(s, helperKey, name)); !slices.Contains(want, l) {
			want = append(want, l)
		}
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("files in the store: %v; want %v (no temporary file left)", names, want)
	}
	data, err := os.ReadFile(filepath.Join(dir, id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte(`{"schema":1,"record":{`)) {
		t.Errorf("record file starts %.40q; want the schema first", data)
	}
}

func TestFileDirPermissionsRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	dir := filepath.Join(t.TempDir(), "authloop")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := store.NewFile(dir)
	if err == nil {
		t.Fatal("NewFile accepted a directory of mode 0755")
	}
	for _, want := range []string{dir, "chmod 700 " + dir, "0755"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := store.NewFile(dir); err != nil {
		t.Errorf("after the fix: %v", err)
	}
	// A file where the directory should be.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.NewFile(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("NewFile on a file: %v", err)
	}
	if _, err := store.NewFile(""); err == nil {
		t.Error("NewFile(\"\") succeeded")
	}
}

func TestFileRecordRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions or symbolic links")
	}
	tests := []struct {
		name  string
		spoil func(t *testing.T, path string)
		want  []string
	}{
		{"group-readable", func(t *testing.T, path string) { must(t, os.Chmod(path, 0o640)) }, []string{"0640", "chmod 600"}},
		{"world-readable", func(t *testing.T, path string) { must(t, os.Chmod(path, 0o644)) }, []string{"0644", "chmod 600"}},
		{"symlink", func(t *testing.T, path string) {
			target := filepath.Join(t.TempDir(), "elsewhere.json")
			data, err := os.ReadFile(path)
			must(t, err)
			must(t, os.WriteFile(target, data, 0o600))
			must(t, os.Remove(path))
			must(t, os.Symlink(target, path))
		}, []string{"symbolic link", "readlink"}},
		{"directory", func(t *testing.T, path string) {
			must(t, os.Remove(path))
			must(t, os.Mkdir(path, 0o700))
		}, []string{"a directory", "remove it"}},
		{"named pipe", func(t *testing.T, path string) {
			must(t, os.Remove(path))
			must(t, mkfifo(path))
		}, []string{"a special file", "remove it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFile(t)
			if _, err := s.Save(bg, sampleRecord(helperKey)); err != nil {
				t.Fatal(err)
			}
			path := recordPath(s, helperKey)
			tt.spoil(t, path)
			before := mode(t, path)
			check := func(op string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s of a %s record file succeeded", op, tt.name)
				}
				if errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s: %v wraps ErrNotFound", op, err)
				}
				for _, want := range append([]string{path, "store: "}, tt.want...) {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s: error %q does not contain %q", op, err, want)
					}
				}
				noSecrets(t, op+" error", err.Error())
			}
			_, err := s.Load(bg, helperKey)
			check("Load", err)
			_, err = s.Save(bg, sampleRecord(helperKey))
			check("Save", err)
			check("Delete", s.Delete(bg, helperKey))
			keys, err := s.List(bg)
			check("List", err)
			if len(keys) != 0 {
				t.Errorf("List returned %v", keys)
			}
			if after := mode(t, path); after != before {
				t.Errorf("the refused file changed from %v to %v", before, after)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFileCorrupt(t *testing.T) {
	other := store.Key{Issuer: "https://other.example.com", ClientID: "x"}
	otherFile := func(t *testing.T) []byte {
		s := newFile(t)
		if _, err := s.Save(bg, sampleRecord(other)); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(recordPath(s, other))
		must(t, err)
		return data
	}
	tests := []struct {
		name string
		data func(t *testing.T) []byte
		why  string
	}{
		{"empty", func(*testing.T) []byte { return nil }, "invalid JSON"},
		{"truncated", func(t *testing.T) []byte { d := otherFile(t); return d[:len(d)/2] }, "invalid JSON"},
		{"not JSON", func(*testing.T) []byte { return []byte("secret-access-value\n") }, "invalid JSON"},
		{"no schema", func(*testing.T) []byte { return []byte(`{"record":{"generation":1}}`) }, `no "schema"`},
		{"future schema", func(*testing.T) []byte { return []byte(`{"schema":2,"record":{}}`) }, "schema version 2"},
		{"no record", func(*testing.T) []byte { return []byte(`{"schema":1}`) }, `no "record"`},
		{"no generation", func(*testing.T) []byte {
			return []byte(`{"schema":1,"record":{"key":{"issuer":"https://issuer.example.com","client_id":"cli","resource":"https://api.example.com","account":"a@example.com"}}}`)
		}, "no generation"},
		{"wrong type", func(*testing.T) []byte {
			return []byte(`{"schema":1,"record":{"generation":"secret-access-value"}}`)
		}, "wrong type"},
		{"another key", otherFile, "holds the record of " + other.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFile(t)
			if _, err := s.Save(bg, sampleRecord(store.Key{Issuer: "https://fine.example.com", ClientID: "ok"})); err != nil {
				t.Fatal(err)
			}
			data := tt.data(t)
			path := recordPath(s, helperKey)
			must(t, os.WriteFile(path, data, 0o600))

			_, err := s.Load(bg, helperKey)
			if !errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Load: %v; want an error wrapping ErrCorrupt (and not ErrNotFound)", err)
			}
			for _, want := range []string{path, tt.why, "kept for inspection"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Load: error %q does not contain %q", err, want)
				}
			}
			noSecrets(t, "Load error", err.Error())
			keys, err := s.List(bg)
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("List: %v; want an error naming the corrupt file", err)
			}
			if len(keys) != 1 || keys[0].ClientID != "ok" {
				t.Errorf("List with a corrupt file: keys %v; want the readable one", keys)
			}
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("the corrupt file was changed by Load or List: %v", err)
			}

			// A new Save moves it aside, keeps it, and starts again.
			rec := sampleRecord(helperKey)
			g, err := s.Save(bg, rec)
			if err != nil || g != 1 {
				t.Fatalf("Save over a corrupt file: %d, %v; want generation 1", g, err)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("files moved aside: %v; want one", aside)
			}
			if got, err := os.ReadFile(aside[0]); err != nil || !bytes.Equal(got, data) {
				t.Errorf("the file moved aside does not hold the corrupt bytes: %v", err)
			}
			if m := mode(t, aside[0]); m.Perm() != 0o600 && runtime.GOOS != "windows" {
				t.Errorf("file moved aside has mode %v", m)
			}
			if got, err := s.Load(bg, helperKey); err != nil || got.Token.AccessToken != rec.Token.AccessToken {
				t.Errorf("Load after the new Save: %v, %v", got, err)
			}
			if keys, err := s.List(bg); err != nil || len(keys) != 2 {
				t.Errorf("List after the new Save: %v, %v", keys, err)
			}

			// Delete of a corrupt file moves it aside too.
			must(t, os.WriteFile(path, data, 0o600))
			if err := s.Delete(bg, helperKey); err != nil {
				t.Fatalf("Delete of a corrupt record: %v", err)
			}
			if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 2 {
				t.Errorf("after Delete, files moved aside: %v; want two", aside)
			}
			if _, err := s.Load(bg, helperKey); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Load after Delete: %v", err)
			}
		})
	}
}

func TestFileListSkipsOtherFiles(t *testing.T) {
	s := newFile(t)
	if _, err := s.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	id := helperKey.ID()
	for _, name := range []string{
		"." + id + ".json1234567", // a temporary file left by a crash
		id + ".refresh.lock",
		id + ".json.corrupt-20260101T000000.000000000Z",
		"README", "notes.json", strings.ToUpper(id) + ".json",
	} {
		must(t, os.WriteFile(filepath.Join(s.Dir(), name), []byte("junk"), 0o600))
	}
	must(t, os.Mkdir(filepath.Join(s.Dir(), "sub"), 0o700))
	keys, err := s.List(bg)
	if err != nil || len(keys) != 1 || keys[0] != helperKey {
		t.Errorf("List: %v, %v; want just %v", keys, err, helperKey)
	}
}

// List finds every record, whatever hex digits its file name has, and
// skips files whose names are not 32 lower-case hex digits and ".json",
// however close.
func TestFileListRecordNames(t *testing.T) {
	s := newFile(t)
	var keys []store.Key
	digits := ""
	for _, issuer := range []string{"https://a.example.com", "https://b.example.com", "https://c.example.com", "https://d.example.com"} {
		k := store.Key{Issuer: issuer, ClientID: "c"}
		if _, err := s.Save(bg, sampleRecord(k)); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		digits += k.ID()
	}
	if !strings.ContainsAny(digits, "0") || !strings.ContainsAny(digits, "9") || !strings.ContainsAny(digits, "a") || !strings.ContainsAny(digits, "f") {
		t.Fatalf("the keys' IDs %s lack one of 0, 9, a, f: choose other issuers", digits)
	}
	id := keys[0].ID()
	for _, name := range []string{id[:31], id + "0", id[:31] + "g", id[:31] + "`", id[:31] + ":"} {
		must(t, os.WriteFile(filepath.Join(s.Dir(), name+".json"), []byte("junk"), 0o600))
	}
	got, err := s.List(bg)
	if err != nil || len(got) != len(keys) {
		t.Errorf("List: %v, %v; want the %d records and nothing else", got, err, len(keys))
	}
}

func TestFileLockNames(t *testing.T) {
	for _, s := range []store.Store{newFile(t), store.NewMemory()} {
		// Just outside each range of allowed characters: / before 0, :
		// after 9, ` before a, { after z.
		for _, name := range []string{"", "save", "Refresh", "a/b", "../x", "a.b", strings.Repeat("x", 33), "x/", "x:", "x`", "x{"} {
			if unlock, err := s.Lock(bg, helperKey, name); err == nil {
				unlock()
				t.Errorf("%s: Lock(%q) succeeded", s.Describe(), name)
			}
		}
		for _, name := range []string{"refresh", "login", "x", "my-lock_2", "az09", "-", "_", strings.Repeat("x", 32)} {
			unlock, err := s.Lock(bg, helperKey, name)
			if err != nil {
				t.Errorf("%s: Lock(%q): %v", s.Describe(), name, err)
				continue
			}
			unlock()
		}
	}
}

func TestFileLockFileRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no symbolic links")
	}
	s := newFile(t)
	lock := store.LockPath(s, helperKey, "refresh")
	must(t, os.Symlink(filepath.Join(t.TempDir(), "target"), lock))
	_, err := s.Lock(bg, helperKey, "refresh")
	if err == nil || !strings.Contains(err.Error(), lock) || !strings.Contains(err.Error(), "rm ") {
		t.Errorf("Lock through a symbolic link: %v; want an error naming it and the fix", err)
	}
}

func TestDefaultDirHonoursXDG(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "freebsd" && runtime.GOOS != "openbsd" && runtime.GOOS != "netbsd" {
		t.Skip("XDG_CONFIG_HOME is a Unix convention")
	}
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	dir, err := store.DefaultDir()
	if err != nil || dir != filepath.Join(xdg, "authloop") {
		t.Errorf("DefaultDir with XDG_CONFIG_HOME=%s: %q, %v", xdg, dir, err)
	}
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", home)
	dir, err = store.DefaultDir()
	if err != nil || dir != filepath.Join(home, ".config", "authloop") {
		t.Errorf("DefaultDir with HOME=%s: %q, %v", home, dir, err)
	}
}

func TestFileLoadHonoursContext(t *testing.T) {
	s := newFile(t)
	c, cancel := context.WithCancel(bg)
	cancel()
	if _, err := s.Load(c, helperKey); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a canceled context: %v", err)
	}
	if _, err := s.Save(c, sampleRecord(helperKey)); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with a canceled context: %v", err)
	}
}

func TestFileSaveRefusesBadRecords(t *testing.T) {
	s := newFile(t)
	if _, err := s.Save(bg, nil); err == nil {
		t.Error("Save(nil) succeeded")
	}
	rec := sampleRecord(helperKey)
	rec.Metadata = []byte("{not json")
	if _, err := s.Save(bg, rec); err == nil {
		t.Error("Save with invalid metadata succeeded")
	}
	rec = sampleRecord(helperKey)
	rec.Token.Extra["bad"] = make(chan int)
	_, err := s.Save(bg, rec)
	if err == nil {
		t.Fatal("Save with an Extra value JSON cannot hold succeeded")
	}
	noSecrets(t, "Save error", err.Error())
	if _, err := s.Load(bg, helperKey); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a failed Save left a record: %v", err)
	}
}
