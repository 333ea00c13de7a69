package main

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/oauthtest"
)

// The security suite's leak scan of the command (docs/SECURITY.md): a full
// run of the built binary against oauthtest — logins by browser and device
// code of a confidential client, every output format, refresh, rotation,
// refusals, git-credential, logout, errors — and everything it prints on
// stdout and stderr is checked for every token, code and secret the run
// produced. Those are collected outside the command: the codes from the
// browser's redirects, the tokens from the record files after each step
// (and from `authloop token`, whose printing of the access token is its
// point), the client secret from the test's own environment.

// leakSecrets is what the scan looks for: value -> kind.
type leakSecrets struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *leakSecrets) add(v, kind string) {
	if len(v) < 8 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	if _, ok := s.m[v]; !ok {
		s.m[v] = kind
	}
}

func (s *leakSecrets) all() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

// harvest reads every JSON file under dir (record files, profiles) and
// keeps the values of their secret fields, at any depth.
func (s *leakSecrets) harvest(t *testing.T, dir string) {
	t.Helper()
	secretKeys := map[string]bool{"access_token": true, "refresh_token": true, "id_token": true, "client_secret": true, "registration_access_token": true, "dpop_key": true}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if str, ok := x.(string); ok && secretKeys[k] {
					s.add(str, "stored "+k)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), ".json") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		var v any
		if json.Unmarshal(data, &v) == nil {
			walk(v)
		}
		return nil
	})
}

// codeRecorder is the browser's transport: it keeps the authorization codes
// of the redirects the browser follows to the command's listener.
type codeRecorder struct{ s *leakSecrets }

func (c codeRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if code := req.URL.Query().Get("code"); code != "" {
		c.s.add(code, "authorization code")
	}
	return (&http.Transport{DisableKeepAlives: true}).RoundTrip(req)
}

// browseRecording is browseOn with the code recorder.
func browseRecording(t *testing.T, prefix string, wg *sync.WaitGroup, s *leakSecrets) func(string) {
	return browseWith(t, prefix, wg, &http.Client{Transport: codeRecorder{s}})
}

func TestLeakScanFullRun(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	const secret = "cli-client-secret-0123456789"
	srv.AddClient(oauthtest.Client{ID: "conf", Secret: secret, AuthMethod: "client_secret_basic"})
	c := newCLI(t)
	c.setenv("LEAK_TEST_SECRET=" + secret)
	var sec leakSecrets
	sec.add(secret, "client secret")
	config := filepath.Join(c.dir, "config")

	type step struct {
		name string
		r    result
		// printsToken: stdout is the access token's place (token,
		// git-credential get): it may hold access tokens, nothing else.
		printsToken bool
	}
	var steps []step
	printed := 0
	record := func(name string, r result, printsToken bool) result {
		t.Helper()
		steps = append(steps, step{name, r, printsToken})
		sec.harvest(t, config)
		if printsToken {
			for _, f := range strings.FieldsFunc(r.stdout, func(r rune) bool { return r == '\n' || r == '=' || r == '"' || r == ' ' }) {
				if srv.ValidAccessToken(f) {
					sec.add(f, "printed access token")
					printed++
				}
			}
		}
		return r
	}
	login := func(profile string, extra ...string) result {
		var wg sync.WaitGroup
		defer wg.Wait()
		args := append([]string{"login", "--profile", profile, "--no-browser", "--store", "file", "--issuer", srv.Issuer(),
			"--client-id", "conf", "--client-secret-env", "LEAK_TEST_SECRET", "--scope", "openid offline_access", "--timeout", "1m"}, extra...)
		return c.interactive(browseRecording(t, srv.AuthorizationEndpoint(), &wg, &sec), args...)
	}

	if r := record("login", login("work"), false); r.code != 0 {
		t.Fatalf("login: %v", r)
	}
	record("token", c.run("", "token", "--profile", "work"), true)
	record("token --json", c.run("", "token", "--profile", "work", "--json"), true)
	record("token exec-credential", c.run("", "token", "--profile", "work", "--format", "exec-credential"), true)
	record("status", c.run("", "status"), false)
	record("status --json", c.run("", "status", "--json"), false)
	record("refresh", c.run("", "refresh", "--profile", "work"), false)
	c.agePastHalfLife(t, "work")
	record("token --min-valid", c.run("", "token", "--profile", "work", "--min-valid", "2h"), true)
	record("git-credential get", c.run("protocol=https\nhost=git.example.com\npath=o/r.git\n\n", "git-credential", "--profile", "work", "get"), true)
	record("git-credential store", c.run("protocol=https\nhost=git.example.com\nusername=oauth2\npassword=whatever\n\n", "git-credential", "--profile", "work", "store"), false)
	record("git-credential erase", c.run("protocol=https\nhost=git.example.com\n\n", "git-credential", "--profile", "work", "erase"), false)
	// The device flow, for another profile.
	var wg sync.WaitGroup
	r := c.interactive(browseRecording(t, srv.VerificationURI()+"?user_code=", &wg, &sec), "login", "--profile", "dev", "--store", "file", "--device",
		"--issuer", srv.Issuer(), "--client-id", "conf", "--client-secret-env", "LEAK_TEST_SECRET", "--scope", "openid offline_access")
	wg.Wait()
	if record("device login", r, false); r.code != 0 {
		t.Fatalf("device login: %v", r)
	}
	record("dev token", c.run("", "token", "--profile", "dev"), true)
	// Refusals: a revoked grant, a wrong client secret.
	srv.RevokeAll()
	record("refresh after revocation", c.run("", "refresh", "--profile", "work"), false)
	c.agePastHalfLife(t, "work")
	record("token after revocation", c.run("", "token", "--profile", "work", "--min-valid", "2h"), true)
	c.setenv("LEAK_TEST_SECRET=wrong-secret-value-987654")
	sec.add("wrong-secret-value-987654", "wrong client secret")
	record("login with a wrong secret", login("bad"), false)
	c.setenv("LEAK_TEST_SECRET=" + secret)
	record("login again", login("work"), false)
	record("logout", c.run("", "logout", "--profile", "work"), false)
	record("logout again", c.run("", "logout", "--profile", "work"), false)
	record("logout all", c.run("", "logout", "--all"), false)
	record("token after logout", c.run("", "token", "--profile", "work"), true)

	all := sec.all()
	kinds := map[string]int{}
	for _, k := range all {
		kinds[k]++
	}
	for _, want := range []string{"authorization code", "stored access_token", "stored refresh_token", "client secret"} {
		if kinds[want] == 0 {
			t.Errorf("the run produced no %s to look for (kinds seen: %v)", want, kinds)
		}
	}
	if printed < 5 {
		t.Errorf("only %d access tokens printed where printing is the point", printed)
	}
	if kinds["stored refresh_token"] < 3 {
		t.Errorf("only %d refresh tokens seen; the run should rotate several", kinds["stored refresh_token"])
	}
	accessTokens := map[string]bool{}
	for v, k := range all {
		if k == "printed access token" || k == "stored access_token" {
			accessTokens[v] = true
		}
	}
	for _, st := range steps {
		for v, kind := range all {
			if strings.Contains(st.r.stderr, v) {
				t.Errorf("%s: stderr shows a %s (%s):\n%s", st.name, kind, authloop.Fingerprint(v), st.r.stderr)
			}
			if strings.Contains(st.r.stdout, v) && !(st.printsToken && accessTokens[v]) {
				t.Errorf("%s: stdout shows a %s (%s):\n%s", st.name, kind, authloop.Fingerprint(v), st.r.stdout)
			}
		}
	}
}

// tokenShaped finds what looks like one of oauthtest's tokens or codes (32
// random bytes in base64url: 43 characters) or a JWT, outside the
// authorization URL's public state and code_challenge.
var (
	tokenShaped = regexp.MustCompile(`[A-Za-z0-9_-]{43}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)
	publicParam = regexp.MustCompile(`(state|code_challenge)=[A-Za-z0-9_-]{43}`)
)

// The demo runs its own server inside the binary, so its tokens cannot be
// collected from outside: the scan looks for anything token-shaped in the
// whole output of `authloop demo --no-browser -v` (debug logging of every
// step of the library).
func TestLeakScanDemoBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("the full demo takes about 15 s")
	}
	c := newCLI(t)
	r := c.run("", "demo", "--no-browser", "-v")
	if r.code != 0 {
		t.Fatalf("demo: %v", r)
	}
	if !strings.Contains(r.stderr, "level=DEBUG") || !strings.Contains(r.stdout, "sha256:") {
		t.Fatalf("the demo printed no debug log or no fingerprints:\n%v", r)
	}
	for name, out := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
		cleaned := publicParam.ReplaceAllString(out, "")
		// The authorization URL's other public values, and URLs' paths.
		for _, u := range regexp.MustCompile(`https?://\S+`).FindAllString(cleaned, -1) {
			if pu, err := url.Parse(u); err == nil {
				for k, vs := range pu.Query() {
					if k == "code" || k == "refresh_token" || k == "access_token" {
						t.Errorf("%s: a URL carries %s=%v", name, k, vs)
					}
				}
			}
		}
		if m := tokenShaped.FindAllString(cleaned, -1); len(m) > 0 {
			t.Errorf("%s shows %d token-shaped strings, e.g. %s", name, len(m), authloop.Fingerprint(m[0]))
		}
	}
}
