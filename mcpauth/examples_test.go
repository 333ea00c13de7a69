package mcpauth_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// The examples and the conformance client build, and each example, run
// twice as a person would run it against an OAuth-protected MCP server
// with nothing but its URL (curl as $BROWSER, the file store under a fresh
// $XDG_CONFIG_HOME, a client registered dynamically), lists
// the server's tools, signing in on the first run only.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs programs")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	bin := t.TempDir()
	build := exec.Command(goBin, "build", "-o", bin+string(filepath.Separator), "./examples/gosdk", "./examples/mcpgo", "./cmd/conformance-client")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl to play the browser")
	}

	for _, name := range []string{"gosdk", "mcpgo"} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, oauthtest.Config{})
			home := t.TempDir()
			env := []string{
				"PATH=" + os.Getenv("PATH"),
				"HOME=" + home,
				"XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
				"BROWSER=" + curl + " -fsSL -o /dev/null %s",
			}
			for run := 1; run <= 2; run++ {
				ctx := testContext(t)
				cmd := exec.CommandContext(ctx, filepath.Join(bin, name), f.mcpURL)
				cmd.Env = env
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("run %d: %v\n%s", run, err, stderr.String())
				}
				if got := string(out); !strings.Contains(got, "echo\t") || !strings.Contains(got, "add\t") {
					t.Fatalf("run %d printed %q, want the tools add and echo\n%s", run, got, stderr.String())
				}
				if n := f.as.Count("authorize"); n != 1 {
					t.Errorf("after run %d: authorize requests = %d, want 1", run, n)
				}
			}
		})
	}
}
