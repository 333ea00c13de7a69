package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// login --client-secret-file with a relative path, as a person types it in
// the directory that holds the file: the profile keeps where the file is,
// so token, run later from another directory (a script, git, kubectl),
// still reads the secret. Was: the profile kept "secret.txt", and every
// later command run elsewhere failed with "open secret.txt: no such file".
func TestE2ELoginRelativeSecretFile(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{Clients: []oauthtest.Client{{ID: "conf", Secret: "right"}}})
	defer srv.Close()
	c := newCLI(t)
	proj, elsewhere := filepath.Join(c.dir, "proj"), filepath.Join(c.dir, "elsewhere")
	for _, d := range []string{proj, elsewhere} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(proj, "secret.txt"), []byte("right\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Runs the binary in a directory of the test's choice.
	in := func(dir string) string {
		launcher := filepath.Join(c.dir, "in-"+filepath.Base(dir)+".sh")
		if err := os.WriteFile(launcher, []byte("#!/bin/sh\ncd '"+dir+"' || exit 99\nexec \"$@\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return launcher
	}
	c.launcher = in(proj)
	c.mustLogin(srv, "p", "--client-id", "conf", "--client-secret-file", "secret.txt")
	c.launcher = in(elsewhere)
	c.agePastHalfLife(t, "p") // so that token refreshes, with the secret
	r := c.run("", "token", "--profile", "p", "--min-valid", "2h")
	if r.code != exitOK || strings.TrimSpace(r.stdout) == "" {
		t.Fatalf("token from another directory: %v", r)
	}
}
