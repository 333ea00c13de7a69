package main

import (
	"os"
	"path/filepath"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// grantWalkCases are the error-path walk's cases of the program modes
// (grantmode.go): usage errors that name the fix, a refused identity
// (exit 3), a server that cannot be reached (exit 4), a workload token
// that is not there (exit 1).
func grantWalkCases() []walkCase {
	srvArgs := []string{"login", "--profile", "p", "--issuer", "https://auth.example.com", "--client-id", "c"}
	with := func(extra ...string) []string { return append(append([]string{}, srvArgs...), extra...) }
	// ciLogin starts a server with a confidential client, signs profile p
	// in with client credentials and returns the secret's file.
	ciLogin := func(w *walkEnv) string {
		w.server(oauthtest.Config{Clients: []oauthtest.Client{{ID: "ci", Secret: "right-secret"}}})
		secret := filepath.Join(w.c.dir, "secret")
		w.write(secret, "right-secret")
		r := w.c.run("", "login", "--profile", "p", "--store", "file", "--issuer", w.srv.Issuer(), "--client-id", "ci", "--client-secret-file", secret, "--client-credentials")
		if r.code != 0 {
			w.t.Fatalf("login: %v", r)
		}
		return secret
	}
	return []walkCase{
		{name: "login/two grant modes", args: with("--client-credentials", "--jwt-bearer-token-file", "/run/token"), code: exitUsage, want: "give one of them"},
		{name: "login/grant and device", args: with("--jwt-bearer-token-file", "/run/token", "--device"), code: exitUsage, want: "leave out --device"},
		{name: "login/client credentials without a secret", args: with("--client-credentials"), code: exitUsage, want: "--private-key-file"},
		{name: "login/grant without client id", args: []string{"login", "--issuer", "https://auth.example.com", "--jwt-bearer-token-env", "TOKEN"}, code: exitUsage, want: "--client-id"},
		{name: "login/key id without key", args: with("--key-id", "k1"), code: exitUsage, want: "--private-key-file"},
		{name: "login/idp flag without id-token-from", args: with("--idp-client-id", "i"), code: exitUsage, want: "--id-token-from"},
		{name: "login/idp without its client", args: with("--id-token-from", "corp"), code: exitUsage, want: "--idp-client-id"},
		{name: "login/id-token-from itself", args: with("--id-token-from", "p", "--idp-client-id", "i", "--idp-issuer", "https://idp.example.com"), code: exitUsage, want: "names this profile"},
		{name: "login/id-token-from missing profile", args: with("--id-token-from", "corp", "--idp-client-id", "i", "--idp-issuer", "https://idp.example.com"), code: exitLoginRequired, want: "authloop login --profile corp"},
		{name: "login/idp issuer and token url", args: with("--id-token-from", "corp", "--idp-issuer", "https://idp.example.com", "--idp-token-url", "https://idp.example.com/token"), code: exitUsage, want: "cannot be used together"},
		{name: "login/idp token url plain http", args: with("--id-token-from", "corp", "--idp-client-id", "i", "--idp-token-url", "http://idp.example.com/token"), code: exitUsage, want: "https"},
		{name: "login/key and secret", args: with("--client-credentials", "--private-key-file", "/etc/ci/key.pem", "--client-secret-env", "CI_SECRET"), code: exitUsage, want: "give one"},
		{name: "login/key file not a key", setup: func(w *walkEnv) []string {
			key := filepath.Join(w.c.dir, "key.pem")
			w.write(key, "not a key\n")
			return with("--client-credentials", "--private-key-file", key)
		}, code: exitFailure, want: "--private-key-file"},
		{name: "login/key file open to others", setup: func(w *walkEnv) []string {
			key := filepath.Join(w.c.dir, "key.pem")
			w.write(key, "not read\n")
			if err := os.Chmod(key, 0o644); err != nil {
				w.t.Fatal(err)
			}
			return with("--client-credentials", "--private-key-file", key)
		}, code: exitFailure, want: "chmod 600"},
		{name: "login/grant refused", setup: func(w *walkEnv) []string {
			w.server(oauthtest.Config{Clients: []oauthtest.Client{{ID: "ci", Secret: "right-secret"}}})
			secret := filepath.Join(w.c.dir, "secret")
			w.write(secret, "wrong-secret")
			return []string{"login", "--profile", "p", "--store", "file", "--issuer", w.srv.Issuer(), "--client-id", "ci", "--client-secret-file", secret, "--client-credentials"}
		}, code: exitLoginRequired, want: "--client-secret-file"},
		{name: "token/grant refused", setup: func(w *walkEnv) []string {
			secret := ciLogin(w)
			w.write(secret, "wrong-secret")
			w.c.expireToken(w.t, "p")
			return []string{"token", "--profile", "p"}
		}, code: exitLoginRequired, want: "refused the identity of profile p"},
		{name: "refresh/grant not allowed", setup: func(w *walkEnv) []string {
			ciLogin(w)
			w.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "unauthorized_client"})
			return []string{"refresh", "--profile", "p"}
		}, code: exitLoginRequired, want: "client credentials grant"},
		{name: "token/grant server gone", setup: func(w *walkEnv) []string {
			ciLogin(w)
			w.c.expireToken(w.t, "p")
			w.srv.Close()
			return []string{"token", "--profile", "p"}
		}, code: exitUnreachable, want: "try again later"},
		{name: "token/workload token missing", setup: func(w *walkEnv) []string {
			platform := oauthtest.NewAssertionIssuer("https://platform.example.com")
			w.server(oauthtest.Config{TrustedIssuers: []oauthtest.TrustedIssuer{platform.Trusted()}})
			tok := filepath.Join(w.c.dir, "token")
			w.write(tok, platform.Sign(platform.Claims("workload", w.srv.Issuer(), time.Now(), time.Hour)))
			r := w.c.run("", "login", "--profile", "p", "--store", "file", "--issuer", w.srv.Issuer(), "--client-id", w.srv.ClientID(), "--jwt-bearer-token-file", tok)
			if r.code != 0 {
				w.t.Fatalf("login: %v", r)
			}
			w.c.expireToken(w.t, "p")
			os.Remove(tok)
			return []string{"token", "--profile", "p"}
		}, code: exitFailure, want: "--jwt-bearer-token-file"},
	}
}
