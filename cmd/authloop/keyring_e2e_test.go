//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// Issue 13 item 2: `login --store keyring` where no keyring can answer (no
// D-Bus session bus) fails before the browser opens, with the session-bus
// probe of --store auto: it starts no dbus-launch (a fake one first on
// PATH records any start), sends no request, and names --store file.
func TestE2EKeyringWithoutSessionBus(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	if _, err := os.Stat(filepath.Join("/run/user", itoa(os.Getuid()), "bus")); err == nil {
		t.Skip("this user has a systemd session bus")
	}
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	bin := filepath.Join(c.dir, "bin")
	marker := filepath.Join(c.dir, "dbus-launch-started")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"$@\" >> " + marker + "\nexit 1\n"
	for _, name := range []string{"dbus-launch", "dbus-daemon"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	runtime := filepath.Join(c.dir, "runtime")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	c.setenv("PATH="+bin+":"+os.Getenv("PATH"), "XDG_RUNTIME_DIR="+runtime)

	r := c.login(srv, "p", "--store", "keyring")
	if r.code != 1 {
		t.Fatalf("login --store keyring without a keyring: %v", r)
	}
	if strings.Contains(r.stderr, srv.AuthorizationEndpoint()) || len(srv.Requests()) != 0 {
		t.Errorf("the sign-in started (%d requests):\n%s", len(srv.Requests()), r.stderr)
	}
	twoLines(t, r.stderr, []string{"keyring", "session bus"}, "--store file")
	if b, err := os.ReadFile(marker); err == nil {
		t.Errorf("dbus-launch or dbus-daemon was started: %s", b)
	}
	if r := c.run("", "status", "--profile", "p"); r.code != 3 {
		t.Errorf("status after the refused login: %v", r)
	}
	// The fix the message names works.
	c.mustLogin(srv, "p", "--store", "file")
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
