package main

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/oauthtest"
)

// The leak scan of a DPoP run (issue 17): TestLeakScanFullRun's scan on a
// profile whose tokens are bound to its key, at a server that wants
// nonces. Besides the tokens, codes and the client secret, it looks for
// the profile's private key (as the record keeps it, PKCS#8 in base64, and
// its private scalar in base64url, as a JWK's "d" would show it) and for
// every proof token --header printed: the key nowhere, a proof only on the
// stdout of the run that printed it.
func TestLeakScanDPoPRun(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{DPoPNonce: true})
	defer srv.Close()
	const secret = "cli-client-secret-dpop-0123456789"
	srv.AddClient(oauthtest.Client{ID: "conf", Secret: secret, AuthMethod: "client_secret_basic"})
	c := newCLI(t)
	c.setenv("LEAK_TEST_SECRET=" + secret)
	var sec leakSecrets
	sec.add(secret, "client secret")
	config := filepath.Join(c.dir, "config")
	url := srv.ResourceEndpoint()

	type step struct {
		name   string
		r      result
		proofs map[string]bool // the proofs this step printed
		token  bool            // stdout is the access token's place
	}
	var steps []step
	// keep collects the key's forms from the record.
	keep := func() {
		rec := c.recordOf(t, "work")
		if rec == nil || len(rec.DPoPKey) == 0 {
			return
		}
		sec.add(base64.StdEncoding.EncodeToString(rec.DPoPKey), "DPoP private key (PKCS#8)")
		k, err := x509.ParsePKCS8PrivateKey(rec.DPoPKey)
		if err != nil {
			t.Fatalf("the record's DPoP key: %v", err)
		}
		d, err := k.(*ecdsa.PrivateKey).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		sec.add(base64.RawURLEncoding.EncodeToString(d), "DPoP private key (JWK d)")
	}
	record := func(name string, r result, token bool) result {
		t.Helper()
		sec.harvest(t, config)
		keep()
		s := step{name: name, r: r, token: token, proofs: map[string]bool{}}
		for _, line := range strings.Split(r.stdout, "\n") {
			if p, ok := strings.CutPrefix(line, "DPoP: "); ok {
				s.proofs[p] = true
			}
		}
		var j map[string]any
		if json.Unmarshal([]byte(r.stdout), &j) == nil {
			if p, ok := j["dpop"].(string); ok {
				s.proofs[p] = true
			}
		}
		for p := range s.proofs {
			sec.add(p, "printed DPoP proof")
		}
		steps = append(steps, s)
		return r
	}
	login := func(extra ...string) result {
		var wg sync.WaitGroup
		defer wg.Wait()
		args := append([]string{"login", "--profile", "work", "--no-browser", "--store", "file", "--issuer", srv.Issuer(),
			"--client-id", "conf", "--client-secret-env", "LEAK_TEST_SECRET", "--scope", "openid offline_access", "--timeout", "1m",
			"--git-host", "git.example.com"}, extra...)
		return c.interactive(browseRecording(t, srv.AuthorizationEndpoint(), &wg, &sec), args...)
	}

	if r := record("login", login(), false); r.code != 0 {
		t.Fatalf("login: %v", r)
	}
	r := record("token --header", c.run("", "token", "--profile", "work", "--header", "GET", url), true)
	_, _, h := callWith(t, "GET", url, headerLines(t, r.stdout))
	nonce := h.Get("DPoP-Nonce")
	record("token --header --dpop-nonce", c.run("", "token", "--profile", "work", "--header", "GET", url, "--dpop-nonce", nonce), true)
	record("token --header --json", c.run("", "token", "--profile", "work", "--header", "POST", url, "--json"), true)
	record("token", c.run("", "token", "--profile", "work"), true)
	record("token --json", c.run("", "token", "--profile", "work", "--json"), true)
	record("token exec-credential", c.run("", "token", "--profile", "work", "--format", "exec-credential"), false)
	record("git-credential get", c.run("protocol=https\nhost=git.example.com\n\n", "git-credential", "--profile", "work", "get"), false)
	record("status", c.run("", "status"), false)
	record("status --json", c.run("", "status", "--json"), false)
	record("refresh", c.run("", "refresh", "--profile", "work"), false)
	srv.RotateDPoPNonce()
	c.expireToken(t, "work")
	record("token --header refreshing", c.run("", "token", "--profile", "work", "--header", "GET", url), true)
	record("token --header bad nonce", c.run("", "token", "--profile", "work", "--header", "GET", url, "--dpop-nonce", `x"y`), false)
	record("login again", login(), false)
	record("logout", c.run("", "logout", "--profile", "work"), false)
	record("token --header after logout", c.run("", "token", "--profile", "work", "--header", "GET", url), false)

	all := sec.all()
	kinds := map[string]int{}
	for _, k := range all {
		kinds[k]++
	}
	for _, want := range []string{"authorization code", "stored access_token", "stored refresh_token", "stored dpop_key", "client secret", "DPoP private key (JWK d)", "printed DPoP proof"} {
		if kinds[want] == 0 {
			t.Errorf("the run produced no %s to look for (kinds seen: %v)", want, kinds)
		}
	}
	if kinds["printed DPoP proof"] < 4 {
		t.Errorf("only %d proofs printed; the run prints at least 4", kinds["printed DPoP proof"])
	}
	for _, st := range steps {
		for v, kind := range all {
			if strings.Contains(st.r.stderr, v) {
				t.Errorf("%s: stderr shows a %s (%s):\n%s", st.name, kind, authloop.Fingerprint(v), st.r.stderr)
			}
			allowed := st.proofs[v] || st.token && (kind == "stored access_token")
			if strings.Contains(st.r.stdout, v) && !allowed {
				t.Errorf("%s: stdout shows a %s (%s):\n%s", st.name, kind, authloop.Fingerprint(v), st.r.stdout)
			}
		}
	}
}
