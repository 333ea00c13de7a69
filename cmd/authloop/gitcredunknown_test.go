package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// git-credential ignores an operation it does not know, without a word and
// with exit 0, as gitcredentials(7) asks of helpers ("If a helper receives
// any other operation, it should silently ignore the request"), so that a
// newer git's operations pass through. Was: a usage error (exit 2) with a
// message on stderr, which git shows the person. With no operation at all
// (never from git), it is still a usage error. A real git, configured with
// the helper, still gets its token.
func TestE2EGitCredentialIgnoresUnknownOperation(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "p", "--git-host", "git.example.com")
	in := "protocol=https\nhost=git.example.com\n\n"
	for _, op := range []string{"capability", "fetch"} {
		r := c.run(in, "git-credential", op)
		if r.code != exitOK || r.stdout != "" || r.stderr != "" {
			t.Errorf("git-credential %s: want exit 0 and no output\n%v", op, r)
		}
	}
	if r := c.run(in, "git-credential"); r.code != exitUsage {
		t.Errorf("git-credential without an operation: %v", r)
	}
	if r := c.run(in, "git-credential", "get"); r.code != exitOK || !strings.Contains(r.stdout, "password=") {
		t.Errorf("git-credential get: %v", r)
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("git is not on PATH (make deps installs it): %v", err)
	}
	cmd := exec.Command(git, "-c", "credential.helper=", "-c", "credential.helper=!"+binPath+" git-credential", "credential", "fill")
	cmd.Env = append(c.env, "GIT_TERMINAL_PROMPT=0")
	cmd.Stdin = strings.NewReader("protocol=https\nhost=git.example.com\n\n")
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "username=oauth2") {
		t.Errorf("git credential fill: %v\n%s", err, out)
	}
}
