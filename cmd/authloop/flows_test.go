package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

func TestE2EDeviceFlow(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"forced", []string{"--device"}},
		// No display, no $BROWSER: auto picks the device flow by itself.
		{"auto", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			args := append([]string{"login", "--profile", "dev-" + tc.name, "--store", "file", "--issuer", srv.Issuer(),
				"--client-id", srv.ClientID(), "--scope", "openid offline_access"}, tc.flags...)
			n := srv.Count("device_authorization")
			r := c.interactive(browseOn(t, srv.VerificationURI()+"?user_code=", &wg), args...)
			wg.Wait()
			if r.code != 0 {
				t.Fatalf("device login: %v", r)
			}
			if srv.Count("device_authorization") != n+1 || srv.Count("authorize") != 0 {
				t.Errorf("device_authorization %d, authorize %d", srv.Count("device_authorization"), srv.Count("authorize"))
			}
			for _, want := range []string{"To sign in, open this URL on any device", "check that the page shows the code", "Signed in to"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if r := c.run("", "token", "--profile", "dev-"+tc.name); r.code != 0 || !srv.ValidAccessToken(strings.TrimSpace(r.stdout)) {
				t.Errorf("token after the device login: %v", r)
			}
		})
	}
	// Denied, then expired: clear errors.
	srv.DeviceNext("access_denied")
	r := c.run("", "login", "--profile", "dev-forced", "--device")
	if r.code != 1 || !strings.Contains(r.stderr, "denied") {
		t.Errorf("denied: %v", r)
	}
	srv.DeviceNext("expired_token")
	r = c.run("", "login", "--profile", "dev-forced", "--device")
	if r.code != 3 || !strings.Contains(r.stderr, "expired") || !strings.Contains(r.stderr, "run: authloop login --profile dev-forced") {
		t.Errorf("expired: %v", r)
	}
}

func TestE2EResourceDiscovery(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	var wg sync.WaitGroup
	r := c.interactive(browseOn(t, srv.AuthorizationEndpoint(), &wg), "login", "--profile", "mcp", "--no-browser", "--store", "file",
		"--resource", srv.ResourceEndpoint(), "--client-id", srv.ClientID())
	wg.Wait()
	if r.code != 0 {
		t.Fatalf("login --resource: %v", r)
	}
	if !strings.Contains(r.stderr, "is protected by the authorization server "+srv.Issuer()) || srv.Count("resource_metadata") == 0 {
		t.Errorf("no RFC 9728 discovery:\n%s", r.stderr)
	}
	p, err := withConfigHome(c, func() (*Profile, error) { return loadProfile("mcp") })
	if err != nil {
		t.Fatal(err)
	}
	if p.Issuer != srv.Issuer() || p.Resource != srv.ResourceEndpoint() {
		t.Errorf("profile issuer %q resource %q", p.Issuer, p.Resource)
	}
	tok := strings.TrimSpace(c.run("", "token", "--profile", "mcp").stdout)
	req, _ := http.NewRequest(http.MethodGet, srv.ResourceEndpoint(), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusOK || body["aud"] != srv.ResourceEndpoint() {
		t.Errorf("resource answered %d %v", resp.StatusCode, body)
	}
	http.DefaultClient.CloseIdleConnections()
}

// The profile keeps the resource as given (or as the protected resource
// metadata states it), never a canonical form, so a server that knows its
// API only with a trailing slash accepts the sign-in and the refresh: with
// --issuer, "http://127.0.0.1:PORT/" is sent as given; with --resource
// alone, the metadata's "…/resource/" is sent, though the person typed
// "…/resource".
func TestE2EResourceKeptAsGiven(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		args     func(srv *oauthtest.Server) []string
	}{
		{"with issuer", "/", func(srv *oauthtest.Server) []string {
			return []string{"--issuer", srv.Issuer(), "--resource", srv.Issuer() + "/"}
		}},
		{"discovered", "/resource/", func(srv *oauthtest.Server) []string {
			return []string{"--resource", srv.ResourceEndpoint()}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := oauthtest.NewServer(oauthtest.Config{ResourceIdentifier: tc.id, ExactResource: true})
			defer srv.Close()
			c := newCLI(t)
			var wg sync.WaitGroup
			args := append([]string{"login", "--profile", "exact", "--no-browser", "--store", "file", "--client-id", srv.ClientID(),
				"--scope", "openid offline_access", "--timeout", "1m"}, tc.args(srv)...)
			r := c.interactive(browseOn(t, srv.AuthorizationEndpoint(), &wg), args...)
			wg.Wait()
			if r.code != 0 {
				t.Fatalf("login: %v", r)
			}
			p, err := withConfigHome(c, func() (*Profile, error) { return loadProfile("exact") })
			if err != nil {
				t.Fatal(err)
			}
			if p.Resource != srv.ResourceIdentifier() {
				t.Errorf("profile resource %q, want %q", p.Resource, srv.ResourceIdentifier())
			}
			if r := c.run("", "refresh", "--profile", "exact"); r.code != 0 {
				t.Fatalf("refresh: %v", r)
			}
		})
	}
}

// withConfigHome runs f with the CLI's configuration directory.
func withConfigHome[T any](c *cli, f func() (T, error)) (T, error) {
	for _, e := range c.env {
		if v, ok := strings.CutPrefix(e, "XDG_CONFIG_HOME="); ok {
			c.t.Setenv("XDG_CONFIG_HOME", v)
		}
	}
	return f()
}

func TestE2EGitCredentialHosts(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "forge", "--git-host", "Git.Example.com", "--git-username", "x-access-token")
	tok := strings.TrimSpace(c.run("", "token", "--profile", "forge").stdout)

	// The host maps to the profile.
	r := c.run("protocol=https\nhost=git.example.com\n\n", "git-credential", "get")
	if r.code != 0 || !strings.Contains(r.stdout, "username=x-access-token\npassword="+tok+"\n") {
		t.Errorf("get for a mapped host: %v", r)
	}
	// Another host: nothing, so git asks the next helper.
	r = c.run("protocol=https\nhost=other.example.com\n\n", "git-credential", "get")
	if r.code != 0 || r.stdout != "" {
		t.Errorf("get for an unmapped host: %v", r)
	}
	r = c.run("protocol=https\nhost=other.example.com\n\n", "git-credential", "--profile", "forge", "get")
	if r.code != 0 || r.stdout != "" {
		t.Errorf("get with --profile for a host it does not list: %v", r)
	}
	// store: a no-op.
	n := len(srv.Requests())
	r = c.run("protocol=https\nhost=git.example.com\nusername=x\npassword=y\n\n", "git-credential", "store")
	if r.code != 0 || r.stdout != "" || len(requestsSince(srv, n)) != 0 {
		t.Errorf("store: %v", r)
	}
	// erase with another password: nothing; with the current token: refreshed.
	r = c.run("protocol=https\nhost=git.example.com\nusername=x-access-token\npassword=old\n\n", "git-credential", "erase")
	if r.code != 0 || srv.Count("token") != 1 {
		t.Errorf("erase of another password: %v (token requests %d)", r, srv.Count("token"))
	}
	r = c.run("protocol=https\nhost=git.example.com\nusername=x-access-token\npassword="+tok+"\n\n", "git-credential", "erase")
	if r.code != 0 || srv.Count("token") != 2 {
		t.Errorf("erase of the current token: %v (token requests %d)", r, srv.Count("token"))
	}
	if got := strings.TrimSpace(c.run("", "token", "--profile", "forge").stdout); got == tok || !srv.ValidAccessToken(got) {
		t.Error("erase did not replace the access token")
	}
	// Bad input: an error, exit 1.
	if r := c.run("no equals sign\n\n", "git-credential", "get"); r.code != 1 || r.stdout != "" {
		t.Errorf("bad input: %v", r)
	}
	// Login required: exit 3, nothing on stdout.
	srv.RevokeAll()
	if r := c.run("", "logout", "--profile", "forge"); r.code != 0 {
		t.Errorf("logout: %v", r)
	}
	r = c.run("protocol=https\nhost=git.example.com\n\n", "git-credential", "get")
	if r.code != 3 || r.stdout != "" || !strings.Contains(r.stderr, "run: authloop login --profile forge") {
		t.Errorf("get when logged out: %v", r)
	}
}

// Ctrl+C during the login ends it at once, cleanly, as Ctrl+C would (the
// shell sees a process ended by SIGINT).
func TestE2ELoginInterrupted(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	cmd := exec.Command(binPath, "login", "--no-browser", "--store", "file", "--issuer", srv.Issuer(), "--client-id", srv.ClientID())
	cmd.Env = c.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), srv.AuthorizationEndpoint()) {
			break
		}
	}
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGINT)
	rest, _ := io.ReadAll(stderr)
	out.Write(rest)
	err = cmd.Wait()
	ee, _ := err.(*exec.ExitError)
	if ee == nil || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT || time.Since(start) > 5*time.Second {
		t.Errorf("after Ctrl+C: %v after %v, want ended by SIGINT\n%s", err, time.Since(start), out.String())
	}
	if !strings.Contains(out.String(), "authloop: stopped by Ctrl+C (SIGINT)") {
		t.Errorf("no stop message:\n%s", out.String())
	}
	if _, err := withConfigHome(c, func() (*Profile, error) { return loadProfile("default") }); err == nil {
		t.Error("a cancelled login saved its profile")
	}
}

// On a terminal: a spinner with the elapsed time, colours unless NO_COLOR;
// piped: neither.
func TestE2ETerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) is not installed")
	}
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	for _, tc := range []struct {
		name    string
		noColor bool
	}{{"color", false}, {"NO_COLOR", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			if tc.noColor {
				c.setenv("NO_COLOR=1")
			}
			line := binPath + " login --no-browser --store file --issuer " + srv.Issuer() + " --client-id " + srv.ClientID()
			cmd := exec.Command(script, "-qec", line, "/dev/null")
			cmd.Env = c.env
			cmd.Stdin = strings.NewReader("")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			var wg sync.WaitGroup
			act := browseOn(t, srv.AuthorizationEndpoint(), &wg)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				l := sc.Text()
				out.WriteString(l + "\n")
				// Let the spinner turn a little before the "browser" answers.
				if strings.HasPrefix(l, srv.AuthorizationEndpoint()) {
					time.Sleep(1200 * time.Millisecond)
				}
				act(strings.TrimRight(l, "\r"))
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("login under a terminal: %v\n%s", err, out.String())
			}
			wg.Wait()
			got := out.String()
			if !strings.Contains(got, "Waiting for the sign-in") || !strings.Contains(got, "0:01") || !strings.Contains(got, "\r\033[K") {
				t.Errorf("no spinner with the elapsed time on a terminal:\n%q", got)
			}
			hasColor := strings.Contains(got, "\033[32m✓")
			if hasColor == tc.noColor {
				t.Errorf("colour shown: %v, NO_COLOR set: %v\n%q", hasColor, tc.noColor, got)
			}
		})
	}
	// Piped (the other tests' runs): no spinner, no escape sequence.
	c := newCLI(t)
	r := c.login(srv, "piped")
	if r.code != 0 || strings.Contains(r.stderr, "\033") || strings.Contains(r.stderr, "Waiting for the sign-in") {
		t.Errorf("piped login shows terminal output: %q", r.stderr)
	}
}
