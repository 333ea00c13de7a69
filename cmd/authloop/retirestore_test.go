package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/authloop/authloop/store"
)

// TestPreviousListBeforeIssue16: a list of previous sign-ins written
// before issue 16 (plain record keys, no store) is read: its entries are
// taken as kept in the store of the profile that wrote it, so a login
// with another --store ends them there (notePrevious writes that down
// before the profile names the new store), and a list written now keeps
// each entry's store.
func TestPreviousListBeforeIssue16(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	path, err := previousPath("p")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	legacy := `[{"issuer":"https://old.example.com","client_id":"c","account":"p"}]` + "\n"
	if err := os.WriteFile(path, []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	k := store.Key{Issuer: "https://old.example.com", ClientID: "c", Account: "p"}
	got := loadPrevious("p")
	if len(got) != 1 || got[0].Key != k || got[0].In != nil {
		t.Fatalf("loadPrevious of a list written before issue 16: %+v", got)
	}
	prev := &Profile{Name: "p", Issuer: "https://new.example.com", ClientID: "c", Store: "file"}
	now := &Profile{Name: "p", Issuer: "https://new.example.com", ClientID: "c", Store: "redis://127.0.0.1:6379/0"}
	cur := store.Key{Issuer: now.Issuer, ClientID: now.ClientID, Account: "p"}
	notePrevious(prev, now, cur)
	got = loadPrevious("p")
	if len(got) != 2 {
		t.Fatalf("after a login that switched to Redis, the list is %+v; want the old entry and the file store's record", got)
	}
	for _, e := range got {
		if e.In == nil || e.In.Store != "file" {
			t.Errorf("entry %v: kept in %+v, want the file store (the profile's before the switch)", e.Key, e.In)
		}
		if isCurrent(e, now, cur) {
			t.Errorf("entry %v in the file store taken for the current sign-in in Redis", e.Key)
		}
	}
	if got[1].Key != cur || otherStore(got[1], now) != " in the file store" {
		t.Errorf("the file store's record of the same key: %+v (%q)", got[1], otherStore(got[1], now))
	}
	// The file store and the keyring share their record files: the same
	// key there is the current record, never a previous one.
	if e := (previousEntry{Key: cur, In: &Profile{Store: "keyring"}}); !isCurrent(e, &Profile{Store: "file"}, cur) {
		t.Errorf("the keyring's record taken for another than the file store's of the same key")
	}
}
