package authloop

import (
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// docs/TESTING.md's list of equivalent mutants names each by file:line and
// quotes the code mutated (`file.go:148` `len(c.Metadata) > 0` into ...,
// or file.go:241:13, `refs > 1` → ...). A line of code moved by a later
// change leaves the reference on other code, and the reason given for the
// mutant's equivalence unchecked: each quoted code must be on its line, its
// Go tokens in order (the first code quoted after the reference, before the
// next reference of the same entry).
func TestTestingDocEquivalentMutantsPointAtTheirCode(t *testing.T) {
	doc, err := os.ReadFile("docs/TESTING.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	start := strings.Index(s, "### Equivalent mutants")
	end := strings.Index(s, "### Timed-out mutants")
	if start < 0 || end < start {
		t.Fatal(`docs/TESTING.md: no "### Equivalent mutants" before "### Timed-out mutants"`)
	}
	dirs := map[string]string{"register": "register", "callback": "callback", "discovery": "discovery", "store": "store", "root package": "."}
	dir := ""
	var entries []string // each bullet, its lines joined
	for _, line := range strings.Split(s[start:end], "\n") {
		switch {
		case strings.HasPrefix(line, "#### "):
			d, ok := dirs[strings.TrimPrefix(line, "#### ")]
			if !ok {
				t.Fatalf("docs/TESTING.md: equivalent mutants of an unknown package: %q", line)
			}
			dir = d
		case strings.HasPrefix(line, "- ") && dir != "":
			entries = append(entries, dir+"\x00"+line[2:])
		case strings.HasPrefix(line, "  ") && len(entries) > 0:
			entries[len(entries)-1] += " " + strings.TrimSpace(line)
		}
	}
	ref := regexp.MustCompile(`([A-Za-z0-9_]+\.go):([0-9]+)(?::[0-9]+)?`)
	code := regexp.MustCompile("`([^`]+)`")
	checked := 0
	for _, e := range entries {
		dir, text, _ := strings.Cut(e, "\x00")
		refs := ref.FindAllStringSubmatchIndex(text, -1)
		spans := code.FindAllStringSubmatchIndex(text, -1)
		// quotedAfter is the first code quoted after position from (and
		// before to), not itself a reference.
		quotedAfter := func(from, to int) string {
			for _, sp := range spans {
				if q := text[sp[2]:sp[3]]; sp[0] >= from && sp[1] <= to && !ref.MatchString(q) {
					return q
				}
			}
			return ""
		}
		for i, r := range refs {
			file, line := text[r[2]:r[3]], text[r[4]:r[5]]
			next := len(text)
			if i+1 < len(refs) {
				next = refs[i+1][0]
			}
			quoted := quotedAfter(r[1], next)
			if quoted == "" {
				// "`defaults.go:74` and `defaults.go:86`, `< 0` into": the
				// code quoted after the last reference.
				quoted = quotedAfter(r[1], len(text))
			}
			if quoted == "" {
				t.Errorf("docs/TESTING.md: %s:%s quotes no code", file, line)
				continue
			}
			src, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Errorf("docs/TESTING.md: %s:%s: %v", file, line, err)
				continue
			}
			n, _ := strconv.Atoi(line)
			lines := strings.Split(string(src), "\n")
			if n < 1 || n > len(lines) {
				t.Errorf("docs/TESTING.md: %s:%s: %s has %d lines", file, line, filepath.Join(dir, file), len(lines))
				continue
			}
			if !tokensInOrder(goTokens(quoted), goTokens(lines[n-1])) {
				t.Errorf("docs/TESTING.md: %s:%s quotes `%s`, but the line is %q", filepath.Join(dir, file), line, quoted, strings.TrimSpace(lines[n-1]))
			}
			checked++
		}
	}
	if checked < 20 {
		t.Errorf("docs/TESTING.md: only %d references of equivalent mutants checked; has the list's form changed?", checked)
	}
}

// goTokens is the Go tokens of s, each as written.
func goTokens(s string) []string {
	var sc scanner.Scanner
	fs := token.NewFileSet()
	src := []byte(s)
	sc.Init(fs.AddFile("", -1, len(src)), src, nil, 0)
	var out []string
	for {
		_, tok, lit := sc.Scan()
		if tok == token.EOF {
			return out
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue
		}
		if lit == "" {
			lit = tok.String()
		}
		out = append(out, lit)
	}
}

// tokensInOrder reports whether every token of want is in have, in order.
func tokensInOrder(want, have []string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}
