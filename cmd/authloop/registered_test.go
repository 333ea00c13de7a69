package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/register"
)

// Issue 13, item 13: `authloop login --resource URL` alone signs in to an
// MCP server: the command registers a client (RFC 7591, for the exact
// loopback redirect URI; the server compares exactly), says which, and
// keeps it in the record, so that `token`, `refresh` and `status` in later
// processes use the same client. Before, login stopped with "profile has no
// client id yet: give --client-id".
func TestE2ELoginResourceRegistersClient(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{ExactRedirectURIs: true})
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()
	c := newCLI(t)
	login := func() result {
		t.Helper()
		var wg sync.WaitGroup
		defer wg.Wait()
		return c.interactive(browseOn(t, srv.AuthorizationEndpoint(), &wg), "login", "--profile", "mcp", "--no-browser", "--store", "file",
			"--resource", srv.ResourceEndpoint(), "--timeout", "1m")
	}
	r := login()
	if r.code != 0 {
		t.Fatalf("login --resource alone: %v", r)
	}
	m := regexp.MustCompile(`Client (\S+) registered at ` + regexp.QuoteMeta(srv.Issuer()) + ` \(dynamic registration, RFC 7591\)`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("login did not say which client it registered:\n%s", r.stderr)
	}
	id := m[1]
	if id == srv.ClientID() || srv.Count("register") != 1 {
		t.Errorf("client %q, %d registrations; want one new registration", id, srv.Count("register"))
	}
	reg, ok := srv.Client(id)
	if !ok || len(reg.RedirectURIs) != 1 {
		t.Fatalf("the server has no client %q, or not one redirect URI: %+v", id, reg)
	}
	if u, err := url.Parse(reg.RedirectURIs[0]); err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Path != "/callback" {
		t.Errorf("registered redirect URI %q, want the exact loopback one with its port", reg.RedirectURIs[0])
	}
	if reg.Secret != "" && strings.Contains(r.stderr, reg.Secret) {
		t.Error("login printed the client secret")
	}
	p, err := withConfigHome(c, func() (*Profile, error) { return loadProfile("mcp") })
	if err != nil || p.ClientID != "" || p.Resource != srv.ResourceEndpoint() {
		t.Errorf("profile %+v (%v): want no client id, the resource", p, err)
	}

	// A later process: token, accepted by the resource, issued to the
	// registered client.
	tok := strings.TrimSpace(c.run("", "token", "--profile", "mcp").stdout)
	if got := resourceAnswer(t, srv, tok); got["client_id"] != id || got["aud"] != srv.ResourceEndpoint() {
		t.Errorf("the resource answered %v; want client_id %s, aud %s", got, id, srv.ResourceEndpoint())
	}
	// A refresh in another process presents the same client.
	if r := c.run("", "refresh", "--profile", "mcp"); r.code != 0 {
		t.Fatalf("refresh: %v", r)
	}
	reqs := srv.Requests()
	if last := reqs[len(reqs)-1]; last.Endpoint != "token" || last.GrantType != "refresh_token" || last.ClientID != id || last.Status != http.StatusOK {
		t.Errorf("refresh request %+v; want a refresh as %s", last, id)
	}
	tok = strings.TrimSpace(c.run("", "token", "--profile", "mcp").stdout)
	if got := resourceAnswer(t, srv, tok); got["client_id"] != id {
		t.Errorf("after the refresh the resource answered %v", got)
	}
	if srv.Count("register") != 1 {
		t.Errorf("%d registrations; the later commands must use the kept one", srv.Count("register"))
	}

	// status shows the client.
	if r := c.run("", "status", "--profile", "mcp"); r.code != 0 || !strings.Contains(r.stdout, "registered client "+id) {
		t.Errorf("status: %v", r)
	}
	var sts []map[string]any
	decodeJSON(t, c.run("", "status", "--json").stdout, &sts)
	if len(sts) != 1 || sts[0]["client_id"] != id || sts[0]["client_registered"] != true {
		t.Errorf("status --json = %v", sts)
	}

	// A second login keeps the registration: its redirect URI's port is
	// listened on again.
	if r := login(); r.code != 0 || !strings.Contains(r.stderr, "Client "+id+" registered") {
		t.Fatalf("second login: %v", r)
	}
	if srv.Count("register") != 1 {
		t.Errorf("%d registrations after a second login, want the kept one", srv.Count("register"))
	}

	// logout deletes the registration with the tokens, and says so; the
	// next login registers anew.
	r = c.run("", "logout", "--profile", "mcp")
	if r.code != 0 || !strings.Contains(r.stderr, "The client "+id+" registered at login is forgotten here too") {
		t.Errorf("logout: %v", r)
	}
	if r := login(); r.code != 0 || srv.Count("register") != 2 || strings.Contains(r.stderr, "Client "+id+" ") {
		t.Errorf("login after logout: %v (%d registrations)", r, srv.Count("register"))
	}
}

// resourceAnswer calls the server's protected resource with tok and returns
// its JSON answer; it fails the test unless the answer is 200.
func resourceAnswer(t *testing.T, srv *oauthtest.Server, tok string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.ResourceEndpoint(), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the resource answered %d %v", resp.StatusCode, body)
	}
	return body
}

// A client secret without a client id is a usage error; with --client-id,
// login signs in as that client, registering nothing (as before).
func TestE2ELoginClientSettings(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	c.setenv("SOME_SECRET=s3cret")
	r := c.run("", "login", "--profile", "x", "--no-browser", "--store", "file", "--issuer", srv.Issuer(), "--client-secret-env", "SOME_SECRET")
	if r.code != 2 || !strings.Contains(r.stderr, "give --client-id with it") {
		t.Errorf("secret without a client id: %v", r)
	}
	// A server that registers no clients: exit 1, give --client-id.
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/.well-known/") {
			http.NotFound(w, r)
			return
		}
		base := "http://" + r.Host
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"response_types_supported":["code"],"code_challenge_methods_supported":["S256"]}`,
			base, base+"/authorize", base+"/token")
	}))
	defer meta.Close()
	r = c.run("", "login", "--profile", "noreg", "--no-browser", "--store", "file", "--issuer", meta.URL, "--timeout", "10s")
	if r.code != 1 || !strings.Contains(r.stderr, "registers no clients") || !strings.Contains(r.stderr, "give --client-id") || strings.Contains(r.stderr, "Config.") {
		t.Errorf("a server without registration: %v", r)
	}
	r = c.login(srv, "pre")
	if r.code != 0 || strings.Contains(r.stderr, "registered") || srv.Count("register") != 0 {
		t.Errorf("login --client-id: %v (%d registrations)", r, srv.Count("register"))
	}
	if r := c.run("", "status", "--json"); strings.Contains(r.stdout, "client_registered") || !strings.Contains(r.stdout, `"client_id": "`+srv.ClientID()+`"`) {
		t.Errorf("status --json for a pre-registered client: %v", r)
	}
}

func TestNoClientError(t *testing.T) {
	p := &Profile{Name: "mcp", Issuer: "https://as.example.com"}
	err := fmt.Errorf("signing in: %w", fmt.Errorf("%w: no registration_endpoint", register.ErrNoClient))
	var ce *cliError
	if !errors.As(noClientError(p, err), &ce) || ce.code != exitFailure || !strings.Contains(ce.hint, "--client-id") || strings.Contains(ce.Error(), "Config.") {
		t.Errorf("noClientError = %v", noClientError(p, err))
	}
	if noClientError(p, errors.New("other")) != nil {
		t.Error("another error taken for a registration failure")
	}
	p.ClientID = "given"
	if noClientError(p, err) != nil {
		t.Error("a profile with a client id: the registration error is not ours")
	}
}
