package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// The error-path walk (issue 13, items 9 and 10): every error of the
// command that a test can reach, on the built binary, each checked for
// the exit code of the table (exitTable) and for the shape of its message
// on stderr: two short lines, what failed and then what to do, no line
// longer than maxErrorLine, "authloop:" once, no prefix said twice ("x:
// x:"), no library field name (Config.Issuer, oauth2.Config).

// maxErrorLine is the longest line an error may print.
const maxErrorLine = 200

// walkEnv is one case's world: a private configuration directory and,
// when the case needs one, an authorization server.
type walkEnv struct {
	t        *testing.T
	c        *cli
	srv      *oauthtest.Server
	noBrowse bool // nobody follows the authorization URL
}

// server starts the case's authorization server with cfg.
func (w *walkEnv) server(cfg oauthtest.Config) *oauthtest.Server {
	w.srv = oauthtest.NewServer(cfg)
	w.t.Cleanup(w.srv.Close)
	return w.srv
}

// signedIn starts a default server and signs profile p in to it.
func (w *walkEnv) signedIn(cfg oauthtest.Config, extra ...string) {
	w.server(cfg)
	w.c.mustLogin(w.srv, "p", extra...)
}

// configFile is a path under the case's authloop configuration directory.
func (w *walkEnv) configFile(rel string) string {
	return filepath.Join(w.c.dir, "config", "authloop", rel)
}

// write writes a file, making its directory.
func (w *walkEnv) write(path, content string) {
	w.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// recordFile is the path of the single record of the case's file store.
func (w *walkEnv) recordFile() string {
	w.t.Helper()
	files, _ := filepath.Glob(w.configFile("*.json"))
	if len(files) != 1 {
		w.t.Fatalf("record files: %v", files)
	}
	return files[0]
}

// closedURL is an http URL on the loopback interface where nothing
// listens.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

type walkCase struct {
	name  string
	setup func(w *walkEnv) []string // returns the arguments (nil: args)
	args  []string
	stdin string
	code  int
	want  string // stderr contains this, when set
}

// commandNames are the commands a usage error is tried on.
var commandNames = []string{"login", "token", "git-credential", "status", "refresh", "logout", "demo", "version"}

func walkCases() []walkCase {
	var cases []walkCase
	for _, cmd := range commandNames {
		args := []string{cmd}
		if cmd == "git-credential" {
			args = append(args, "get")
		}
		cases = append(cases,
			walkCase{name: cmd + "/unknown flag", args: append(slices.Clone(args), "--no-such-flag"), code: exitUsage, want: "--help"},
			walkCase{name: cmd + "/bad profile name", args: append(slices.Clone(args), "--profile", "bad/name"), code: exitUsage, want: "--help"},
		)
	}
	issuerOnly := func(iss string) []string {
		return []string{"login", "--profile", "p", "--issuer", iss, "--client-id", "c", "--no-browser", "--timeout", "5s"}
	}
	cases = append(cases,
		walkCase{name: "unknown command", args: []string{"frobnicate"}, code: exitUsage},
		walkCase{name: "login/issuer plain http", args: issuerOnly("http://auth.example.com"), code: exitUsage, want: "--issuer"},
		walkCase{name: "login/issuer not http", args: issuerOnly("ftp://auth.example.com"), code: exitUsage, want: "--issuer"},
		walkCase{name: "login/issuer not a URL", args: issuerOnly("auth.example.com"), code: exitUsage, want: "--issuer"},
		walkCase{name: "login/issuer with a query", args: issuerOnly("https://auth.example.com/?a=b"), code: exitUsage, want: "--issuer"},
		walkCase{name: "login/resource not a URL", args: []string{"login", "--resource", "mcp", "--client-id", "c"}, code: exitUsage},
		walkCase{name: "login/no server", args: []string{"login", "--client-id", "c"}, code: exitUsage},
		walkCase{name: "login/port out of range", args: []string{"login", "--issuer", "https://auth.example.com", "--client-id", "c", "--port", "70000"}, code: exitUsage},
		walkCase{name: "login/bad store", args: []string{"login", "--issuer", "https://auth.example.com", "--client-id", "c", "--store", "cloud"}, code: exitUsage},
		walkCase{name: "login/bad mode", args: []string{"login", "--issuer", "https://auth.example.com", "--client-id", "c", "--mode", "fax"}, code: exitUsage},
		walkCase{name: "login/device and no-browser", args: []string{"login", "--device", "--no-browser"}, code: exitUsage, want: "--device and --no-browser cannot be used together"},
		walkCase{name: "login/extra argument", args: []string{"login", "extra"}, code: exitUsage, want: `unexpected argument "extra"`},
		walkCase{name: "token/bad format", args: []string{"token", "--format", "yaml"}, code: exitUsage},
		walkCase{name: "token/json and format", args: []string{"token", "--json", "--format", "exec-credential"}, code: exitUsage},
		walkCase{name: "token/negative min-valid", args: []string{"token", "--min-valid", "-1s"}, code: exitUsage},
		walkCase{name: "token/bad duration", args: []string{"token", "--min-valid", "soon"}, code: exitUsage},
		// DPoP (dpop.go).
		walkCase{name: "login/bad dpop", args: []string{"login", "--issuer", "https://auth.example.com", "--client-id", "c", "--dpop", "yes"}, code: exitUsage, want: "--dpop"},
		walkCase{name: "token/extra argument", args: []string{"token", "extra"}, code: exitUsage, want: "--header METHOD URL"},
		walkCase{name: "token/header without URL", args: []string{"token", "--header", "GET"}, code: exitUsage, want: "--header"},
		walkCase{name: "token/header bad method", args: []string{"token", "--header", "G T", "https://a.example/"}, code: exitUsage, want: "--header"},
		walkCase{name: "token/header relative URL", args: []string{"token", "--header", "GET", "/items"}, code: exitUsage, want: "--header"},
		walkCase{name: "token/header plain http", args: []string{"token", "--header", "GET", "http://a.example/"}, code: exitUsage, want: "https"},
		walkCase{name: "token/header and exec-credential", args: []string{"token", "--header", "GET", "https://a.example/", "--format", "exec-credential"}, code: exitUsage},
		walkCase{name: "token/nonce without header", args: []string{"token", "--dpop-nonce", "n"}, code: exitUsage, want: "--header"},
		walkCase{name: "token/bad nonce", args: []string{"token", "--header", "GET", "https://a.example/", "--dpop-nonce", `a"b`}, code: exitUsage, want: "--dpop-nonce"},
		walkCase{name: "token/exec-credential with a DPoP token", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{DPoP: true})
			return nil
		}, args: []string{"token", "--profile", "p", "--format", "exec-credential"}, code: exitFailure, want: "--dpop off"},
		walkCase{name: "git-credential/DPoP token", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{DPoP: true}, "--git-host", "git.example.com")
			return nil
		}, args: []string{"git-credential", "--profile", "p", "get"}, stdin: "protocol=https\nhost=git.example.com\n\n", code: exitFailure, want: "--dpop off"},
		walkCase{name: "git-credential/no operation", args: []string{"git-credential"}, code: exitUsage, want: "expected 1 argument(s), got 0"},
		walkCase{name: "logout/all and profile", args: []string{"logout", "--all", "--profile", "p"}, code: exitUsage},
		walkCase{name: "demo/extra argument", args: []string{"demo", "extra"}, code: exitUsage, want: `unexpected argument "extra"`},
		walkCase{name: "demo/bad timeout", args: []string{"demo", "--timeout", "soon"}, code: exitUsage},
		// The demo's failed sign-in is TestDemoLoginFailure's: a 1 ns limit
		// loses to a headless answer that arrives before the wait begins.

		// No profile, or no sign-in.
		walkCase{name: "token/missing profile", args: []string{"token", "--profile", "nobody"}, code: exitLoginRequired, want: "authloop login --profile nobody"},
		walkCase{name: "refresh/missing profile", args: []string{"refresh", "--profile", "nobody"}, code: exitLoginRequired, want: "authloop login --profile nobody"},
		walkCase{name: "status/missing profile", args: []string{"status", "--profile", "nobody"}, code: exitLoginRequired, want: "authloop login --profile nobody"},
		walkCase{name: "status/no profiles", args: []string{"status"}, code: exitLoginRequired},
		walkCase{name: "git-credential/missing profile", args: []string{"git-credential", "--profile", "nobody", "get"}, stdin: "protocol=https\nhost=git.example.com\n\n", code: exitLoginRequired},
		walkCase{name: "logout/missing profile", args: []string{"logout", "--profile", "nobody"}, code: exitFailure, want: "authloop status"},
		walkCase{name: "git-credential/bad input", args: []string{"git-credential", "get"}, stdin: "protocol\n\n", code: exitFailure},

		// A corrupt profile.
		walkCase{name: "token/corrupt profile", setup: func(w *walkEnv) []string {
			w.write(w.configFile("profiles/p.json"), "{")
			return nil
		}, args: []string{"token", "--profile", "p"}, code: exitFailure, want: "p.json"},
		walkCase{name: "status/corrupt profile", setup: func(w *walkEnv) []string {
			w.write(w.configFile("profiles/p.json"), "{")
			return nil
		}, args: []string{"status", "--profile", "p"}, code: exitFailure, want: "p.json"},
		walkCase{name: "login/corrupt profile", setup: func(w *walkEnv) []string {
			w.write(w.configFile("profiles/p.json"), "{")
			return nil
		}, args: []string{"login", "--profile", "p"}, code: exitFailure, want: "p.json"},

		// A corrupt record: login required (item 6).
		walkCase{name: "token/corrupt record", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			w.write(w.recordFile(), "{")
			return nil
		}, args: []string{"token", "--profile", "p"}, code: exitLoginRequired, want: "run: authloop login --profile p"},
		walkCase{name: "status/corrupt record", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			w.write(w.recordFile(), "{")
			return nil
		}, args: []string{"status", "--profile", "p"}, code: exitLoginRequired, want: "run: authloop login --profile p"},

		// The server unreachable or failing.
		walkCase{name: "login/issuer unreachable", setup: func(w *walkEnv) []string {
			return issuerOnly(closedURL(w.t))
		}, code: exitUnreachable, want: "try again later"},
		walkCase{name: "login/issuer without metadata", setup: func(w *walkEnv) []string {
			hs := httptest.NewServer(http.NotFoundHandler())
			w.t.Cleanup(hs.Close)
			return issuerOnly(hs.URL)
		}, code: exitFailure, want: "--issuer"},
		walkCase{name: "login/resource unreachable", setup: func(w *walkEnv) []string {
			return []string{"login", "--profile", "p", "--resource", closedURL(w.t) + "/mcp", "--client-id", "c", "--no-browser"}
		}, code: exitUnreachable, want: "try again later"},
		walkCase{name: "login/code exchange fails", setup: func(w *walkEnv) []string {
			w.server(oauthtest.Config{})
			w.srv.FailNext(20, oauthtest.Fault{Kind: oauthtest.FaultServerError})
			return nil
		}, code: exitUnreachable, want: "try again later"},
		walkCase{name: "login/client refused", setup: func(w *walkEnv) []string {
			w.server(oauthtest.Config{})
			w.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "invalid_client"})
			return nil
		}, code: exitFailure, want: "--client-id"},
		walkCase{name: "login/denied", setup: func(w *walkEnv) []string {
			w.server(oauthtest.Config{})
			w.srv.DenyNext("access_denied", "the user said no")
			return nil
		}, code: exitFailure},
		walkCase{name: "login/secret file missing", setup: func(w *walkEnv) []string {
			return []string{"login", "--profile", "p", "--issuer", "https://auth.example.com", "--client-id", "c", "--client-secret-file", filepath.Join(w.c.dir, "no-such-file")}
		}, code: exitFailure, want: "--client-secret-file"},
		walkCase{name: "login/busy port", setup: func(w *walkEnv) []string {
			w.server(oauthtest.Config{})
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				w.t.Fatal(err)
			}
			w.t.Cleanup(func() { l.Close() })
			port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
			return []string{"login", "--profile", "p", "--issuer", w.srv.Issuer(), "--client-id", w.srv.ClientID(), "--no-browser", "--port", port}
		}, code: exitFailure, want: "is in use: pick another with --port or leave it out"},
		walkCase{name: "login/timeout", setup: func(w *walkEnv) []string {
			w.server(oauthtest.Config{})
			w.noBrowse = true
			return []string{"login", "--profile", "p", "--issuer", w.srv.Issuer(), "--client-id", w.srv.ClientID(), "--no-browser", "--timeout", "1s"}
		}, code: exitFailure, want: "--timeout"},

		walkCase{name: "token/server 500s", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			w.c.agePastHalfLife(w.t, "p") // so that token refreshes
			w.srv.FailNext(50, oauthtest.Fault{Kind: oauthtest.FaultServerError})
			return nil
		}, args: []string{"token", "--profile", "p", "--min-valid", "2h"}, code: exitUnreachable, want: "try again later"},
		walkCase{name: "token/server 429", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			w.c.agePastHalfLife(w.t, "p") // so that token refreshes
			w.srv.FailNext(50, oauthtest.Fault{Kind: oauthtest.FaultTooManyRequests, RetryAfter: "600"})
			return nil
		}, args: []string{"token", "--profile", "p", "--min-valid", "2h"}, code: exitUnreachable, want: "try again later"},
		walkCase{name: "token/server gone", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			w.c.agePastHalfLife(w.t, "p") // so that token refreshes
			w.srv.Close()
			return nil
		}, args: []string{"token", "--profile", "p", "--min-valid", "2h"}, code: exitUnreachable, want: "try again later"},
		walkCase{name: "token/invalid_grant", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			w.c.agePastHalfLife(w.t, "p") // so that token refreshes
			w.srv.RevokeAll()
			return nil
		}, args: []string{"token", "--profile", "p", "--min-valid", "2h"}, code: exitLoginRequired, want: "run: authloop login --profile p"},
		walkCase{name: "token/invalid_client", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			w.c.agePastHalfLife(w.t, "p") // so that token refreshes
			w.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "invalid_client"})
			return nil
		}, args: []string{"token", "--profile", "p", "--min-valid", "2h"}, code: exitFailure},
		walkCase{name: "token/malformed answer", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			w.c.agePastHalfLife(w.t, "p") // so that token refreshes
			w.srv.FailNext(50, oauthtest.Fault{Kind: oauthtest.FaultMalformed})
			return nil
		}, args: []string{"token", "--profile", "p", "--min-valid", "2h"}, code: exitUnreachable, want: "not an OAuth answer"},
		walkCase{name: "token/no refresh token", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{DisableRefreshTokens: true})
			w.c.agePastHalfLife(w.t, "p") // so that token refreshes
			return nil
		}, args: []string{"token", "--profile", "p", "--min-valid", "2h"}, code: exitLoginRequired, want: "run: authloop login --profile p"},
		walkCase{name: "refresh/server 500s", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			w.srv.FailNext(50, oauthtest.Fault{Kind: oauthtest.FaultServerError})
			return nil
		}, args: []string{"refresh", "--profile", "p"}, code: exitUnreachable, want: "try again later"},
		walkCase{name: "refresh/server gone", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			w.srv.Close()
			return nil
		}, args: []string{"refresh", "--profile", "p"}, code: exitUnreachable, want: "try again later"},
		walkCase{name: "refresh/invalid_grant", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			w.srv.RevokeAll()
			return nil
		}, args: []string{"refresh", "--profile", "p"}, code: exitLoginRequired, want: "run: authloop login --profile p"},
		walkCase{name: "refresh/invalid_client", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			w.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "invalid_client"})
			return nil
		}, args: []string{"refresh", "--profile", "p"}, code: exitFailure},
		walkCase{name: "refresh/no refresh token", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{DisableRefreshTokens: true})
			return nil
		}, args: []string{"refresh", "--profile", "p"}, code: exitLoginRequired},
		walkCase{name: "git-credential/dead grant", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{}, "--git-host", "git.example.com")
			w.c.expireToken(w.t, "p")
			w.srv.RevokeAll()
			return nil
		}, args: []string{"git-credential", "--profile", "p", "get"}, stdin: "protocol=https\nhost=git.example.com\n\n", code: exitLoginRequired},
		walkCase{name: "status/login required", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{DisableRefreshTokens: true, AccessTokenTTL: time.Second})
			time.Sleep(1100 * time.Millisecond) // the access token expires; there is no refresh token
			return nil
		}, args: []string{"status", "--profile", "p"}, code: exitLoginRequired},
		walkCase{name: "token/expired, no refresh token", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{DisableRefreshTokens: true, AccessTokenTTL: time.Second})
			time.Sleep(1100 * time.Millisecond)
			return nil
		}, args: []string{"token", "--profile", "p"}, code: exitLoginRequired, want: "has expired"},

		walkCase{name: "logout/revocation refused", setup: func(w *walkEnv) []string {
			w.server(oauthtest.Config{Clients: []oauthtest.Client{{ID: "conf", Secret: "right"}}})
			secret := filepath.Join(w.c.dir, "secret")
			w.write(secret, "right")
			w.c.mustLogin(w.srv, "p", "--client-id", "conf", "--client-secret-file", secret)
			w.write(secret, "wrong") // the revocation request now fails: invalid_client
			return nil
		}, args: []string{"logout", "--profile", "p"}, code: exitFailure, want: "may live on"},
		walkCase{name: "logout/server gone", setup: func(w *walkEnv) []string {
			w.signedIn(oauthtest.Config{})
			w.srv.Close()
			return nil
		}, args: []string{"logout", "--profile", "p"}, code: exitFailure, want: "may live on"},
	)
	return append(cases, grantWalkCases()...)
}

var (
	// doubledPrefix finds "x: x:", a prefix said twice.
	doubledPrefix = regexp.MustCompile(`(?i)\b([a-z][\w.-]*):\s+([a-z][\w.-]*):`)
	// libraryNames are names of the library's API, which mean nothing to
	// the person at the terminal.
	libraryNames = regexp.MustCompile(`\b(Config|oauth2|authloop\.[A-Z]\w*)\.|RetrieveError|%!`)
)

// checkErrorShape checks the rules of an error's output on stderr.
func checkErrorShape(t *testing.T, stderr string) {
	t.Helper()
	if n := strings.Count(stderr, "authloop:"); n != 1 {
		t.Errorf(`"authloop:" appears %d times, want once`, n)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	at := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "authloop:") })
	if at < 0 {
		t.Fatalf("no line starts with \"authloop:\"")
	}
	if tail := lines[at:]; len(tail) != 2 {
		t.Errorf("the error is %d lines, want 2 (what failed, then what to do)", len(tail))
	} else if strings.TrimSpace(tail[1]) == "" {
		t.Errorf("the second line (what to do) is empty")
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
			continue // the authorization URL, on a line of its own
		}
		if n := len([]rune(l)); n > maxErrorLine {
			t.Errorf("a line of %d characters (at most %d): %s", n, maxErrorLine, l)
		}
		for _, m := range doubledPrefix.FindAllStringSubmatch(l, -1) {
			if strings.EqualFold(m[1], m[2]) {
				t.Errorf("a prefix said twice (%q): %s", m[0], l)
			}
		}
		if m := libraryNames.FindString(l); m != "" {
			t.Errorf("a library name (%q): %s", m, l)
		}
	}
}

// TestErrorPathWalk runs every reachable error of the command and checks
// its exit code against the table and its message against the rules.
func TestErrorPathWalk(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	runWalk(t, walkCases())
}

// run runs the case's command; a login against the case's server is
// followed as the person's browser would.
func (w *walkEnv) run(stdin string, args []string) result {
	if w.srv == nil || len(args) == 0 || args[0] != "login" || w.noBrowse {
		return w.c.run(stdin, args...)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	prefix := w.srv.AuthorizationEndpoint()
	return w.c.interactive(func(line string) {
		if strings.HasPrefix(line, prefix) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, _ = oauthtest.Browse(context.Background(), nil, strings.TrimSpace(line)) // a denial is the case's point
			}()
		}
	}, args...)
}

// runWalk runs each case on the built binary and checks its exit code
// against the table and its message against the rules.
func runWalk(t *testing.T, cases []walkCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &walkEnv{t: t, c: newCLI(t)}
			args := tc.args
			if tc.setup != nil {
				if a := tc.setup(w); a != nil {
					args = a
				}
			}
			if args == nil && w.srv != nil {
				args = []string{"login", "--profile", "p", "--issuer", w.srv.Issuer(), "--client-id", w.srv.ClientID(), "--no-browser", "--timeout", "1m"}
			}
			r := w.run(tc.stdin, args)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
			if _, ok := exitMeaning(r.code); !ok {
				t.Errorf("exit %d is not in the exit-code table", r.code)
			}
			checkErrorShape(t, r.stderr)
			if tc.want != "" && !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr lacks %q", tc.want)
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("authloop %s\n%v", strings.Join(args, " "), r)
			}
		})
	}
}
