package main

import (
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

func TestGitRemoteSafe(t *testing.T) {
	for _, c := range []struct {
		protocol, host string
		want           bool
	}{
		{"https", "git.example.com", true},
		{"https", "git.example.com:8443", true},
		{"HTTPS", "git.example.com", true},
		{"https", "", false},
		{"http", "git.example.com", false},
		{"http", "127.0.0.1", true},
		{"http", "127.0.0.1:8080", true},
		{"http", "127.9.8.7:1", true},
		{"http", "localhost", true},
		{"http", "LocalHost:3000", true},
		{"http", "[::1]:8080", true},
		{"http", "[::1]", true},
		{"http", "::1", true},
		{"http", "128.0.0.1", false},
		{"http", "localhost.example.com", false},
		{"http", "127.0.0.1.example.com", false},
		{"http", "[::2]:80", false},
		{"ssh", "git.example.com", false},
		{"", "git.example.com", false},
	} {
		if got := gitRemoteSafe(c.protocol, c.host); got != c.want {
			t.Errorf("gitRemoteSafe(%q, %q) = %v", c.protocol, c.host, got)
		}
	}
	if gitHostListed([]string{"git.example.com"}, "git.exa\u212Aample.com") || !gitHostListed([]string{"git.example.com"}, "GIT.Example.COM") {
		t.Error("gitHostListed folds other than ASCII case")
	}
}

// git-credential answers get only over https (plain http only to a
// loopback host) and only for a host the profile lists; a profile that
// lists none answers nothing and says which flag to set. Before, an http://
// remote or any host named with --profile got the token.
func TestE2EGitCredentialSafeRemotes(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "forge", "--git-host", "git.example.com", "--git-host", "127.0.0.1:8080", "--git-host", "localhost", "--git-host", "[::1]:3000")
	c.mustLogin(srv, "plain")
	tok := strings.TrimSpace(c.run("", "token", "--profile", "forge").stdout)

	get := func(in string, args ...string) result {
		t.Helper()
		return c.run(in, append([]string{"git-credential"}, append(args, "get")...)...)
	}
	for _, in := range []string{
		"protocol=https\nhost=git.example.com\n\n",
		"protocol=https\nhost=Git.Example.COM\npath=group/repo.git\n\n",
		"protocol=http\nhost=127.0.0.1:8080\n\n",
		"protocol=http\nhost=localhost\n\n",
		"protocol=http\nhost=[::1]:3000\n\n",
	} {
		if r := get(in); r.code != 0 || !strings.Contains(r.stdout, "password="+tok+"\n") {
			t.Errorf("%q: no token: %v", in, r)
		}
		if r := get(in, "--profile", "forge"); r.code != 0 || !strings.Contains(r.stdout, "password="+tok+"\n") {
			t.Errorf("%q with --profile: no token: %v", in, r)
		}
	}
	for _, in := range []string{
		"protocol=http\nhost=git.example.com\n\n",           // plain http to a listed host
		"protocol=https\nhost=other.example.com\n\n",        // an unlisted host
		"protocol=https\nhost=git.example.com:443\n\n",      // another port than listed
		"protocol=http\nhost=127.0.0.1:9090\n\n",            // a loopback port not listed
		"protocol=https\nhost=git.example.com.evil.com\n\n", // a suffix
		"protocol=https\npath=git.example.com\n\n",          // no host
		"host=git.example.com\n\n",                          // no protocol
	} {
		for _, args := range [][]string{nil, {"--profile", "forge"}} {
			if r := get(in, args...); r.code != 0 || r.stdout != "" || strings.Contains(r.stderr, tok) {
				t.Errorf("%q %v: answered: %v", in, args, r)
			}
		}
	}
	if r := get("protocol=http\nhost=git.example.com\n\n"); !strings.Contains(r.stderr, "only over https") {
		t.Errorf("http to a listed host: no reason given: %v", r)
	}
	if r := get("protocol=https\nhost=other.example.com\n\n", "--profile", "forge"); !strings.Contains(r.stderr, "authloop login --profile forge --git-host git.example.com --git-host 127.0.0.1:8080 --git-host localhost --git-host [::1]:3000 --git-host other.example.com") {
		t.Errorf("unlisted host with --profile: no hint: %v", r)
	} else if !strings.Contains(r.stderr, "if it is the server of this sign-in") {
		// Any remote can make git ask (a submodule, a redirect): the hint
		// must not read as advice to trust whatever host asked.
		t.Errorf("unlisted host: the hint does not ask whether the host is the sign-in's server: %v", r)
	}

	// A profile without git hosts answers nothing, and says which flag to set.
	r := get("protocol=https\nhost=git.example.com\n\n", "--profile", "plain")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "authloop login --profile plain --git-host git.example.com") {
		t.Errorf("profile without git hosts: %v", r)
	}
	// No profile lists a git host: the same, without --profile.
	c2 := newCLI(t)
	c2.mustLogin(srv, "default")
	r = c2.run("protocol=https\nhost=git.example.com\n\n", "git-credential", "get")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "--git-host git.example.com") {
		t.Errorf("no profile with git hosts: %v", r)
	}
	// A terminal escape in a host is not echoed to stderr.
	r = get("protocol=https\nhost=x\x1b]0;pwned\x07\n\n", "--profile", "plain")
	if strings.ContainsAny(r.stderr, "\x1b\x07") {
		t.Errorf("control characters on stderr: %q", r.stderr)
	}
}
