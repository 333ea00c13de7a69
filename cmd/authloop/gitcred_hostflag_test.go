package main

import (
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// --git-host takes a host as git sends it (host=, with its :port). A URL,
// a path or a user name in it can never match what git sends, so the
// profile would answer for no host while login said nothing: login refuses
// it (exit 2, before any sign-in) and names the host to give. Before, login
// signed in and saved "https://git.example.com/", and git-credential then
// answered nothing for git.example.com.
func TestE2ELoginGitHostIsAHost(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	for _, bad := range []string{"https://git.example.com/", "git.example.com/group/repo.git", "me@git.example.com", "git.example.com extra"} {
		r := c.run("", "login", "--profile", "forge", "--no-browser", "--store", "file", "--issuer", srv.Issuer(),
			"--client-id", srv.ClientID(), "--timeout", "5s", "--git-host", bad)
		if r.code != 2 || !strings.Contains(r.stderr, "--git-host git.example.com") {
			t.Errorf("--git-host %q: %v", bad, r)
		}
	}
	if n := srv.Count("authorize") + srv.Count("token"); n != 0 {
		t.Errorf("%d requests to the server: a refused --git-host must stop before the sign-in", n)
	}
	// A host, with a port or an IPv6 literal, is taken.
	c.mustLogin(srv, "forge", "--git-host", "git.example.com:8443", "--git-host", "[::1]:3000")
	tok := strings.TrimSpace(c.run("", "token", "--profile", "forge").stdout)
	for _, in := range []string{"protocol=https\nhost=git.example.com:8443\n\n", "protocol=http\nhost=[::1]:3000\n\n"} {
		if r := c.run(in, "git-credential", "get"); r.code != 0 || !strings.Contains(r.stdout, "password="+tok+"\n") {
			t.Errorf("%q: %v", in, r)
		}
	}
}

// git-credential asked without a host (a script's url= line, which git
// itself turns into protocol= and host= before it calls a helper, or no
// host at all) answers nothing, and says so: not "add it with authloop
// login --git-host " with an empty host, which adds nothing. Before, the
// note named an empty host and an empty --git-host.
func TestE2EGitCredentialNoHost(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "forge", "--git-host", "git.example.com")
	for _, in := range []string{"url=https://git.example.com/x.git\n\n", "protocol=https\n\n", "protocol=https\nhost=\n\n"} {
		r := c.run(in, "git-credential", "--profile", "forge", "get")
		if r.code != 0 || r.stdout != "" || strings.Contains(r.stderr, "--git-host \n") || strings.Contains(r.stderr, "git host :") || !strings.Contains(r.stderr, "no host=") {
			t.Errorf("%q: %v", in, r)
		}
	}
}
