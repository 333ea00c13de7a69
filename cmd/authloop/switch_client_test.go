package main

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// Issue 13 items 7 and 13 together: a profile switched between a client
// that login registered (no --client-id) and a named client, at the same
// server, ends the other client's sign-in either way: its grant revoked,
// one record file left, and status lists no previous sign-in.
func TestE2ESwitchRegisteredAndNamedClient(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()
	c := newCLI(t)
	registered := func() result {
		t.Helper()
		var wg sync.WaitGroup
		defer wg.Wait()
		return c.interactive(browseOn(t, srv.AuthorizationEndpoint(), &wg), "login", "--profile", "p", "--no-browser", "--store", "file",
			"--issuer", srv.Issuer(), "--client-id", "", "--scope", "openid offline_access", "--timeout", "1m")
	}
	revokes := func() int {
		n := 0
		for _, q := range srv.Requests() {
			if q.Endpoint == "revoke" {
				n++
			}
		}
		return n
	}
	check := func(step string, r result, wantRevokes int) {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%s: %v", step, r)
		}
		if n := revokes(); n != wantRevokes {
			t.Errorf("%s: %d revocations at the server, want %d\n%s", step, n, wantRevokes, r.stderr)
		}
		if files := recordFiles(t, c); len(files) != 1 {
			t.Errorf("%s: record files %v, want one", step, files)
		}
		if st := c.run("", "status", "--profile", "p"); st.code != 0 || strings.Contains(st.stdout, "previous") {
			t.Errorf("%s: status: %v", step, st)
		}
	}
	check("login with a registered client", registered(), 0)
	check("then login --client-id", c.login(srv, "p"), 1)
	check("then back to a registered client", registered(), 2)
	if n := srv.Count("register"); n != 2 {
		t.Errorf("%d registrations, want 2 (the first login and the last)", n)
	}
}
