package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// Issue 18's program modes on the built binary: a profile that gets its
// tokens with no person present.

// noLeak fails the test when any output of rs holds one of secrets.
func noLeak(t *testing.T, secrets map[string]string, rs ...result) {
	t.Helper()
	for _, r := range rs {
		for v, kind := range secrets {
			if v != "" && strings.Contains(r.stdout+r.stderr, v) {
				t.Errorf("%s printed:\n%v", kind, r)
			}
		}
	}
}

// profileJSON reads profile name's file as written.
func profileJSON(t *testing.T, c *cli, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.storeDir(), "profiles", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// grantsOf are the grant types of srv's token requests since n.
func grantsOf(srv *oauthtest.Server, n int) []string {
	var out []string
	for _, r := range requestsSince(srv, n) {
		if r.Endpoint == "token" {
			out = append(out, r.GrantType)
		}
	}
	return out
}

// A CI job's profile: client credentials with the secret in a file. login
// runs the grant (no browser, no authorization URL), token prints the
// token without a request while it is valid and runs the grant again
// once it has expired, refresh runs it anew, status shows the mode, and
// after logout token gets a new token alone. The secret is never printed
// nor kept in the profile; a wrong secret is a refused identity (exit 3).
func TestE2EGrantClientCredentials(t *testing.T) {
	const secret = "cc-s3cret-Value/x+y="
	srv := oauthtest.NewServer(oauthtest.Config{Clients: []oauthtest.Client{{ID: "ci", Secret: secret}}})
	defer srv.Close()
	c := newCLI(t)
	secretFile := filepath.Join(c.dir, "ci-secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var outs []result
	run := func(args ...string) result {
		t.Helper()
		r := c.run("", args...)
		outs = append(outs, r)
		return r
	}

	r := run("login", "--profile", "ci", "--store", "file", "--issuer", srv.Issuer(), "--client-id", "ci",
		"--client-secret-file", secretFile, "--client-credentials", "--scope", "openid")
	if r.code != 0 || !strings.Contains(r.stderr, "Obtained a token from "+srv.Issuer()+" with the client credentials grant (profile ci)") {
		t.Fatalf("login: %v", r)
	}
	if strings.Contains(r.stderr, srv.AuthorizationEndpoint()) {
		t.Errorf("login printed an authorization URL: %v", r)
	}
	if got := grantsOf(srv, 0); !slices.Equal(got, []string{"client_credentials"}) {
		t.Errorf("login's token requests: %v, want one client_credentials", got)
	}
	prof := profileJSON(t, c, "ci")
	if !strings.Contains(prof, `"grant": "client-credentials"`) || strings.Contains(prof, secret) {
		t.Errorf("profile:\n%s", prof)
	}

	n := len(srv.Requests())
	r = run("token", "--profile", "ci")
	first := strings.TrimSpace(r.stdout)
	if r.code != 0 || !srv.ValidAccessToken(first) || len(requestsSince(srv, n)) != 0 {
		t.Fatalf("token (valid, no request expected): %v; requests %+v", r, requestsSince(srv, n))
	}

	c.expireToken(t, "ci")
	r = run("token", "--profile", "ci")
	second := strings.TrimSpace(r.stdout)
	if r.code != 0 || second == first || !srv.ValidAccessToken(second) {
		t.Fatalf("token after expiry: %v", r)
	}
	if got := grantsOf(srv, n); !slices.Equal(got, []string{"client_credentials"}) {
		t.Errorf("token after expiry sent %v, want one client_credentials", got)
	}

	n = len(srv.Requests())
	r = run("refresh", "--profile", "ci")
	if r.code != 0 || !strings.Contains(r.stderr, "Refreshed profile ci with its grant") || !slices.Equal(grantsOf(srv, n), []string{"client_credentials"}) {
		t.Fatalf("refresh: %v; %v", r, grantsOf(srv, n))
	}

	r = run("status", "--profile", "ci")
	if r.code != 0 || !strings.Contains(r.stdout, "client credentials grant") || !strings.Contains(r.stdout, "the grant runs again") {
		t.Errorf("status: %v", r)
	}
	r = run("status", "--json")
	var sts []map[string]any
	decodeJSON(t, r.stdout, &sts)
	if r.code != 0 || len(sts) != 1 || sts[0]["grant"] != "client-credentials" || sts[0]["login_required"] != false {
		t.Errorf("status --json: %v", r)
	}

	r = run("logout", "--profile", "ci")
	if r.code != 0 || c.recordOf(t, "ci") != nil {
		t.Fatalf("logout: %v", r)
	}
	r = run("status", "--profile", "ci")
	if r.code != 0 || !strings.Contains(r.stdout, "no token yet (authloop token runs the grant)") {
		t.Errorf("status after logout: %v", r)
	}
	r = run("token", "--profile", "ci")
	if r.code != 0 || !srv.ValidAccessToken(strings.TrimSpace(r.stdout)) {
		t.Fatalf("token after logout (the grant needs no person): %v", r)
	}

	// The identity refused: a wrong secret.
	if err := os.WriteFile(secretFile, []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.expireToken(t, "ci")
	r = run("token", "--profile", "ci")
	if r.code != exitLoginRequired || !strings.Contains(r.stderr, "refused the identity of profile ci (invalid_client") || !strings.Contains(r.stderr, "--client-secret-file") {
		t.Errorf("token with a refused identity: %v", r)
	}
	checkErrorShape(t, r.stderr)
	noLeak(t, map[string]string{secret: "the client secret"}, outs...)
}

// assertionServer is an authorization server of the test's own for the
// JWT bearer grant (RFC 7523 §2.1) and, at /idp/token, an identity
// provider's token exchange (RFC 8693) issuing ID-JAGs, which oauthtest on
// main does not offer yet. It records every token request's form.
type assertionServer struct {
	*httptest.Server
	mu      sync.Mutex
	forms   []map[string]string // path and form of each token request
	trusted map[string]bool     // assertions the jwt-bearer grant accepts
	n       int
}

func newAssertionServer(t *testing.T) *assertionServer {
	s := &assertionServer{trusted: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *assertionServer) trust(assertion string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trusted[assertion] = true
}

func (s *assertionServer) requests() []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.forms)
}

func (s *assertionServer) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if strings.HasPrefix(r.URL.Path, "/.well-known/") {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                           s.URL,
			"token_endpoint":                   s.URL + "/token",
			"grant_types_supported":            []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"},
			"response_types_supported":         []string{"code"},
			"authorization_endpoint":           s.URL + "/authorize",
			"code_challenge_methods_supported": []string{"S256"},
		})
		return
	}
	if r.Method != http.MethodPost || (r.URL.Path != "/token" && r.URL.Path != "/idp/token") {
		http.NotFound(w, r)
		return
	}
	_ = r.ParseForm()
	f := map[string]string{"path": r.URL.Path}
	for k := range r.PostForm {
		f[k] = r.PostForm.Get(k)
	}
	s.mu.Lock()
	s.forms = append(s.forms, f)
	s.n++
	n := s.n
	trusted := s.trusted[f["assertion"]]
	s.mu.Unlock()
	refuse := func(code string) {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": "refused by the test"})
	}
	switch {
	case r.URL.Path == "/idp/token" && f["grant_type"] == grantTypeTokenExchange:
		if f["subject_token"] == "" || f["requested_token_type"] != "urn:ietf:params:oauth:token-type:id-jag" {
			refuse("invalid_request")
			return
		}
		jag := fmt.Sprintf("eyJhbGciOiJub25lIn0.jag-%d.sig", n)
		s.trust(jag)
		json.NewEncoder(w).Encode(map[string]any{"access_token": jag, "issued_token_type": "urn:ietf:params:oauth:token-type:id-jag", "token_type": "N_A", "expires_in": 300})
	case r.URL.Path == "/token" && f["grant_type"] == grantTypeJWTBearer:
		if !trusted {
			refuse("invalid_grant")
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("at-%d-%s", n, strings.Repeat("x", 20)), "token_type": "Bearer", "expires_in": 3600})
	default:
		refuse("unsupported_grant_type")
	}
}

// Workload identity: the JWT bearer grant with the platform's token in a
// file, which the platform rotates: each token request presents what the
// file holds then. The same from an environment variable. A token the
// server does not trust is a refused identity (exit 3). No assertion is
// ever printed or kept in the profile.
func TestE2EGrantJWTBearerFileRotated(t *testing.T) {
	as := newAssertionServer(t)
	c := newCLI(t)
	tokFile := filepath.Join(c.dir, "wif-token")
	const a1, a2 = "eyJhbGciOiJSUzI1NiJ9.workload-one.sig1", "eyJhbGciOiJSUzI1NiJ9.workload-two.sig2"
	as.trust(a1)
	as.trust(a2)
	if err := os.WriteFile(tokFile, []byte(a1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var outs []result
	run := func(args ...string) result {
		t.Helper()
		r := c.run("", args...)
		outs = append(outs, r)
		return r
	}
	r := run("login", "--profile", "wif", "--store", "file", "--issuer", as.URL, "--client-id", "agent", "--jwt-bearer-token-file", tokFile)
	if r.code != 0 || !strings.Contains(r.stderr, "JWT bearer grant (workload token from "+tokFile+")") {
		t.Fatalf("login: %v", r)
	}
	c.expireToken(t, "wif")
	if err := os.WriteFile(tokFile, []byte(a2), 0o600); err != nil { // the platform rotates it
		t.Fatal(err)
	}
	r = run("token", "--profile", "wif")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "at-") {
		t.Fatalf("token: %v", r)
	}
	var got []string
	for _, f := range as.requests() {
		if f["grant_type"] != grantTypeJWTBearer || f["client_id"] != "agent" {
			t.Errorf("token request %v", f)
		}
		got = append(got, f["assertion"])
	}
	if !slices.Equal(got, []string{a1, a2}) {
		t.Errorf("assertions presented: %q, want the file's at each request: %q", got, []string{a1, a2})
	}
	if prof := profileJSON(t, c, "wif"); strings.Contains(prof, "workload-") || !strings.Contains(prof, `"grant": "jwt-bearer"`) {
		t.Errorf("profile:\n%s", prof)
	}
	r = run("status", "--profile", "wif")
	if r.code != 0 || !strings.Contains(r.stdout, "JWT bearer grant") {
		t.Errorf("status: %v", r)
	}

	// From an environment variable, read at each use.
	c.setenv("WIF_TOKEN=" + a1)
	r = run("login", "--profile", "env", "--store", "file", "--issuer", as.URL, "--client-id", "agent", "--jwt-bearer-token-env", "WIF_TOKEN")
	if r.code != 0 || !strings.Contains(r.stderr, "$WIF_TOKEN") {
		t.Fatalf("login --jwt-bearer-token-env: %v", r)
	}
	c.expireToken(t, "env")
	c.setenv("WIF_TOKEN=" + a2)
	r = run("token", "--profile", "env")
	if reqs := as.requests(); r.code != 0 || reqs[len(reqs)-1]["assertion"] != a2 {
		t.Fatalf("token from the variable: %v", r)
	}

	// A token the server does not trust: the identity refused.
	const bad = "eyJhbGciOiJSUzI1NiJ9.untrusted.sig3"
	if err := os.WriteFile(tokFile, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	c.expireToken(t, "wif")
	r = run("token", "--profile", "wif")
	if r.code != exitLoginRequired || !strings.Contains(r.stderr, "invalid_grant") || !strings.Contains(r.stderr, "--jwt-bearer-token-file") {
		t.Errorf("token with an untrusted workload token: %v", r)
	}
	checkErrorShape(t, r.stderr)
	noLeak(t, map[string]string{a1: "the first workload token", a2: "the second workload token", bad: "the untrusted workload token"}, outs...)
}

// Enterprise-managed authorization: the ID token of a person's profile
// (signed in at the identity provider with openid) is exchanged at the
// provider (RFC 8693) for an ID-JAG, presented as a JWT bearer grant at
// the MCP server's authorization server. The command's requests are
// checked at a test server of the test's own (oauthtest's token exchange
// is not on main yet); the ID token comes from a real sign-in at
// oauthtest. Neither the ID token nor the ID-JAG is printed.
func TestE2EGrantEnterprise(t *testing.T) {
	idp := oauthtest.NewServer(oauthtest.Config{})
	defer idp.Close()
	as := newAssertionServer(t)
	c := newCLI(t)
	c.mustLogin(idp, "corp") // openid offline_access
	idToken, _ := c.recordOf(t, "corp").Token.Extra["id_token"].(string)
	if idToken == "" {
		t.Fatal("the person's profile holds no ID token")
	}
	var outs []result
	run := func(args ...string) result {
		t.Helper()
		r := c.run("", args...)
		outs = append(outs, r)
		return r
	}
	r := run("login", "--profile", "mcp", "--store", "file", "--issuer", as.URL, "--client-id", "mcp-client",
		"--id-token-from", "corp", "--idp-client-id", "idp-client", "--idp-token-url", as.URL+"/idp/token", "--scope", "tools")
	if r.code != 0 || !strings.Contains(r.stderr, "enterprise-managed authorization (the ID token of profile corp)") {
		t.Fatalf("login: %v", r)
	}
	reqs := as.requests()
	if len(reqs) != 2 {
		t.Fatalf("requests: %v", reqs)
	}
	ex, jb := reqs[0], reqs[1]
	if ex["path"] != "/idp/token" || ex["subject_token"] != idToken || ex["subject_token_type"] != "urn:ietf:params:oauth:token-type:id_token" ||
		ex["audience"] != as.URL || ex["client_id"] != "idp-client" || ex["scope"] != "tools" {
		t.Errorf("the token exchange: %v", ex)
	}
	if jb["path"] != "/token" || jb["grant_type"] != grantTypeJWTBearer || !strings.Contains(jb["assertion"], ".jag-1.") || jb["client_id"] != "mcp-client" {
		t.Errorf("the JWT bearer grant: %v", jb)
	}
	c.expireToken(t, "mcp")
	r = run("token", "--profile", "mcp")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "at-") || len(as.requests()) != 4 {
		t.Fatalf("token after expiry (the chain again): %v; %v", r, as.requests())
	}
	r = run("status", "--profile", "mcp")
	if r.code != 0 || !strings.Contains(r.stdout, "enterprise-managed authorization") {
		t.Errorf("status: %v", r)
	}

	// The person's profile logged out: its login is what to run.
	if r := run("logout", "--profile", "corp"); r.code != 0 {
		t.Fatalf("logout corp: %v", r)
	}
	c.expireToken(t, "mcp")
	r = run("token", "--profile", "mcp")
	if r.code != exitLoginRequired || !strings.Contains(r.stderr, "takes its ID token from profile corp") || !strings.Contains(r.stderr, "authloop login --profile corp") {
		t.Errorf("token with the ID token's profile logged out: %v", r)
	}
	checkErrorShape(t, r.stderr)
	leaks := map[string]string{idToken: "the ID token"}
	for _, f := range as.requests() {
		if f["assertion"] != "" {
			leaks[f["assertion"]] = "an ID-JAG"
		}
	}
	noLeak(t, leaks, outs...)
}

// Secrets, keys and tokens are taken only from files or environment
// variables: one given where a path or a variable's name belongs is
// refused (exit 2) and never echoed, and nothing is saved.
func TestE2EGrantSecretAsFlagValueRefused(t *testing.T) {
	c := newCLI(t)
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCJ9.c2lnbmF0dXJl"
	const pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----"
	const secret = "idp-s3cret=value/+x"
	base := []string{"login", "--profile", "p", "--store", "file", "--issuer", "https://auth.example.com", "--client-id", "c"}
	for _, tc := range []struct {
		args  []string
		value string
		want  string
	}{
		{[]string{"--jwt-bearer-token-env", jwt}, jwt, "NAME of an environment variable"},
		{[]string{"--jwt-bearer-token-file", jwt}, jwt, "PATH of the file"},
		{[]string{"--client-credentials", "--private-key-file", pem}, pem, "PATH of the key's file"},
		{[]string{"--id-token-from", "corp", "--idp-client-id", "i", "--idp-token-url", "https://idp.example.com/token", "--idp-client-secret-env", secret}, secret, "NAME of an environment variable"},
	} {
		r := c.run("", append(slices.Clone(base), tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: %v", tc.args[:len(tc.args)-1], r)
		}
		for _, line := range strings.Split(tc.value, "\n") {
			if len(line) > 10 && strings.Contains(r.stdout+r.stderr, line) {
				t.Errorf("the value given to %v was printed:\n%v", tc.args[len(tc.args)-2], r)
			}
		}
		checkErrorShape(t, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(c.storeDir(), "profiles", "p.json")); err == nil {
		t.Error("a profile was saved")
	}
}

// Against oauthtest, which checks what the command sends: a workload's
// token signed by a platform the server trusts, with a jti each (so a
// stale token re-sent would be refused as a replay), rotated in its file
// between two token calls; and enterprise-managed authorization from the
// ID token of a person's profile at one oauthtest server (the identity
// provider, its token exchange) to another that trusts it.
func TestE2EGrantAgainstOAuthtest(t *testing.T) {
	platform := oauthtest.NewAssertionIssuer("https://kubernetes.default.svc")
	srv := oauthtest.NewServer(oauthtest.Config{TrustedIssuers: []oauthtest.TrustedIssuer{platform.Trusted()}, RequireJTI: true})
	defer srv.Close()
	c := newCLI(t)
	mint := func(jti string) string {
		claims := platform.Claims("system:serviceaccount:ci:builder", srv.Issuer(), time.Now(), time.Hour)
		claims["jti"] = jti
		return platform.Sign(claims)
	}
	tokFile := filepath.Join(c.dir, "token")
	a1, a2 := mint("one"), mint("two")
	if err := os.WriteFile(tokFile, []byte(a1), 0o600); err != nil {
		t.Fatal(err)
	}
	var outs []result
	run := func(args ...string) result {
		t.Helper()
		r := c.run("", args...)
		outs = append(outs, r)
		return r
	}
	if r := run("login", "--profile", "wif", "--store", "file", "--issuer", srv.Issuer(), "--client-id", srv.ClientID(), "--jwt-bearer-token-file", tokFile); r.code != 0 {
		t.Fatalf("login: %v", r)
	}
	c.expireToken(t, "wif")
	if err := os.WriteFile(tokFile, []byte(a2), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run("token", "--profile", "wif")
	if r.code != 0 || !srv.ValidAccessToken(strings.TrimSpace(r.stdout)) || srv.CountGrant(oauthtest.JWTBearerGrantType) != 2 {
		t.Fatalf("token after the rotation: %v (%d JWT bearer requests)", r, srv.CountGrant(oauthtest.JWTBearerGrantType))
	}
	// Not rotated: the same token again is a replay the server refuses.
	c.expireToken(t, "wif")
	r = run("token", "--profile", "wif")
	if r.code != exitLoginRequired || !strings.Contains(r.stderr, "invalid_grant") {
		t.Errorf("token with a spent workload token: %v", r)
	}

	idp := oauthtest.NewServer(oauthtest.Config{TokenExchange: true})
	defer idp.Close()
	as := oauthtest.NewServer(oauthtest.Config{
		TrustedIssuers: []oauthtest.TrustedIssuer{idp.TrustedIssuer()},
		Clients:        []oauthtest.Client{{ID: idp.ClientID()}},
	})
	defer as.Close()
	c.mustLogin(idp, "corp")
	idToken, _ := c.recordOf(t, "corp").Token.Extra["id_token"].(string)
	r = run("login", "--profile", "mcp", "--store", "file", "--issuer", as.Issuer(), "--resource", as.ResourceEndpoint(), "--client-id", idp.ClientID(),
		"--id-token-from", "corp", "--idp-client-id", idp.ClientID(), "--idp-issuer", idp.Issuer(), "--scope", "read")
	if r.code != 0 {
		t.Fatalf("login (enterprise): %v", r)
	}
	c.expireToken(t, "mcp")
	r = run("token", "--profile", "mcp")
	if r.code != 0 || !as.ValidAccessToken(strings.TrimSpace(r.stdout)) {
		t.Fatalf("token (enterprise): %v", r)
	}
	if n, m := idp.CountGrant(oauthtest.TokenExchangeGrantType), as.CountGrant(oauthtest.JWTBearerGrantType); n != 2 || m != 2 {
		t.Errorf("%d token exchanges and %d JWT bearer grants, want 2 and 2 (login, then token)", n, m)
	}
	noLeak(t, map[string]string{a1: "a workload token", a2: "a workload token", idToken: "the ID token"}, outs...)
}

// A profile switched from a person's sign-in to client credentials (the
// same issuer and client) ends the person's sign-in once the grant's token
// is kept, as a switch of issuer or client does: its record has another
// key (store.Key.Grant). A person's flag (--no-browser) switches it back.
func TestE2EGrantModeSwitch(t *testing.T) {
	const secret = "switch-s3cret-value"
	srv := oauthtest.NewServer(oauthtest.Config{Clients: []oauthtest.Client{{ID: "ci", Secret: secret}}})
	defer srv.Close()
	c := newCLI(t)
	secretFile := filepath.Join(c.dir, "secret")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	c.mustLogin(srv, "p", "--client-id", "ci", "--client-secret-file", secretFile)
	n := len(srv.Requests())
	r := c.run("", "login", "--profile", "p", "--client-credentials")
	if r.code != 0 || !strings.Contains(r.stderr, "Ended the previous sign-in of profile p") {
		t.Fatalf("login --client-credentials over a person's sign-in: %v", r)
	}
	revoked := 0
	for _, q := range requestsSince(srv, n) {
		if q.Endpoint == "revoke" && q.Status == http.StatusOK {
			revoked++
		}
	}
	if revoked == 0 {
		t.Errorf("the person's grant was not revoked: %+v", requestsSince(srv, n))
	}
	if rec := c.recordOf(t, "p"); rec == nil || rec.Key.Grant != "client_credentials" || rec.Token.RefreshToken != "" {
		t.Errorf("the record after the switch: %+v", rec)
	}
	r = c.login(srv, "p") // --no-browser: a person's sign-in again
	if r.code != 0 || !strings.Contains(r.stderr, "Signed in to") || strings.Contains(profileJSON(t, c, "p"), `"grant"`) {
		t.Fatalf("login --no-browser after the switch: %v\n%s", r, profileJSON(t, c, "p"))
	}
	if rec := c.recordOf(t, "p"); rec == nil || rec.Key.Grant != "" {
		t.Errorf("the record after switching back: %+v", rec)
	}
}
