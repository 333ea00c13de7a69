package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// checkLockFiles fails the test when c's store holds a lock file of a
// record that is not there, or more than one lock file of a record.
func checkLockFiles(t *testing.T, c *cli, when string) {
	t.Helper()
	entries, err := os.ReadDir(c.storeDir())
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]bool{}
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			records[id] = true
		}
	}
	locks := map[string][]string{}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".lock") {
			id, _, _ := strings.Cut(e.Name(), ".")
			locks[id] = append(locks[id], e.Name())
		}
	}
	for id, files := range locks {
		if !records[id] {
			t.Errorf("%s: lock files of a removed record: %v", when, files)
		}
		if len(files) > 1 {
			t.Errorf("%s: %d lock files of one record: %v", when, len(files), files)
		}
	}
}

// Issue 13 item 8: lock files do not pile up. After logins, refreshes and
// logouts of several profiles (and a switch to another issuer), the store
// holds at most one lock file per record, and none of a removed record.
func TestE2ELockFilesDoNotPileUp(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	oneLockFilePerRecord(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	other := oauthtest.NewServer(oauthtest.Config{})
	defer other.Close()
	c := newCLI(t)
	profiles := []string{"a", "b", "c"}
	for round := range 2 {
		for _, p := range profiles {
			c.mustLogin(srv, p)
			for _, args := range [][]string{{"refresh", "--profile", p}, {"token", "--profile", p, "--min-valid", "2h"}, {"status", "--profile", p}} {
				if r := c.run("", args...); r.code != 0 {
					t.Fatalf("%v: %v", args, r)
				}
			}
			checkLockFiles(t, c, "after login, refresh and token of "+p)
		}
		for _, p := range profiles[:2] {
			if r := c.run("", "logout", "--profile", p); r.code != 0 {
				t.Fatalf("logout %s: %v", p, r)
			}
		}
		checkLockFiles(t, c, "after logout")
		if round == 0 {
			c.mustLogin(other, "c") // ends the sign-in at srv
			checkLockFiles(t, c, "after a switch to another issuer")
		}
	}
	if r := c.run("", "logout", "--all"); r.code != 0 {
		t.Fatalf("logout --all: %v", r)
	}
	if locks, _ := filepath.Glob(filepath.Join(c.storeDir(), "*.lock")); len(locks) != 0 {
		t.Errorf("lock files after logout --all: %v", locks)
	}
}
