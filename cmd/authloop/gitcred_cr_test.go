package main

import (
	"strings"
	"testing"
)

// A carriage return inside a line: the parser stripped one CR after
// bufio.ScanLines had already dropped the CRLF's, so "k=v\r\r" read as
// "v\r", which formatted and read again became "v" (found by
// FuzzGitCredentialInput: "0=\r\r\r"). Such a line is now refused; a CRLF
// line ending is still accepted.
func TestParseGitCredentialCarriageReturn(t *testing.T) {
	for _, bad := range []string{"0=\r\r\r", "k=v\r\r\n", "k=a\rb\n", "k\r=v\n"} {
		if c, err := parseGitCredential(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted: %q", bad, c.attrs)
		}
	}
	c, err := parseGitCredential(strings.NewReader("protocol=https\r\nhost=h\r\n\r\n"))
	if err != nil || c.get("protocol") != "https" || c.get("host") != "h" {
		t.Errorf("CRLF lines: %v, %v", c, err)
	}
}
