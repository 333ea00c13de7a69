package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// A client secret pasted as the value of --client-secret-env (which takes
// a variable's name) is refused before anything is saved, and never
// echoed; a profile edited by hand to hold such a value does not print it
// either.
func TestE2EClientSecretEnvIsAName(t *testing.T) {
	const secret = "s3cr3t-Value/with+chars="
	srv := oauthtest.NewServer(oauthtest.Config{Clients: []oauthtest.Client{{ID: "conf", Secret: secret}}})
	defer srv.Close()
	c := newCLI(t)
	r := c.run("", "login", "--profile", "p", "--no-browser", "--store", "file", "--issuer", srv.Issuer(),
		"--client-id", "conf", "--client-secret-env", secret)
	if r.code != exitUsage || !strings.Contains(r.stderr, "NAME of an environment variable") {
		t.Errorf("--client-secret-env with a secret: %v", r)
	}
	if strings.Contains(r.stdout+r.stderr, secret) {
		t.Errorf("the value given to --client-secret-env was printed:\n%v", r)
	}
	if _, err := os.Stat(filepath.Join(c.storeDir(), "profiles", "p.json")); err == nil {
		t.Error("a profile was saved")
	}

	// A profile saved by an older authloop, or by hand, with the secret
	// where the name belongs.
	c.setenv("AUTHLOOP_TEST_SECRET=" + secret)
	c.mustLogin(srv, "q", "--client-id", "conf", "--client-secret-env", "AUTHLOOP_TEST_SECRET")
	path := filepath.Join(c.storeDir(), "profiles", "q.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["client_secret_env"] = secret
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c.agePastHalfLife(t, "q") // so that token refreshes, and needs the secret
	for _, args := range [][]string{{"token", "--profile", "q", "--min-valid", "2h"}, {"refresh", "--profile", "q"}, {"status"}, {"logout", "--profile", "q"}} {
		r := c.run("", args...)
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("%v printed the value of client_secret_env:\n%v", args, r)
		}
	}
}
