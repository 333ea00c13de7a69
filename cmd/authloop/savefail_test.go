//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// fileSizeLimitFor returns a file size limit that lets a profile be
// written but not a record: measured on a login of its own.
func fileSizeLimitFor(t *testing.T, srv *oauthtest.Server) int {
	t.Helper()
	c := newCLI(t)
	c.mustLogin(srv, "p")
	rec := recordFiles(t, c)
	if len(rec) != 1 {
		t.Fatalf("records: %v", rec)
	}
	ri, err := os.Stat(rec[0])
	if err != nil {
		t.Fatal(err)
	}
	pi, err := os.Stat(filepath.Join(c.storeDir(), "profiles", "p.json"))
	if err != nil {
		t.Fatal(err)
	}
	if pi.Size()+64 >= ri.Size() {
		t.Fatalf("a profile (%d bytes) is not much smaller than a record (%d bytes)", pi.Size(), ri.Size())
	}
	return int(pi.Size()+ri.Size()) / 2
}

// Issue 13 item 1: with a store that cannot be written (a file size limit
// that the record exceeds: EFBIG, as on a full disk, and for root too),
// login, refresh and token exit 1 with a two-line message, and none of
// them claims what did not happen.
func TestE2ESaveFailureSaysSo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	limit := fileSizeLimitFor(t, srv)

	t.Run("login", func(t *testing.T) {
		c := newCLI(t)
		r := c.withFileSizeLimit(limit).login(srv, "p")
		if r.code != 1 {
			t.Fatalf("login with a store that cannot be written: %v", r)
		}
		if strings.Contains(r.stderr, "Signed in") || strings.Contains(r.stderr, "Kept in") {
			t.Errorf("login claims a kept sign-in:\n%s", r.stderr)
		}
		twoLines(t, r.stderr, []string{"could not be kept", c.storeDir()}, "authloop login --profile p")
		if files := recordFiles(t, c); len(files) != 0 {
			t.Errorf("records after a failed save: %v", files)
		}
		// Nothing half done: the next command says to log in.
		if r := c.run("", "token", "--profile", "p"); r.code != 3 {
			t.Errorf("token after the failed login: %v", r)
		}
	})

	t.Run("refresh", func(t *testing.T) {
		c := newCLI(t)
		c.mustLogin(srv, "p")
		r := c.withFileSizeLimit(limit).run("", "refresh", "--profile", "p")
		if r.code != 1 {
			t.Fatalf("refresh with a store that cannot be written: %v", r)
		}
		if strings.Contains(r.stderr, "✓") || strings.Contains(r.stderr, "Refresh token rotated") {
			t.Errorf("refresh claims success:\n%s", r.stderr)
		}
		twoLines(t, r.stderr, []string{"could not be kept", c.storeDir(), "lost"}, "authloop login --profile p")
	})

	t.Run("token", func(t *testing.T) {
		c := newCLI(t)
		c.mustLogin(srv, "p")
		c.agePastHalfLife(t, "p") // so that token refreshes
		r := c.withFileSizeLimit(limit).run("", "token", "--profile", "p", "--min-valid", "25m")
		if r.code != 1 || r.stdout != "" {
			t.Fatalf("token with a store that cannot be written: %v", r)
		}
		twoLines(t, r.stderr, []string{"could not be kept", c.storeDir(), "lost"}, "authloop login --profile p")
	})
}
