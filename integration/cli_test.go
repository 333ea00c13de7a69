package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/integration/peers"
)

// authloopBinary builds the authloop command (its own module,
// ../cmd/authloop) into the test's temporary directory, for the tests that run it as
// kubectl, git and scripts do: a new process per call. go build's cache
// makes a second build cheap.
func authloopBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "authloop")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "cmd", "authloop")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/authloop: %v\n%s", err, out)
	}
	return bin
}

// authloopCLI runs the built command with a configuration directory of its
// own and the file store.
type authloopCLI struct {
	t   *testing.T
	bin string
	env []string
}

func newAuthloopCLI(t *testing.T) *authloopCLI {
	t.Helper()
	dir := t.TempDir()
	return &authloopCLI{t: t, bin: authloopBinary(t), env: []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), "LANG=C.UTF-8",
	}}
}

type cliResult struct {
	code           int
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs the command and waits for it (a generous deadline catches a
// hang).
func (c *authloopCLI) run(args ...string) cliResult {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Errorf("running authloop %v: %v", args, err)
		code = -1
	}
	return cliResult{code, out.String(), errOut.String()}
}

// login runs `authloop login --no-browser` with args, and plays the person
// with the headless browser: it follows the first stderr line that starts
// with authURL (the URL the command prints on a line of its own).
func (c *authloopCLI) login(authURL string, args ...string) cliResult {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"login", "--no-browser", "--store", "file", "--timeout", "1m"}, args...)...)
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout = &out
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	b := peers.NewHeadlessBrowser()
	defer b.CloseIdleConnections()
	var errOut strings.Builder
	opened := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			errOut.WriteString(line + "\n")
			if !opened && strings.HasPrefix(line, authURL) {
				opened = true
				_ = b.Open(context.Background(), strings.TrimSpace(line))
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	pw.Close()
	<-done
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("running authloop login: %v", err)
	}
	if opened {
		if _, werr := b.Wait(); werr != nil && code == 0 {
			c.t.Errorf("login succeeded but the headless browser failed: %v", werr)
		}
	}
	return cliResult{code, out.String(), errOut.String()}
}

// Issue 13, item 4: 8 loops calling `authloop token` (a new process per
// call, the default --min-valid 1m) for 45 s against Hydra with 20-second
// access tokens. --min-valid is capped at half the lifetime, so the loops
// refresh about once per 10 s (before: at every call), and every printed
// token has at least the capped time left. Each refresh's token is printed
// by the process that asked for it, so the distinct tokens printed count
// the refreshes.
func TestHydraShortTokenLoops(t *testing.T) {
	if testing.Short() {
		t.Skip("45 s of loops: skipped with -short")
	}
	need(t, "Ory Hydra", hydraErr)
	ctx := t.Context()
	const ttl = 20 * time.Second
	client, err := hydra.NewShortLivedClient(ctx, ttl)
	if err != nil {
		t.Fatal(err)
	}
	meta := mustMetadata(t, hydra.Issuer)
	c := newAuthloopCLI(t)
	if r := c.login(meta.AuthorizationEndpoint, "--profile", "short", "--issuer", hydra.Issuer, "--client-id", client.ID, "--scope", "openid offline_access"); r.code != 0 {
		t.Fatalf("login: %v\nHydra's log (tail):\n%s", r, tail(hydra.Output(), 2000))
	}
	// The capped validity: half of the lifetime Hydra states (its
	// expires_in is 19 or 20 for a 20-second lifespan).
	const capped = 9 * time.Second

	const loops, period = 8, 45 * time.Second
	var (
		mu      sync.Mutex
		tokens  = map[string]bool{}
		calls   int
		minLeft = time.Hour
	)
	start := time.Now()
	var wg sync.WaitGroup
	for range loops {
		wg.Go(func() {
			for time.Since(start) < period && !t.Failed() {
				called := time.Now()
				r := c.run("token", "--profile", "short", "--json")
				var j struct {
					AccessToken string    `json:"access_token"`
					Expiry      time.Time `json:"expiry"`
				}
				if err := json.Unmarshal([]byte(r.stdout), &j); r.code != 0 || err != nil || j.AccessToken == "" {
					t.Errorf("token: %v", r)
					return
				}
				// The expiry is printed in whole seconds (rounded down):
				// the token had at least expiry+1s-called left when printed.
				left := j.Expiry.Add(time.Second).Sub(called)
				if left < capped {
					t.Errorf("a token printed with %s left, less than the capped %s", left, capped)
				}
				mu.Lock()
				tokens[j.AccessToken] = true
				calls++
				minLeft = min(minLeft, left)
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	// The login's token is printed by the first calls, unless a refresh came
	// first (it cannot: it has 20 s left, over the capped 10 s).
	refreshes := len(tokens) - 1
	t.Logf("%d loops, %d calls of `authloop token` in %s with %s tokens: %d refreshes (the least validity left at a print: about %s)",
		loops, calls, elapsed.Round(time.Second), ttl, refreshes, minLeft.Round(time.Second))
	if refreshes < 3 || refreshes > 8 {
		t.Errorf("%d refreshes in %s (%d calls), want about one per 10 s (3 to 8)", refreshes, elapsed, calls)
	}
}
