package main

import (
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// A server's Retry-After binds every authloop process, not only the one
// that was told: `authloop token` is a new process on each call (kubectl
// and git call it in loops), and the record keeps the wait (issue 12,
// situation 3).
func TestE2EServerWaitAcrossProcesses(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "p")
	c.agePastHalfLife(t, "p")
	srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultTooManyRequests, RetryAfter: "120"})
	n := len(srv.Requests())
	r := c.run("", "token", "--profile", "p", "--min-valid", "2h")
	if r.code != 4 || !strings.Contains(r.stderr, "try again later, after") {
		t.Fatalf("token meeting a 429 with Retry-After: 120: %v; want exit 4 naming when to try again", r)
	}
	for _, args := range [][]string{
		{"token", "--profile", "p", "--min-valid", "2h"},
		{"refresh", "--profile", "p"},
		{"token", "--profile", "p", "--min-valid", "2h"},
	} {
		if r := c.run("", args...); r.code != 4 || !strings.Contains(r.stderr, "try again later, after") {
			t.Errorf("%v during the server's wait: %v; want exit 4 naming when to try again", args, r)
		}
	}
	var token []oauthtest.Request
	for _, q := range requestsSince(srv, n) {
		if q.Endpoint == "token" {
			token = append(token, q)
		}
	}
	if len(token) != 1 {
		t.Fatalf("%d token requests from four processes during a 120 s wait, want 1", len(token))
	}
	// The still-valid token is handed out meanwhile.
	if r := c.run("", "token", "--profile", "p"); r.code != 0 || r.stdout == "" {
		t.Fatalf("token with a valid access token during the wait: %v", r)
	}
}
