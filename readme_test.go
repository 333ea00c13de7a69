package authloop

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestREADMELibrarySnippet: the README's snippet under "## Use it as a
// library" is, line for line, the body of Example in example_test.go (one
// tab of indentation less), so the snippet compiles and cannot drift.
func TestREADMELibrarySnippet(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	snippet, ok := readmeGoBlock(string(readme), "## Use it as a library")
	if !ok {
		t.Fatal(`README.md has no go code block under "## Use it as a library"`)
	}

	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	body, ok := funcBody(t, src, "Example")
	if !ok {
		t.Fatal("example_test.go defines no func Example")
	}

	if snippet == body {
		return
	}
	s, b := strings.Split(snippet, "\n"), strings.Split(body, "\n")
	for i := range max(len(s), len(b)) {
		var sl, bl string
		if i < len(s) {
			sl = s[i]
		}
		if i < len(b) {
			bl = b[i]
		}
		if sl != bl {
			t.Fatalf("README.md's library snippet differs from Example's body (example_test.go) at line %d of the snippet:\nREADME:  %q\nExample: %q\ncopy Example's body, one tab less, into the README", i+1, sl, bl)
		}
	}
}

// TestREADMEProgramsSnippet: the README's snippet under "## Programs with
// no person present" is the body of Example_programs (example_grant_test.go).
func TestREADMEProgramsSnippet(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	snippet, ok := readmeGoBlock(string(readme), "## Programs with no person present")
	if !ok {
		t.Fatal(`README.md has no go code block under "## Programs with no person present"`)
	}
	src, err := os.ReadFile("example_grant_test.go")
	if err != nil {
		t.Fatal(err)
	}
	body, ok := funcBody(t, src, "Example_programs")
	if !ok {
		t.Fatal("example_grant_test.go defines no func Example_programs")
	}
	if snippet != body {
		t.Fatalf("README.md's programs snippet differs from Example_programs' body (example_grant_test.go):\nREADME:\n%s\nExample:\n%s", snippet, body)
	}
}

// readmeGoBlock returns the lines of the first ```go block after the
// heading, without the fences.
func readmeGoBlock(doc, heading string) (string, bool) {
	_, after, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		return "", false
	}
	if next := strings.Index(after, "\n## "); next >= 0 {
		after = after[:next]
	}
	_, block, ok := strings.Cut(after, "\n```go\n")
	if !ok {
		return "", false
	}
	block, _, ok = strings.Cut(block, "\n```\n")
	return block, ok
}

// funcBody returns the source between the braces of the top-level func
// name, each line with one leading tab removed.
func funcBody(t *testing.T, src []byte, name string) (string, bool) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "example_test.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || fn.Name.Name != name || fn.Body == nil {
			continue
		}
		inner := string(src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset])
		inner = strings.TrimPrefix(inner, "\n")
		inner = strings.TrimSuffix(inner, "\n")
		lines := strings.Split(inner, "\n")
		for i, l := range lines {
			lines[i] = strings.TrimPrefix(l, "\t")
		}
		return strings.Join(lines, "\n"), true
	}
	return "", false
}
