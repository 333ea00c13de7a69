package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// corruptRecord overwrites c's single record file with garbage and
// returns its path.
func corruptRecord(t *testing.T, c *cli) string {
	t.Helper()
	files := recordFiles(t, c)
	if len(files) != 1 {
		t.Fatalf("record files: %v", files)
	}
	if err := os.WriteFile(files[0], []byte("{not a record"), 0o600); err != nil {
		t.Fatal(err)
	}
	return files[0]
}

// Issue 13 item 6: a corrupt record file is recoverable with the command.
// status and token agree (exit 3, "authloop login --profile NAME"); login
// moves the file aside, says where, and signs in; logout deletes it.
func TestE2ECorruptRecordRecoverable(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "p")
	path := corruptRecord(t, c)

	for _, args := range [][]string{{"status", "--profile", "p"}, {"token", "--profile", "p"}, {"refresh", "--profile", "p"}} {
		r := c.run("", args...)
		if r.code != 3 || r.stdout != "" && args[0] != "status" {
			t.Errorf("%s with a corrupt record: %v", args[0], r)
		}
		twoLines(t, r.stderr, []string{"profile p", "corrupt"}, "authloop login --profile p")
	}

	r := c.login(srv, "p")
	if r.code != 0 {
		t.Fatalf("login over a corrupt record: %v", r)
	}
	aside, _ := filepath.Glob(path + ".corrupt-*")
	if len(aside) != 1 || !strings.Contains(r.stderr, "moved it aside to "+aside[0]) {
		t.Errorf("login did not say where the corrupt file went (files aside: %v):\n%s", aside, r.stderr)
	}
	if b, _ := os.ReadFile(aside[0]); string(b) != "{not a record" {
		t.Errorf("the file moved aside holds %q", b)
	}
	if r := c.run("", "token", "--profile", "p"); r.code != 0 || !srv.ValidAccessToken(strings.TrimSpace(r.stdout)) {
		t.Errorf("token after the login: %v", r)
	}

	corruptRecord(t, c)
	r = c.run("", "logout", "--profile", "p")
	if r.code != 0 || !strings.Contains(r.stderr, "Deleted the corrupt record file of profile p") {
		t.Errorf("logout of a corrupt record: %v", r)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the corrupt record file is still there (%v)", err)
	}
	if now, _ := filepath.Glob(path + ".corrupt-*"); len(now) != 1 {
		t.Errorf("logout left a copy of the corrupt file: %v", now)
	}
	if r := c.run("", "status", "--profile", "p"); r.code != 3 || !strings.Contains(r.stdout, "not signed in") {
		t.Errorf("status after the logout: %v", r)
	}
}
