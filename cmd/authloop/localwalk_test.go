package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// localWalkCases are error paths of the command that TestErrorPathWalk
// does not take: local problems (a configuration directory that is a
// file, a profile that is a directory, no configuration directory at all,
// a client secret that is not there, a profile edited by hand) and flag
// values that make no sense. Each is checked by the walk's rules: the
// exit code of the table (a local problem is never 4, "try again later")
// and two short lines, what failed and what to do.
func localWalkCases() []walkCase {
	configIsFile := func(w *walkEnv) []string {
		w.write(filepath.Join(w.c.dir, "config", "authloop"), "not a directory")
		return nil
	}
	secretEnvGone := func(w *walkEnv) []string {
		w.server(oauthtest.Config{Clients: []oauthtest.Client{{ID: "conf", Secret: "right"}}})
		w.c.setenv("AUTHLOOP_TEST_SECRET=right")
		w.c.mustLogin(w.srv, "p", "--client-id", "conf", "--client-secret-env", "AUTHLOOP_TEST_SECRET")
		w.c.setenv("AUTHLOOP_TEST_SECRET=") // a new shell, without the variable
		return nil
	}
	handEdited := func(field string) func(w *walkEnv) []string {
		return func(w *walkEnv) []string {
			w.write(w.configFile("profiles/p.json"), `{"version":1,"issuer":"https://auth.example.com","client_id":"c","store":"file",`+field+`}`)
			return nil
		}
	}
	return []walkCase{
		{name: "token/config dir is a file", setup: configIsFile, args: []string{"token"}, code: exitFailure},
		{name: "status/config dir is a file", setup: configIsFile, args: []string{"status"}, code: exitFailure},
		{name: "login/config dir is a file", setup: configIsFile, args: []string{"login", "--issuer", "https://auth.example.com", "--client-id", "c"}, code: exitFailure},
		{name: "token/profile is a directory", setup: func(w *walkEnv) []string {
			if err := os.MkdirAll(w.configFile("profiles/p.json"), 0o700); err != nil {
				w.t.Fatal(err)
			}
			return nil
		}, args: []string{"token", "--profile", "p"}, code: exitFailure},

		{name: "login/negative timeout", args: []string{"login", "--issuer", "https://auth.example.com", "--client-id", "c", "--timeout", "-1s"}, code: exitUsage, want: "--timeout"},
		{name: "login/zero timeout", args: []string{"login", "--issuer", "https://auth.example.com", "--client-id", "c", "--timeout", "0"}, code: exitUsage, want: "--timeout"},

		{name: "token/client secret variable unset", setup: secretEnvGone, args: []string{"token", "--profile", "p"}, code: exitFailure, want: "AUTHLOOP_TEST_SECRET"},
		{name: "refresh/client secret variable unset", setup: secretEnvGone, args: []string{"refresh", "--profile", "p"}, code: exitFailure, want: "AUTHLOOP_TEST_SECRET"},
		{name: "status/client secret variable unset", setup: secretEnvGone, args: []string{"status", "--profile", "p"}, code: exitFailure, want: "AUTHLOOP_TEST_SECRET"},
		{name: "logout/client secret variable unset", setup: secretEnvGone, args: []string{"logout", "--profile", "p"}, code: exitFailure, want: "AUTHLOOP_TEST_SECRET"},

		{name: "token/XDG_CONFIG_HOME relative", setup: func(w *walkEnv) []string {
			w.c.setenv("XDG_CONFIG_HOME=relative/dir")
			return nil
		}, args: []string{"token"}, code: exitFailure, want: "XDG_CONFIG_HOME"},
		{name: "status/no HOME and no XDG_CONFIG_HOME", setup: func(w *walkEnv) []string {
			w.c.env = slices.DeleteFunc(w.c.env, func(e string) bool {
				return strings.HasPrefix(e, "HOME=") || strings.HasPrefix(e, "XDG_CONFIG_HOME=")
			})
			return nil
		}, args: []string{"status"}, code: exitFailure, want: "HOME"},

		{name: "token/store directory open to others", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			if err := os.Chmod(w.c.storeDir(), 0o755); err != nil {
				w.t.Fatal(err)
			}
			return nil
		}, args: []string{"token", "--profile", "p"}, code: exitFailure, want: "run: chmod 700 "},
		{name: "login/profiles directory open to others", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			if err := os.Chmod(filepath.Join(w.c.storeDir(), "profiles"), 0o755); err != nil {
				w.t.Fatal(err)
			}
			return []string{"login", "--profile", "q", "--issuer", w.srv.Issuer(), "--client-id", w.srv.ClientID(), "--no-browser", "--store", "file", "--timeout", "1m"}
		}, code: exitFailure, want: "run: chmod 700 "},
		{name: "token/profile with an http issuer", setup: func(w *walkEnv) []string {
			w.write(w.configFile("profiles/p.json"), `{"version":1,"issuer":"http://auth.example.com","client_id":"c","store":"file"}`)
			return nil
		}, args: []string{"token", "--profile", "p"}, code: exitFailure, want: "p.json"},
		{name: "token/profile with an unknown login mode", setup: handEdited(`"login_mode":"fax"`), args: []string{"token", "--profile", "p"}, code: exitFailure, want: "p.json"},
		{name: "token/profile with an unknown store", setup: handEdited(`"store":"cloud"`), args: []string{"token", "--profile", "p"}, code: exitFailure, want: "p.json"},
	}
}

// TestErrorPathWalkLocal runs localWalkCases with TestErrorPathWalk's
// checks.
func TestErrorPathWalkLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	runWalk(t, localWalkCases())
}

// status lists every profile, one of which cannot be read, as valid JSON
// with --json, and exits 1 (not 3, "login required": a login would not
// fix a profile file that is not JSON, nor a client secret that is not
// there), as status --profile does for that profile.
func TestE2EStatusListsBrokenProfile(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	t.Cleanup(srv.Close)
	c := newCLI(t)
	c.mustLogin(srv, "a")
	w := &walkEnv{t: t, c: c}
	w.write(w.configFile("profiles/b.json"), "{")
	for _, args := range [][]string{{"status", "--json"}, {"status"}, {"status", "--profile", "b"}} {
		r := c.run("", args...)
		if r.code != exitFailure {
			t.Errorf("authloop %v: exit %d, want %d\n%v", args, r.code, exitFailure, r)
		}
		checkErrorShape(t, r.stderr)
		if len(args) == 2 && args[1] == "--json" {
			var all []profileStatus
			decodeJSON(t, r.stdout, &all)
			if len(all) != 2 || !all[0].SignedIn || all[1].Error == "" || all[1].LoginRequired {
				t.Errorf("status --json: %+v", all)
			}
		}
	}
}
