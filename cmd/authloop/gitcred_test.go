package main

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseGitCredential(t *testing.T) {
	in := "protocol=https\r\nhost=git.example.com\npath=a/b.git\nwwwauth[]=Basic realm=\"x\"\nwwwauth[]=Bearer\ncapability[]=authtype\nhost=git2.example.com\nempty=\n\nignored=after the blank line\n"
	c, err := parseGitCredential(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if c.get("protocol") != "https" || c.get("host") != "git2.example.com" || c.get("path") != "a/b.git" || c.get("ignored") != "" {
		t.Errorf("parsed %v", c.attrs)
	}
	if got := c.attrs["wwwauth[]"]; len(got) != 2 || got[0] != `Basic realm="x"` {
		t.Errorf("wwwauth[] = %q", got)
	}
	if v, ok := c.attrs["empty"]; !ok || v[0] != "" {
		t.Errorf("empty = %q", v)
	}
	// "key[]=" clears the array.
	c, _ = parseGitCredential(strings.NewReader("a[]=1\na[]=2\na[]=\na[]=3\n"))
	if got := c.attrs["a[]"]; len(got) != 1 || got[0] != "3" {
		t.Errorf("a[] = %q", got)
	}
	for _, bad := range []string{"no equals\n", "=value\n", "a=b\x00c\n", "k=" + strings.Repeat("x", maxCredentialLine+1) + "\n"} {
		if _, err := parseGitCredential(strings.NewReader(bad)); err == nil {
			t.Errorf("no error for %.20q", bad)
		}
	}
	// EOF without a blank line is fine (git closes the pipe).
	if c, err := parseGitCredential(strings.NewReader("host=h")); err != nil || c.get("host") != "h" {
		t.Errorf("EOF: %v %v", c, err)
	}
}

// FuzzGitCredentialInput: the parser never panics, errors or succeeds
// cleanly, and what it accepts survives a format and a second parse.
func FuzzGitCredentialInput(f *testing.F) {
	f.Add("protocol=https\nhost=git.example.com\n\n")
	f.Add("protocol=https\nhost=git.example.com\nusername=oauth2\npassword=tok\npassword_expiry_utc=1700000000\n\n")
	f.Add("capability[]=authtype\nwwwauth[]=Bearer realm=\"x\"\nwwwauth[]=\n")
	f.Add("a=b=c\r\n\r\n")
	f.Add("=\n")
	f.Add("host=\x00\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := parseGitCredential(strings.NewReader(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := c.format(&buf); err != nil {
			t.Fatal(err)
		}
		again, err := parseGitCredential(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("formatted output does not parse: %v\n%q", err, buf.String())
		}
		for k, vs := range c.attrs {
			if strings.ContainsAny(k, "=\n\x00") || k == "" {
				t.Fatalf("bad key %q", k)
			}
			got := again.attrs[k]
			if len(got) != len(vs) {
				t.Fatalf("key %q: %q then %q", k, vs, got)
			}
			for i := range vs {
				if strings.ContainsAny(vs[i], "\n\x00") || got[i] != vs[i] && utf8.ValidString(vs[i]) {
					t.Fatalf("key %q: value %q then %q", k, vs[i], got[i])
				}
			}
		}
	})
}
