//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// A profile whose tokens are in the OS keyring, used where the keyring
// cannot be reached (over SSH, without the desktop session's D-Bus bus):
// a local problem, exit 1, naming the keyring and what to do; never 4
// "the server could not be reached, try again later" (no server was
// asked: status makes no network request at all). The sign-in runs in a
// private D-Bus session with gnome-keyring's Secret Service.
func TestE2EKeyringUnreachableIsLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	for _, tool := range []string{"dbus-run-session", "dbus-send", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	launcher := filepath.Join(c.dir, "in-keyring-session.sh")
	// The daemon that --unlock starts owns org.freedesktop.secrets a moment
	// later: the command must not run before, or D-Bus activates a second
	// daemon, which finds the login keyring locked and no prompter.
	script := `#!/bin/sh
exec dbus-run-session -- sh -c '
printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
i=0
until dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"; do
	i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.05
done
exec "$@"' sh "$@"
`
	if err := os.WriteFile(launcher, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c.launcher = launcher
	if r := c.login(srv, "p", "--store", "keyring"); r.code != 0 || !strings.Contains(r.stderr, "OS keyring") {
		t.Fatalf("no sign-in with the keyring in a private D-Bus session: %v", r)
	}
	c.launcher = ""
	c.setenv("DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(c.dir, "no-bus"))
	before := len(srv.Requests())
	for _, cmd := range []string{"token", "status", "refresh"} {
		r := c.run("", cmd, "--profile", "p")
		if r.code != exitFailure {
			t.Errorf("%s: exit %d, want %d\n%v", cmd, r.code, exitFailure, r)
		}
		twoLines(t, r.stderr, []string{"keyring"}, "--store file")
		if testing.Verbose() {
			t.Logf("%s: %v", cmd, r)
		}
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("%d requests to the server", n)
	}
}
