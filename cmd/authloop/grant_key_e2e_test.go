package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// writeKey makes an ECDSA P-256 key and writes it as PKCS#8 PEM to path
// with mode; it returns the key and what must never be printed of it.
func writeKey(t *testing.T, path string, mode os.FileMode) (*ecdsa.PrivateKey, map[string]string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	raw, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	leaks := map[string]string{
		base64.RawURLEncoding.EncodeToString(raw):   "the key's d (JWK form)",
		base64.StdEncoding.EncodeToString(der)[:40]: "the key's PEM",
	}
	for _, line := range strings.Split(string(data), "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") {
			leaks[line] = "a line of the key's PEM"
		}
	}
	return key, leaks
}

// private_key_jwt from --private-key-file: a program's client credentials
// with a key instead of a secret, each token request with a new assertion
// (oauthtest refuses a replayed jti), the assertion's audience as given
// (--assertion-audience, for a server that wants its token endpoint), and
// a person's sign-in with the same client key. A key file that its group
// may read is refused (exit 1, naming chmod 600); nothing of the key is
// ever printed nor kept in the profile.
func TestE2EGrantPrivateKeyJWT(t *testing.T) {
	c := newCLI(t)
	keyFile := filepath.Join(c.dir, "ci-key.pem")
	key, leaks := writeKey(t, keyFile, 0o600)
	srv := oauthtest.NewServer(oauthtest.Config{Clients: []oauthtest.Client{{ID: "ci", PublicKey: &key.PublicKey}}})
	defer srv.Close()
	var outs []result
	run := func(args ...string) result {
		t.Helper()
		r := c.run("", args...)
		outs = append(outs, r)
		return r
	}
	r := run("login", "--profile", "ci", "--store", "file", "--issuer", srv.Issuer(), "--client-id", "ci", "--private-key-file", keyFile, "--client-credentials")
	if r.code != 0 || !strings.Contains(r.stderr, "client credentials grant") {
		t.Fatalf("login: %v", r)
	}
	if prof := profileJSON(t, c, "ci"); !strings.Contains(prof, `"private_key_file": "`+keyFile+`"`) {
		t.Errorf("profile:\n%s", prof)
	}
	for range 2 { // each grant a new assertion: a replay would be refused
		c.expireToken(t, "ci")
		r = run("token", "--profile", "ci")
		if r.code != 0 || !srv.ValidAccessToken(strings.TrimSpace(r.stdout)) {
			t.Fatalf("token: %v", r)
		}
	}
	if n := srv.CountGrant("client_credentials"); n != 3 {
		t.Errorf("%d client credentials grants, want 3", n)
	}
	r = run("logout", "--profile", "ci")
	if r.code != 0 || !strings.Contains(r.stderr, "revoked") {
		t.Errorf("logout (its revocation authenticated with the key): %v", r)
	}

	// A server that takes only its token endpoint as the audience.
	strict := oauthtest.NewServer(oauthtest.Config{AssertionAudience: "token_endpoint", Clients: []oauthtest.Client{{ID: "ci", PublicKey: &key.PublicKey}}})
	defer strict.Close()
	r = run("login", "--profile", "strict", "--store", "file", "--issuer", strict.Issuer(), "--client-id", "ci", "--private-key-file", keyFile, "--client-credentials")
	if r.code != exitLoginRequired || !strings.Contains(r.stderr, "invalid_client") || !strings.Contains(r.stderr, "--assertion-audience") {
		t.Errorf("login with the issuer as audience at a server that wants its token endpoint: %v", r)
	}
	checkErrorShape(t, r.stderr)
	r = run("login", "--profile", "strict", "--store", "file", "--issuer", strict.Issuer(), "--client-id", "ci", "--private-key-file", keyFile, "--client-credentials",
		"--assertion-audience", strict.TokenEndpoint()) // the failed login saved no profile
	if r.code != 0 {
		t.Errorf("login with --assertion-audience: %v", r)
	}

	// A person's sign-in, the client authenticated by the key.
	r = c.login(srv, "person", "--client-id", "ci", "--private-key-file", keyFile)
	outs = append(outs, r)
	if r.code != 0 || !strings.Contains(r.stderr, "Signed in to") {
		t.Fatalf("a person's login with the key: %v", r)
	}
	r = run("refresh", "--profile", "person")
	if r.code != 0 {
		t.Errorf("refresh with the key: %v", r)
	}

	// The key file open to its group.
	if err := os.Chmod(keyFile, 0o640); err != nil {
		t.Fatal(err)
	}
	c.expireToken(t, "strict")
	r = run("token", "--profile", "strict")
	if r.code != exitFailure || !strings.Contains(r.stderr, "chmod 600 "+keyFile) {
		t.Errorf("token with a key file open to its group: %v", r)
	}
	checkErrorShape(t, r.stderr)
	noLeak(t, leaks, outs...)
	for _, name := range []string{"ci", "strict", "person"} {
		for v := range leaks {
			if strings.Contains(profileJSON(t, c, name), v) {
				t.Errorf("profile %s holds the key", name)
			}
		}
	}
}
