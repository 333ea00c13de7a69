package main

import (
	"os"
	"strings"
	"testing"
)

// TestCommandTableInREADME: the README's table of commands has a row for
// every command of the binary (commands), and no row for a command it
// does not have.
func TestCommandTableInREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "| `authloop ")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, " ")
		name, _, _ = strings.Cut(name, "`")
		rows[name] = true
	}
	a := &app{}
	for _, c := range a.commands() {
		if !rows[c.name] {
			t.Errorf("README's command table has no row for authloop %s", c.name)
		}
		delete(rows, c.name)
	}
	for name := range rows {
		t.Errorf("README's command table has a row for authloop %s, which is not a command", name)
	}
}

// TestHelpUnknownTopic: `authloop help frob` is a usage error (exit 2, two
// lines on stderr, nothing on stdout), like `authloop frob`; `authloop
// help token` still prints token's help and exits 0.
func TestHelpUnknownTopic(t *testing.T) {
	c := newCLI(t)
	r := c.run("", "help", "frob")
	if r.code != exitUsage || r.stdout != "" {
		t.Errorf("authloop help frob: exit %d, want %d, and nothing on stdout\n%v", r.code, exitUsage, r)
	}
	twoLines(t, r.stderr, []string{`"frob"`}, "authloop help")
	r = c.run("", "help", "token")
	if r.code != exitOK || !strings.Contains(r.stdout, "--min-valid") {
		t.Errorf("authloop help token: %v", r)
	}
	r = c.run("", "help")
	if r.code != exitOK || !strings.Contains(r.stdout, "git-credential") {
		t.Errorf("authloop help: %v", r)
	}
}

// TestREADMEBuildLines: the README builds and installs the command as its
// own module (cmd/authloop) is built, from a clone; `go install
// …/cmd/authloop@latest` cannot build a module with replace directives.
func TestREADMEBuildLines(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, want := range []string{"go -C cmd/authloop run . demo", "CGO_ENABLED=0 go -C cmd/authloop install ."} {
		if !strings.Contains(readme, want) {
			t.Errorf("README has no line %q", want)
		}
	}
	if strings.Contains(readme, "cmd/authloop@") {
		t.Errorf("README installs cmd/authloop@VERSION, which go install cannot build (its go.mod has replace directives)")
	}
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "module github.com/authloop/authloop/cmd/authloop\n") {
		t.Errorf("cmd/authloop/go.mod is not the module github.com/authloop/authloop/cmd/authloop")
	}
}
