package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

func TestE2ELoginTokenStatusRefreshLogout(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)

	r := c.login(srv, "work", "--git-host", "git.example.com")
	if r.code != 0 {
		t.Fatalf("login: %v", r)
	}
	if r.stdout != "" {
		t.Errorf("login wrote to stdout: %q", r.stdout)
	}
	for _, want := range []string{srv.AuthorizationEndpoint(), "Signed in to " + srv.Issuer() + " as alice (profile work)", "refresh token held", "file store at"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("login stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// The profile: 0600 in a 0700 directory, no secret, the settings.
	path := filepath.Join(c.dir, "config", "authloop", "profiles", "work.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("profile mode %v", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("profiles dir mode %v", di.Mode().Perm())
	}
	var prof Profile
	b, _ := os.ReadFile(path)
	decodeJSON(t, string(b), &prof)
	if prof.Issuer != srv.Issuer() || prof.ClientID != srv.ClientID() || prof.Store != "file" || strings.Join(prof.Scopes, " ") != "openid offline_access" || !prof.NoBrowser {
		t.Errorf("profile = %+v", prof)
	}

	// token: only the token and a newline, and no request at all.
	n := len(srv.Requests())
	r = c.run("", "token", "--profile", "work")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("token: %v", r)
	}
	tok := strings.TrimSuffix(r.stdout, "\n")
	if strings.Contains(tok, "\n") || tok == "" || !srv.ValidAccessToken(tok) {
		t.Fatalf("token printed %q", r.stdout)
	}
	if got := requestsSince(srv, n); len(got) != 0 {
		t.Errorf("token with a valid stored token made %d requests: %+v", len(got), got)
	}

	// --json: metadata, never the refresh token.
	r = c.run("", "token", "--profile", "work", "--json")
	if r.code != 0 {
		t.Fatalf("token --json: %v", r)
	}
	var j map[string]any
	decodeJSON(t, r.stdout, &j)
	if j["access_token"] != tok || j["token_type"] != "Bearer" || j["subject"] != "alice" || j["profile"] != "work" || j["issuer"] != srv.Issuer() {
		t.Errorf("token --json = %v", j)
	}
	if exp, err := time.Parse(time.RFC3339, j["expiry"].(string)); err != nil || time.Until(exp) < 50*time.Minute {
		t.Errorf("expiry %v (%v)", j["expiry"], err)
	}
	if sc, _ := j["scopes"].([]any); len(sc) != 2 {
		t.Errorf("scopes = %v", j["scopes"])
	}
	if strings.Contains(r.stdout, "refresh") {
		t.Errorf("token --json mentions the refresh token:\n%s", r.stdout)
	}

	// exec-credential.
	r = c.run("", "token", "--profile", "work", "--format", "exec-credential")
	var ec struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Status     struct {
			Token               string `json:"token"`
			ExpirationTimestamp string `json:"expirationTimestamp"`
		} `json:"status"`
	}
	decodeJSON(t, r.stdout, &ec)
	if ec.APIVersion != "client.authentication.k8s.io/v1" || ec.Kind != "ExecCredential" || ec.Status.Token != tok {
		t.Errorf("exec-credential = %+v", ec)
	}
	if ts, err := time.Parse(time.RFC3339, ec.Status.ExpirationTimestamp); err != nil || !strings.HasSuffix(ec.Status.ExpirationTimestamp, "Z") || time.Until(ts) < 50*time.Minute {
		t.Errorf("expirationTimestamp %q (%v)", ec.Status.ExpirationTimestamp, err)
	}
	if len(requestsSince(srv, n)) != 0 {
		t.Errorf("token --json / exec-credential made requests")
	}

	// --min-valid longer than the token's life: capped at half of it, so a
	// token past half its life is refreshed first.
	c.agePastHalfLife(t, "work")
	r = c.run("", "token", "--profile", "work", "--min-valid", "2h")
	tok2 := strings.TrimSpace(r.stdout)
	if r.code != 0 || tok2 == tok || !srv.ValidAccessToken(tok2) {
		t.Fatalf("token --min-valid 2h: %v", r)
	}
	if !strings.Contains(r.stderr, "this server's access tokens last 1 hour, less than twice the 2 hours asked (--min-valid)") {
		t.Errorf("no note about the short tokens:\n%s", r.stderr)
	}
	if got := srv.Count("token"); got != 2 {
		t.Errorf("token endpoint requests %d, want 2 (login, one refresh)", got)
	}
	// And the refreshed token is the stored one now.
	if r = c.run("", "token", "--profile", "work"); strings.TrimSpace(r.stdout) != tok2 {
		t.Errorf("the refreshed token was not kept: %v", r)
	}

	// status: one line, in words.
	r = c.run("", "status")
	if r.code != 0 {
		t.Fatalf("status: %v", r)
	}
	line := strings.TrimSpace(r.stdout)
	for _, want := range []string{"work: " + srv.Issuer(), "as alice", "scopes: openid offline_access", "access token expires in 1 hour", "refresh token held", "file store at"} {
		if !strings.Contains(line, want) {
			t.Errorf("status lacks %q:\n%s", want, line)
		}
	}
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("status printed %d lines for one profile", strings.Count(r.stdout, "\n"))
	}
	r = c.run("", "status", "--json")
	var sts []map[string]any
	decodeJSON(t, r.stdout, &sts)
	if len(sts) != 1 || sts[0]["profile"] != "work" || sts[0]["account"] != "alice" || sts[0]["refresh_token"] != true || sts[0]["signed_in"] != true {
		t.Errorf("status --json = %v", sts)
	}

	// refresh: says that the refresh token rotated.
	r = c.run("", "refresh", "--profile", "work")
	if r.code != 0 || !strings.Contains(r.stderr, "Refresh token rotated: sha256:") || !strings.Contains(r.stderr, "Refreshed profile work: new access token sha256:") {
		t.Errorf("refresh: %v", r)
	}
	if strings.Contains(r.stderr, tok2) {
		t.Error("refresh printed a token")
	}

	// git-credential get with --profile.
	r = c.run("protocol=https\nhost=git.example.com\npath=org/repo.git\n\n", "git-credential", "--profile", "work", "get")
	if r.code != 0 {
		t.Fatalf("git-credential get: %v", r)
	}
	cur := strings.TrimSpace(c.run("", "token", "--profile", "work").stdout)
	for _, want := range []string{"protocol=https\n", "host=git.example.com\n", "username=oauth2\n", "password=" + cur + "\n", "password_expiry_utc="} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("git-credential get lacks %q:\n%s", want, r.stdout)
		}
	}

	// logout: revoked at the server; then token says login required.
	r = c.run("", "logout", "--profile", "work")
	if r.code != 0 || !strings.Contains(r.stderr, "the server revoked the grant") {
		t.Errorf("logout: %v", r)
	}
	if srv.Count("revoke") != 1 || srv.ValidAccessToken(cur) {
		t.Errorf("revoke requests %d; access token still valid: %v", srv.Count("revoke"), srv.ValidAccessToken(cur))
	}
	r = c.run("", "token", "--profile", "work")
	if r.code != 3 || r.stdout != "" || !strings.Contains(r.stderr, "run: authloop login --profile work") {
		t.Errorf("token after logout: %v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "authloop: ") {
		t.Errorf("error is not two lines (what failed, what to do):\n%s", r.stderr)
	}
	// The profile is kept: login again needs no flags but --no-browser's.
	var wg sync.WaitGroup
	r = c.interactive(browseOn(t, srv.AuthorizationEndpoint(), &wg), "login", "--profile", "work")
	wg.Wait()
	if r.code != 0 {
		t.Errorf("login with the saved profile: %v", r)
	}
}

func TestE2EExitCodes(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)

	for _, args := range [][]string{
		{"frobnicate"},
		{"token", "--no-such-flag"},
		{"token", "--format", "yaml"},
		{"token", "extra-arg"},
		{"login", "--profile", "x"},
		{"login", "--profile", "../etc", "--issuer", srv.Issuer(), "--client-id", "c"},
		{"git-credential"}, // no operation (an unknown one is ignored, as git asks)
		{"login", "--client-secret-file", "a", "--client-secret-env", "B"},
	} {
		if r := c.run("", args...); r.code != 2 {
			t.Errorf("%v: %v; want exit 2", args, r)
		}
	}
	// No such profile: login required.
	if r := c.run("", "token", "--profile", "nobody"); r.code != 3 || !strings.Contains(r.stderr, "run: authloop login --profile nobody") {
		t.Errorf("token for an unknown profile: %v", r)
	}

	c.mustLogin(srv, "p")
	// The grant revoked at the server: a refresh gets invalid_grant.
	srv.RevokeAll()
	c.agePastHalfLife(t, "p")
	if r := c.run("", "token", "--profile", "p", "--min-valid", "2h"); r.code != 3 || !strings.Contains(r.stderr, "run: authloop login --profile p") {
		t.Errorf("token with a dead grant: %v", r)
	}
	if r := c.run("", "status", "--profile", "p"); r.code != 0 {
		// The access token is still valid by its expiry: not yet login required.
		t.Errorf("status: %v", r)
	}

	c.mustLogin(srv, "q")
	// The server unreachable: 4.
	srv.FailNext(20, oauthtest.Fault{Kind: oauthtest.FaultServerError})
	c.agePastHalfLife(t, "q")
	if r := c.run("", "token", "--profile", "q", "--min-valid", "2h"); r.code != 4 || !strings.Contains(r.stderr, "try again later") {
		t.Errorf("token with a failing server: %v", r)
	}
	srv.Close()
	if r := c.run("", "refresh", "--profile", "q"); r.code != 4 {
		t.Errorf("refresh with the server gone: %v", r)
	}
	// The stored token is still valid: token still works, without the server.
	if r := c.run("", "token", "--profile", "q"); r.code != 0 || r.stdout == "" {
		t.Errorf("token with the server gone but a valid token: %v", r)
	}
	if r := c.run("", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "authloop ") {
		t.Errorf("version: %v", r)
	}
}

func TestE2EJSONHasNoRefreshToken(t *testing.T) {
	// status --json and token --json hold no refresh token or ID token.
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "default")
	rec := readRecordTokens(t, c)
	for _, args := range [][]string{{"token", "--json"}, {"status", "--json"}, {"status"}} {
		r := c.run("", args...)
		for _, secret := range []string{rec.RefreshToken, rec.IDToken} {
			if secret != "" && strings.Contains(r.stdout+r.stderr, secret[:16]) {
				t.Errorf("%v shows a secret token:\n%s", args, r.stdout)
			}
		}
	}
}

type recordTokens struct {
	RefreshToken string
	IDToken      string
}

// readRecordTokens reads the secrets of the only record in the file store.
func readRecordTokens(t *testing.T, c *cli) recordTokens {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(c.dir, "config", "authloop", "*.json"))
	if len(files) != 1 {
		t.Fatalf("record files: %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Record struct {
			Token struct {
				RefreshToken string         `json:"refresh_token"`
				Extra        map[string]any `json:"extra"`
			} `json:"token"`
		} `json:"record"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	id, _ := f.Record.Token.Extra["id_token"].(string)
	return recordTokens{RefreshToken: f.Record.Token.RefreshToken, IDToken: id}
}
