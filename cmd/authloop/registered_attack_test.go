package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// recordOf loads the file-store record of profile, or nil.
func (c *cli) recordOf(t testing.TB, profile string) *store.Record {
	t.Helper()
	_, rec := c.fileRecord(t, profile)
	return rec
}

// fileRecord returns c's file store and the record of profile in it (nil
// when there is none).
func (c *cli) fileRecord(t testing.TB, profile string) (*store.File, *store.Record) {
	t.Helper()
	ctx := context.Background()
	st, err := store.NewFile(filepath.Join(c.dir, "config", "authloop"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Account == profile {
			rec, err := st.Load(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			return st, rec
		}
	}
	return st, nil
}

// The server forgets the client login registered (its registration is
// deleted, RFC 7592): the refresh is refused with invalid_client. The
// command must not send the person to `authloop login` alone: a new process
// takes the registration from the record again, the authorization page
// refuses the unknown client, and the login waits until its timeout. The
// way out it names (logout, which forgets the registration, then login,
// which registers anew) works when followed. Before, the hint was "run:
// authloop login --profile mcp", and the message said "the next sign-in
// registers anew", which only a long-running program's session does.
func TestE2ERegisteredClientForgottenByServer(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{ExactRedirectURIs: true, RegistrationManagement: true})
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()
	c := newCLI(t)
	login := func(args ...string) result {
		t.Helper()
		var wg sync.WaitGroup
		defer wg.Wait()
		return c.interactive(browseOn(t, srv.AuthorizationEndpoint(), &wg), append([]string{"login", "--profile", "mcp", "--no-browser", "--store", "file", "--timeout", "20s"}, args...)...)
	}
	if r := login("--resource", srv.ResourceEndpoint()); r.code != 0 {
		t.Fatalf("login: %v", r)
	}
	rec := c.recordOf(t, "mcp")
	if rec == nil || rec.Client == nil || rec.Client.RegistrationClientURI == "" {
		t.Fatalf("no registration with a configuration endpoint in the record: %v", rec)
	}
	old := rec.Client.ClientID
	req, _ := http.NewRequest(http.MethodDelete, rec.Client.RegistrationClientURI, nil)
	req.Header.Set("Authorization", "Bearer "+rec.Client.RegistrationAccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("deleting the registration: %d", resp.StatusCode)
	}
	c.agePastHalfLife(t, "mcp")

	r := c.run("", "token", "--profile", "mcp", "--min-valid", "2h")
	if r.code != 3 || r.stdout != "" {
		t.Fatalf("token with a forgotten client: %v", r)
	}
	if !strings.Contains(r.stderr, "run: authloop logout --profile mcp, then authloop login --profile mcp") || strings.Contains(r.stderr, "registers anew") {
		t.Errorf("token with a forgotten client names no way out that works: %v", r)
	}
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if len(l) > 200 {
			t.Errorf("a line of %d characters: %q", len(l), l)
		}
	}
	// Followed, the hint gets the person out.
	if r := c.run("", "logout", "--profile", "mcp"); !strings.Contains(r.stderr, "The client "+old+" registered at login is forgotten") {
		t.Errorf("logout: %v", r)
	}
	if r := login(); r.code != 0 || srv.Count("register") != 2 || strings.Contains(r.stderr, old) {
		t.Fatalf("login after logout: %v (%d registrations)", r, srv.Count("register"))
	}
	if r := c.run("", "token", "--profile", "mcp"); r.code != 0 {
		t.Errorf("token after the new login: %v", r)
	}
}

// A profile signed in with --client-id at one server, then `login --resource
// URL` alone for an MCP server whose authorization server is another: the
// client id was registered at the first server and means nothing at the
// second, so login registers a client there (as the help promises without
// --client-id) and says that the old one was for the other server. Before,
// it sent the first server's client id to the second, whose authorization
// page refused it, and the login waited for its timeout.
func TestE2ELoginResourceAtAnotherServerDropsClientID(t *testing.T) {
	a := oauthtest.NewServer(oauthtest.Config{Clients: []oauthtest.Client{{ID: "cli-at-a"}}})
	defer a.Close()
	b := oauthtest.NewServer(oauthtest.Config{ExactRedirectURIs: true, Clients: []oauthtest.Client{{ID: "only-b-knows"}}})
	defer b.Close()
	defer http.DefaultClient.CloseIdleConnections()
	c := newCLI(t)
	c.mustLogin(a, "mcp")
	var wg sync.WaitGroup
	r := c.interactive(browseOn(t, b.AuthorizationEndpoint(), &wg), "login", "--profile", "mcp", "--resource", b.ResourceEndpoint(), "--timeout", "10s")
	wg.Wait()
	if r.code != 0 || b.Count("register") != 1 || !strings.Contains(r.stderr, "registered at "+b.Issuer()) || !strings.Contains(r.stderr, "cli-at-a") {
		t.Fatalf("login --resource at another server: %v (%d registrations)", r, b.Count("register"))
	}
	if r := c.run("", "token", "--profile", "mcp"); r.code != 0 {
		t.Errorf("token: %v", r)
	}
	// The same server again: a given --client-id is kept, as before.
	c.mustLogin(a, "same")
	r = c.interactive(browseOn(t, a.AuthorizationEndpoint(), &wg), "login", "--profile", "same", "--issuer", a.Issuer(), "--resource", a.ResourceEndpoint(), "--timeout", "10s")
	wg.Wait()
	if r.code != 0 || a.Count("register") != 0 {
		t.Errorf("login --resource at the same server: %v (%d registrations)", r, a.Count("register"))
	}
}
