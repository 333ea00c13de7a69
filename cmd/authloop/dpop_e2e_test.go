package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// The command with DPoP (RFC 9449, issue 17), end to end on the built
// binary against oauthtest: login --dpop, the header lines of
// token --header for curl, status's token type and key thumbprint, and the
// uses that cannot send a proof (git, kubectl).

// headerLines parses the stdout of token --header: "Name: value" lines,
// nothing else, in order.
func headerLines(t *testing.T, out string) [][2]string {
	t.Helper()
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("the header lines do not end with a newline: %q", out)
	}
	var hs [][2]string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		name, value, ok := strings.Cut(line, ": ")
		if !ok || name == "" || value == "" || strings.ContainsAny(line, "\r\t") {
			t.Fatalf("stdout line %q is not a header line (Name: value)", line)
		}
		hs = append(hs, [2]string{name, value})
	}
	return hs
}

// callWith sends method to url with the header lines, as curl -H @- does,
// and returns the status and the body.
func callWith(t *testing.T, method, url string, hs [][2]string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		req.Header.Add(h[0], h[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, resp.Header
}

// statusJSON runs status --json for profile and returns its object.
func (c *cli) statusJSON(t *testing.T, profile string) map[string]any {
	t.Helper()
	r := c.run("", "status", "--profile", profile, "--json")
	if r.code != 0 {
		t.Fatalf("status: %v", r)
	}
	var all []map[string]any
	decodeJSON(t, r.stdout, &all)
	if len(all) != 1 {
		t.Fatalf("status --json: %d objects", len(all))
	}
	return all[0]
}

// profileJSON reads profile's file.
func (c *cli) profileJSON(t *testing.T, profile string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.storeDir(), "profiles", profile+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	decodeJSON(t, string(b), &m)
	return m
}

// cnfJKT is the key the resource's answer says the token is bound to.
func cnfJKT(body map[string]any) string {
	cnf, _ := body["cnf"].(map[string]any)
	s, _ := cnf["jkt"].(string)
	return s
}

func TestE2EDPoPLoginHeaderStatus(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{DPoP: true})
	defer srv.Close()
	c := newCLI(t)
	r := c.login(srv, "work", "--git-host", "git.example.com")
	if r.code != 0 {
		t.Fatalf("login: %v", r)
	}
	if !strings.Contains(r.stderr, "DPoP-bound") || !strings.Contains(r.stderr, "git-credential does not answer") {
		t.Errorf("login says nothing of the DPoP binding or of git:\n%v", r)
	}
	if _, ok := c.profileJSON(t, "work")["dpop"]; ok {
		t.Errorf("the profile of login --dpop auto (the default) names a dpop mode: %v", c.profileJSON(t, "work"))
	}
	rec := c.recordOf(t, "work")
	at := rec.Token.AccessToken
	jkt := srv.TokenBinding(at)
	if jkt == "" || len(rec.DPoPKey) == 0 {
		t.Fatalf("login --dpop auto at a DPoP server: token bound to %q, key kept: %v; want a DPoP-bound token and its key in the record", jkt, len(rec.DPoPKey) > 0)
	}

	// status: the type and the thumbprint the server bound the token to.
	st := c.statusJSON(t, "work")
	if st["token_type"] != "DPoP" || st["dpop_jkt"] != jkt {
		t.Errorf("status --json: token_type %v, dpop_jkt %v; want DPoP and %s", st["token_type"], st["dpop_jkt"], jkt)
	}
	if r := c.run("", "status", "--profile", "work"); r.code != 0 || !strings.Contains(r.stdout, "DPoP token") || !strings.Contains(r.stdout, "DPoP key: thumbprint "+jkt) {
		t.Errorf("status does not show the token type and the key's thumbprint %s:\n%v", jkt, r)
	}

	// token --header: two lines, accepted once, refused when replayed.
	url := srv.ResourceEndpoint()
	r = c.run("", "token", "--profile", "work", "--header", "GET", url)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("token --header: %v", r)
	}
	hs := headerLines(t, r.stdout)
	if len(hs) != 2 || hs[0] != [2]string{"Authorization", "DPoP " + at} || hs[1][0] != "DPoP" {
		t.Fatalf("token --header printed %q; want Authorization: DPoP <token>, then DPoP: <proof>", r.stdout)
	}
	if code, body, _ := callWith(t, "GET", url, hs); code != http.StatusOK || cnfJKT(body) != jkt {
		t.Fatalf("the resource answered %d %v to the printed headers; want 200 bound to %s", code, body, jkt)
	}
	if code, _, _ := callWith(t, "GET", url, hs); code != http.StatusUnauthorized {
		t.Errorf("the printed proof replayed: %d; want 401", code)
	}
	if code, _, _ := callWith(t, "GET", url, [][2]string{{"Authorization", "Bearer " + at}}); code != http.StatusUnauthorized {
		t.Errorf("the DPoP token as Bearer: %d; want 401", code)
	}
	// A proof is for its method: the GET's refused for a POST, a POST's
	// accepted (lower case given, sent upper case as curl does).
	r = c.run("", "token", "--profile", "work", "--header", "GET", url)
	if code, _, _ := callWith(t, "POST", url, headerLines(t, r.stdout)); code != http.StatusUnauthorized {
		t.Errorf("a GET's proof on a POST: %d; want 401", code)
	}
	r = c.run("", "token", "--profile", "work", "--header", "post", url)
	if code, _, _ := callWith(t, "POST", url, headerLines(t, r.stdout)); code != http.StatusOK {
		t.Errorf("token --header post, sent as POST: %d; want 200\n%v", code, r)
	}

	// --json: the two values, the type and the thumbprint.
	r = c.run("", "token", "--profile", "work", "--header", "GET", url, "--json")
	var j map[string]any
	decodeJSON(t, r.stdout, &j)
	if j["authorization"] != "DPoP "+at || j["token_type"] != "DPoP" || j["dpop_jkt"] != jkt || j["access_token"] != at {
		t.Errorf("token --header --json: %v", j)
	}
	proof, _ := j["dpop"].(string)
	if code, _, _ := callWith(t, "GET", url, [][2]string{{"Authorization", "DPoP " + at}, {"DPoP", proof}}); code != http.StatusOK {
		t.Errorf("the proof of --json: %d; want 200", code)
	}

	// Plain token: the token itself; --json says DPoP.
	if r := c.run("", "token", "--profile", "work"); r.code != 0 || r.stdout != at+"\n" {
		t.Errorf("token on a DPoP profile: %v", r)
	}
	r = c.run("", "token", "--profile", "work", "--json")
	j = nil // decode into a new map
	decodeJSON(t, r.stdout, &j)
	if j["token_type"] != "DPoP" || j["dpop_jkt"] != jkt || j["authorization"] != nil || j["dpop"] != nil {
		t.Errorf("token --json on a DPoP profile: %v", j)
	}

	// git and kubectl cannot send a proof: refused, nothing on stdout.
	r = c.run("protocol=https\nhost=git.example.com\n\n", "git-credential", "--profile", "work", "get")
	if r.code != exitFailure || r.stdout != "" || !strings.Contains(r.stderr, "--dpop off") {
		t.Errorf("git-credential get with a DPoP token: %v; want exit 1, no answer, and how to get a bearer token", r)
	}
	r = c.run("", "token", "--profile", "work", "--format", "exec-credential")
	if r.code != exitFailure || r.stdout != "" || !strings.Contains(r.stderr, "--dpop off") {
		t.Errorf("token --format exec-credential with a DPoP token: %v", r)
	}

	// A new process after the token expired: the same key, a refresh
	// bound to it, accepted.
	c.expireToken(t, "work")
	r = c.run("", "token", "--profile", "work", "--header", "GET", url)
	hs = headerLines(t, r.stdout)
	rec = c.recordOf(t, "work")
	if rec.Token.AccessToken == at {
		t.Fatal("the expired token was not refreshed")
	}
	if got := srv.TokenBinding(rec.Token.AccessToken); got != jkt {
		t.Errorf("the refreshed token is bound to %q; want the profile's key %s", got, jkt)
	}
	if code, body, _ := callWith(t, "GET", url, hs); code != http.StatusOK || cnfJKT(body) != jkt {
		t.Errorf("after the refresh, the resource answered %d %v", code, body)
	}
	if st := c.statusJSON(t, "work"); st["dpop_jkt"] != jkt {
		t.Errorf("after a refresh in another process, status shows the key %v; want %s", st["dpop_jkt"], jkt)
	}
}

// A server that wants a nonce in every proof (Config.DPoPNonce): a new
// process's first proof for the resource has none (the nonce of the
// process that signed in died with it), the resource refuses it with the
// nonce, and --dpop-nonce makes a proof it accepts. A refresh in the
// process learns the nonce itself.
func TestE2EDPoPNonce(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{DPoPNonce: true})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "work")
	url := srv.ResourceEndpoint()
	r := c.run("", "token", "--profile", "work", "--header", "GET", url)
	code, body, h := callWith(t, "GET", url, headerLines(t, r.stdout))
	nonce := h.Get("DPoP-Nonce")
	if code != http.StatusUnauthorized || body["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("a proof without the nonce: %d %v; want 401 use_dpop_nonce with a DPoP-Nonce", code, body)
	}
	r = c.run("", "token", "--profile", "work", "--header", "GET", url, "--dpop-nonce", nonce)
	hs := headerLines(t, r.stdout)
	if code, body, _ := callWith(t, "GET", url, hs); code != http.StatusOK {
		t.Fatalf("with --dpop-nonce: %d %v; want 200\n%v", code, body, r)
	}
	if code, _, _ := callWith(t, "GET", url, hs); code != http.StatusUnauthorized {
		t.Errorf("the proof with the nonce replayed: %d; want 401", code)
	}

	// A new nonce and an expired token: the refresh meets the nonce
	// challenge at the token endpoint, and the proof carries the nonce
	// it learnt (oauthtest's resource shares its origin).
	srv.RotateDPoPNonce()
	c.expireToken(t, "work")
	r = c.run("", "token", "--profile", "work", "--header", "GET", url)
	if r.code != 0 {
		t.Fatalf("token --header with a refresh under nonces: %v", r)
	}
	if code, body, _ := callWith(t, "GET", url, headerLines(t, r.stdout)); code != http.StatusOK {
		t.Errorf("after a refresh that learnt the nonce: %d %v; want 200", code, body)
	}
}

// The modes: off gives bearer tokens at a DPoP server; auto at a server
// without DPoP gives bearer tokens without a word of error; on at such a
// server too; the profile keeps the mode until a login names another;
// a bad value is a usage error naming the flag and the modes.
func TestE2EDPoPModes(t *testing.T) {
	dp := oauthtest.NewServer(oauthtest.Config{DPoP: true})
	defer dp.Close()
	plain := oauthtest.NewServer(oauthtest.Config{})
	defer plain.Close()
	c := newCLI(t)

	bearer := func(name string, srv *oauthtest.Server, wantMode string) {
		t.Helper()
		rec := c.recordOf(t, name)
		if rec.Token.TokenType == "DPoP" || srv.TokenBinding(rec.Token.AccessToken) != "" {
			t.Errorf("%s: a DPoP-bound token; want bearer", name)
		}
		if got, _ := c.profileJSON(t, name)["dpop"].(string); got != wantMode {
			t.Errorf("%s: the profile's dpop is %q; want %q", name, got, wantMode)
		}
		st := c.statusJSON(t, name)
		if st["token_type"] != "Bearer" {
			t.Errorf("%s: status --json token_type %v; want Bearer", name, st["token_type"])
		}
		r := c.run("", "token", "--profile", name, "--header", "GET", srv.ResourceEndpoint())
		hs := headerLines(t, r.stdout)
		if len(hs) != 1 || hs[0] != [2]string{"Authorization", "Bearer " + rec.Token.AccessToken} {
			t.Fatalf("%s: token --header printed %q; want one Authorization: Bearer line", name, r.stdout)
		}
		if code, _, _ := callWith(t, "GET", srv.ResourceEndpoint(), hs); code != http.StatusOK {
			t.Errorf("%s: the bearer header: %d", name, code)
		}
	}

	if r := c.login(dp, "off", "--dpop", "off"); r.code != 0 {
		t.Fatalf("login --dpop off: %v", r)
	}
	bearer("off", dp, "off")
	if st := c.statusJSON(t, "off"); st["dpop_jkt"] != nil {
		t.Errorf("--dpop off: status shows a key %v", st["dpop_jkt"])
	}
	// A later login without --dpop keeps the mode.
	if r := c.login(dp, "off"); r.code != 0 {
		t.Fatalf("login again: %v", r)
	}
	bearer("off", dp, "off")
	// and one with --dpop auto changes it, and omits it from the profile.
	if r := c.login(dp, "off", "--dpop", "auto"); r.code != 0 {
		t.Fatalf("login --dpop auto: %v", r)
	}
	if rec := c.recordOf(t, "off"); dp.TokenBinding(rec.Token.AccessToken) == "" {
		t.Error("login --dpop auto after off: a bearer token at a DPoP server")
	}
	if _, ok := c.profileJSON(t, "off")["dpop"]; ok {
		t.Error("login --dpop auto kept a dpop mode in the profile")
	}

	if r := c.login(plain, "auto"); r.code != 0 || strings.Contains(strings.ToLower(r.stderr), "error") {
		t.Fatalf("login at a server without DPoP: %v", r)
	}
	bearer("auto", plain, "")
	if r := c.login(plain, "on", "--dpop", "on"); r.code != 0 {
		t.Fatalf("login --dpop on at a server without DPoP: %v", r)
	}
	bearer("on", plain, "on")

	r := c.login(plain, "bad", "--dpop", "yes")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--dpop") || !strings.Contains(r.stderr, "auto") || !strings.Contains(r.stderr, "on or off") {
		t.Errorf("login --dpop yes: %v; want exit 2 naming --dpop and auto, on or off", r)
	}
	if _, err := os.Stat(filepath.Join(c.storeDir(), "profiles", "bad.json")); err == nil {
		t.Error("login --dpop yes saved a profile")
	}
}

// token --header's usage errors (exit 2), before any profile is read.
func TestE2ETokenHeaderUsage(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{
		{"--header"},
		{"--header", "GET"},
		{"--header", "GET", "https://a.example/", "extra"},
		{"GET", "https://a.example/"},
		{"--header", "G T", "https://a.example/"},
		{"--header", "", "https://a.example/"},
		{"--header", "GET", "/relative"},
		{"--header", "GET", "ftp://a.example/"},
		{"--header", "GET", "http://a.example/"},
		{"--header", "GET", "https://a.example/ x"},
		{"--header", "GET", "https://a.example/", "--format", "exec-credential"},
		{"--dpop-nonce", "n"},
		{"--header", "GET", "https://a.example/", "--dpop-nonce", `a"b`},
		{"--header", "GET", "https://a.example/", "--dpop-nonce", ""},
	} {
		r := c.run("", append([]string{"token", "--profile", "none"}, args...)...)
		if r.code != exitUsage || r.stdout != "" {
			t.Errorf("token %q: %v; want exit 2 and nothing on stdout", args, r)
		}
	}
}

// The lines of token --header given to curl -H @- (curl reads header
// lines from stdin), as the help says: the real curl, a real request.
func TestE2ETokenHeaderWithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatalf("curl is not on PATH (make deps installs it): %v", err)
	}
	srv := oauthtest.NewServer(oauthtest.Config{DPoP: true})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "work")
	url := srv.ResourceEndpoint()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// authloop token --header GET URL | curl -sS -H @- URL
	send := func() (string, map[string]any) {
		t.Helper()
		gen := c.command(ctx, []string{"token", "--profile", "work", "--header", "GET", url})
		gen.Env = c.env
		lines, err := gen.Output()
		if err != nil {
			t.Fatalf("token --header: %v", err)
		}
		cu := exec.CommandContext(ctx, curl, "-sS", "-H", "@-", "-w", "\n%{http_code}", url)
		cu.Stdin = strings.NewReader(string(lines))
		out, err := cu.Output()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		var body, status string
		for sc.Scan() {
			body, status = status, sc.Text()
		}
		var m map[string]any
		_ = json.Unmarshal([]byte(body), &m)
		return status, m
	}
	jkt := srv.TokenBinding(c.recordOf(t, "work").Token.AccessToken)
	for i := range 2 { // a new proof each run
		if status, body := send(); status != "200" || cnfJKT(body) != jkt {
			t.Fatalf("run %d: curl got %s %v; want 200 bound to %s", i, status, body, jkt)
		}
	}
}
