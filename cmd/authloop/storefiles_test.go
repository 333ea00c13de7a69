package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// storeDir is the file store's directory of c.
func (c *cli) storeDir() string { return filepath.Join(c.dir, "config", "authloop") }

// recordFiles are the record files in c's file store.
func recordFiles(t *testing.T, c *cli) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(c.storeDir(), "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// twoLines checks that stderr ends in an error of two lines: what failed
// (with every one of what), then what to do (with do).
func twoLines(t *testing.T, stderr string, what []string, do string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("error is not two lines:\n%s", stderr)
	}
	checkErrorShape(t, stderr) // the rules every error of the command keeps
	failed, hint := lines[len(lines)-2], lines[len(lines)-1]
	if !strings.HasPrefix(failed, "authloop: ") {
		t.Errorf("the error's first line does not start with \"authloop: \":\n%s", stderr)
	}
	for _, w := range what {
		if !strings.Contains(failed, w) {
			t.Errorf("the error's first line lacks %q:\n%s", w, stderr)
		}
	}
	if !strings.Contains(hint, do) {
		t.Errorf("the error's second line lacks %q:\n%s", do, stderr)
	}
}
