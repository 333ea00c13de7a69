//go:build ignore

// Checks that every test the fast tier skips is named in docs/TESTING.md's
// "What the fast tier leaves out" (which says: every test runs in the fast
// tier except those listed). It reads `go test -short -json` from stdin:
//
//	go test -short -count=1 -json ./... | go run .ci/shorttier-skips.go
//	go -C cmd/authloop test -short -count=1 -json ./... | go run .ci/shorttier-skips.go
//
// A skipped test is accounted for when its name, or the name of a test it
// is a subtest of, is a word of that section, or begins with a prefix it
// names so ("the `TestE2E…` tests"); and a test that skips because no
// Secret Service answers, which it does in both tiers. Prints every other skip and exits 1 when there is one.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

func main() {
	doc, err := os.ReadFile("docs/TESTING.md")
	if err != nil {
		fmt.Fprintln(os.Stderr, err, "(run from the repository's root)")
		os.Exit(2)
	}
	section := string(doc)
	start := strings.Index(section, "### What the fast tier leaves out")
	end := strings.Index(section, "## Mutation testing")
	if start < 0 || end < start {
		fmt.Fprintln(os.Stderr, `docs/TESTING.md: no section "### What the fast tier leaves out" before "## Mutation testing"`)
		os.Exit(2)
	}
	section = section[start:end]
	named := func(name string) bool {
		return regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(name) + `($|[^A-Za-z0-9_])`).MatchString(section)
	}

	var prefixes []string // from "`TestE2E…`": every name that begins so
	for _, m := range regexp.MustCompile("`(Test[A-Za-z0-9_]*)…`").FindAllStringSubmatch(section, -1) {
		prefixes = append(prefixes, m[1])
	}

	type event struct{ Action, Package, Test, Output string }
	noKeyring := map[string]bool{} // package+test that said no Secret Service answers
	var skipped []event
	var failed []string
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(nil, 1<<20)
	for in.Scan() {
		var e event
		if json.Unmarshal(in.Bytes(), &e) != nil || e.Test == "" {
			continue
		}
		switch e.Action {
		case "output":
			if strings.Contains(e.Output, "Secret Service") {
				noKeyring[e.Package+" "+e.Test] = true
			}
		case "skip":
			skipped = append(skipped, e)
		case "fail":
			failed = append(failed, e.Package+" "+e.Test)
		}
	}
	if len(failed) > 0 {
		fmt.Println("tests failed (go test -short shows why):")
		for _, f := range failed {
			fmt.Println("  " + f)
		}
		os.Exit(1)
	}
	var unlisted []string
	for _, e := range skipped {
		if noKeyring[e.Package+" "+e.Test] {
			continue
		}
		ok := false
		for _, p := range prefixes {
			if strings.HasPrefix(e.Test, p) {
				ok = true
			}
		}
		for name := e.Test; ; {
			if named(name) {
				ok = true
				break
			}
			i := strings.LastIndex(name, "/")
			if i < 0 {
				break
			}
			name = name[:i]
		}
		if !ok {
			unlisted = append(unlisted, e.Package+" "+e.Test)
		}
	}
	if len(skipped) == 0 {
		fmt.Fprintln(os.Stderr, "no skipped test in the input: give it `go test -short -json`")
		os.Exit(2)
	}
	if len(unlisted) > 0 {
		sort.Strings(unlisted)
		fmt.Println(`skipped under -short, but not in docs/TESTING.md's "What the fast tier leaves out":`)
		for _, u := range unlisted {
			fmt.Println("  " + u)
		}
		os.Exit(1)
	}
	fmt.Printf("every one of the %d skips is listed\n", len(skipped))
}
