package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: the
// demo must close its Session, its server and its connections.
// The end-to-end tests' binary is built, on first use, in a directory
// removed at the end.
func TestMain(m *testing.M) {
	execLimitedIfAsked() // a launcher of the built binary (fsize_unix_test.go)
	dir, err := os.MkdirTemp("", "authloop-e2e-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunNoArgsPrintsUsage(t *testing.T) {
	code, out, errOut := runCmd(t)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
	if !strings.Contains(errOut, "Usage:") {
		t.Errorf("stderr has no usage:\n%s", errOut)
	}
}

func TestRunUnknownCommand(t *testing.T) {
	code, out, errOut := runCmd(t, "frobnicate")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
	for _, want := range []string{`unknown command "frobnicate"`, "run: authloop --help"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestRunVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		code, out, errOut := runCmd(t, arg)
		if code != 0 {
			t.Errorf("%s: exit %d, want 0 (stderr %q)", arg, code, errOut)
		}
		if !strings.HasPrefix(out, "authloop ") {
			t.Errorf("%s: stdout = %q, want it to start with \"authloop \"", arg, out)
		}
	}
}

func TestRunHelp(t *testing.T) {
	code, out, _ := runCmd(t, "help")
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	for _, want := range []string{"Usage:", "demo", "version", "login", "token", "git-credential", "status", "refresh", "logout", "Exit codes:", "3  login required", "Examples:"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

// The demo's flags are cobra flags, like every other command's: a bad one
// is a usage error with the same two lines.
func TestDemoBadFlag(t *testing.T) {
	code, out, errOut := runCmd(t, "demo", "--no-such-flag")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
	if want := "authloop: unknown flag: --no-such-flag\nrun: authloop demo --help\n"; errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
}

func TestDemoUnexpectedArgument(t *testing.T) {
	code, _, errOut := runCmd(t, "demo", "extra")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut, `unexpected argument "extra": this command takes flags only`) {
		t.Errorf("stderr = %q", errOut)
	}
}

// TestDemoHelpListsFlags: "authloop help demo" lists the demo's flags, as
// every other command's help does (issue 13, item 12), and "demo -h" says
// the same.
func TestDemoHelpListsFlags(t *testing.T) {
	code, help, errOut := runCmd(t, "help", "demo")
	if code != 0 || errOut != "" {
		t.Errorf("help demo: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"Flags:", "--no-browser", "--short", "--timeout duration", "-v, --verbose", "(default 5m0s)"} {
		if !strings.Contains(help, want) {
			t.Errorf("help demo lacks %q:\n%s", want, help)
		}
	}
	if code, out, _ := runCmd(t, "demo", "-h"); code != 0 || out != help {
		t.Errorf("demo -h (exit %d) differs from help demo:\n%s", code, out)
	}
}

// TestCommandsBuiltAlone: a run that names a command builds only that
// command (rootCommand), so each entry of commands must carry its
// command's name, and the command's help, usage errors and behaviour must
// be the same as in the whole tree: "authloop help X" (the whole tree) and
// "authloop X --help" (X alone) print the same.
func TestCommandsBuiltAlone(t *testing.T) {
	a := &app{ui: newUI(&bytes.Buffer{})}
	all := a.rootCommand(nil)
	cmds := a.commands()
	if len(all.Commands()) != len(cmds) {
		t.Fatalf("whole tree has %d commands, commands() %d", len(all.Commands()), len(cmds))
	}
	for _, c := range cmds {
		if got := c.build().Name(); got != c.name {
			t.Errorf("commands() entry %q builds command %q", c.name, got)
		}
		alone := a.rootCommand([]string{c.name})
		if n := len(alone.Commands()); n != 1 || alone.Commands()[0].Name() != c.name {
			t.Fatalf("rootCommand(%q) built %d commands", c.name, n)
		}
		_, helpAll, _ := runCmd(t, "help", c.name)
		code, helpAlone, errOut := runCmd(t, c.name, "--help")
		if code != 0 || helpAlone != helpAll {
			t.Errorf("%s --help (exit %d, stderr %q):\n%s\nwant, as help %s:\n%s", c.name, code, errOut, helpAlone, c.name, helpAll)
		}
	}
}
