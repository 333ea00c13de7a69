package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// shortSkipBinary is why a test that runs the built binary skips itself
// under -short.
const shortSkipBinary = "builds and runs the authloop binary (real processes): runs in the full tier (make test)"

// binDir holds the authloop binary that the end-to-end tests run; binPath
// is set once it is built (buildOnce).
var (
	binDir    string
	binPath   string
	buildOnce sync.Once
	buildErr  error
)

// buildBinary builds the command into binDir, once. Under -short (the
// fast tier, docs/TESTING.md) it skips the test instead: building the
// binary and running it as a process takes seconds; `make test` runs
// these tests.
func buildBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip(shortSkipBinary)
	}
	buildOnce.Do(func() {
		path := filepath.Join(binDir, "authloop")
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("the go command is not on PATH: %v", err)
			return
		}
		// As a release is built: pure Go, statically linked (no dynamic
		// loader at every start of `authloop token`).
		build := exec.Command(goTool, "build", "-o", path, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building the authloop binary: %v\n%s", err, out)
			return
		}
		binPath = path
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// cli runs the built binary in an environment of its own: a private
// configuration directory (XDG_CONFIG_HOME), no display, no $BROWSER, no
// D-Bus session (so the file store), no NO_COLOR unless set.
type cli struct {
	t   testing.TB
	env []string
	dir string
	// launcher, when set, starts the binary (its first argument): the test
	// binary itself, setting a limit first (withFileSizeLimit).
	launcher string
}

// command is the command that runs authloop with args.
func (c *cli) command(ctx context.Context, args []string) *exec.Cmd {
	if c.launcher != "" {
		return exec.CommandContext(ctx, c.launcher, append([]string{binPath}, args...)...)
	}
	return exec.CommandContext(ctx, binPath, args...)
}

func newCLI(t testing.TB) *cli {
	t.Helper()
	buildBinary(t)
	dir := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"LANG=C.UTF-8",
		"TERM=xterm-256color",
	}
	return &cli{t: t, env: env, dir: dir}
}

// setenv adds or replaces a variable.
func (c *cli) setenv(kv ...string) {
	for _, v := range kv {
		name, _, _ := strings.Cut(v, "=")
		c.env = slices.DeleteFunc(c.env, func(e string) bool { return strings.HasPrefix(e, name+"=") })
		c.env = append(c.env, v)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs authloop with args and stdin, and waits for it.
func (c *cli) run(stdin string, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := c.command(ctx, args)
	cmd.Env = c.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("running authloop %v: %v", args, err)
	}
	return result{code, out.String(), errOut.String()}
}

// interactive runs authloop with args and calls act with each stderr line
// while it runs, so that a test can play the person (open a URL, approve a
// code); act's goroutines are waited for.
func (c *cli) interactive(act func(line string), args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := c.command(ctx, args)
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout = &out
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	var errOut strings.Builder
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			errOut.WriteString(sc.Text() + "\n")
			act(sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	pw.Close()
	wg.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("running authloop %v: %v", args, err)
	}
	return result{code, out.String(), errOut.String()}
}

// browseOn returns an act for interactive that follows the first line
// starting with prefix as the person's browser would, approving.
func browseOn(t testing.TB, prefix string, wg *sync.WaitGroup) func(string) {
	return browseWith(t, prefix, wg, nil)
}

// browseWith is browseOn with the browser's HTTP client (nil: a default
// one).
func browseWith(t testing.TB, prefix string, wg *sync.WaitGroup, client *http.Client) func(string) {
	var once sync.Once
	return func(line string) {
		if !strings.HasPrefix(line, prefix) {
			return
		}
		once.Do(func() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := oauthtest.Browse(context.Background(), client, strings.TrimSpace(line)); err != nil {
					t.Errorf("browsing %s: %v", line, err)
				}
			}()
		})
	}
}

// login signs profile in headless: --no-browser, then the test follows the
// printed authorization URL.
func (c *cli) login(srv *oauthtest.Server, profile string, extra ...string) result {
	c.t.Helper()
	var wg sync.WaitGroup
	defer wg.Wait()
	args := append([]string{"login", "--profile", profile, "--no-browser", "--store", "file",
		"--issuer", srv.Issuer(), "--client-id", srv.ClientID(), "--scope", "openid offline_access", "--timeout", "1m"}, extra...)
	return c.interactive(browseOn(c.t, srv.AuthorizationEndpoint(), &wg), args...)
}

// mustLogin logs in and fails the test if it did not work.
func (c *cli) mustLogin(srv *oauthtest.Server, profile string, extra ...string) {
	c.t.Helper()
	if r := c.login(srv, profile, extra...); r.code != 0 {
		c.t.Fatalf("login: %v", r)
	}
}

func requestsSince(srv *oauthtest.Server, n int) []oauthtest.Request {
	return srv.Requests()[n:]
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("not JSON (%v):\n%s", err, s)
	}
}
