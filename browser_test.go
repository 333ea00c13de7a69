package authloop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A $BROWSER command that runs but fails (exits non-zero, as xdg-open does
// without a desktop) lets the next command of the list try: only a command
// still running after a moment counts as a browser that opened.
func TestSystemBrowserFailedCommandTriesNext(t *testing.T) {
	fail, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false command")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "opened")
	script := filepath.Join(dir, "fake-browser")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s' \"$1\" > "+out+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BROWSER", fail+string(os.PathListSeparator)+script)
	const u = "https://auth.example/authorize?a=1"
	if err := SystemBrowser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(out); err != nil || string(got) != u {
		t.Fatalf("the next browser command got %q (%v), want %q: a failed command counted as an open browser", got, err, u)
	}
}
