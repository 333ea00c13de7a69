package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// secrets collects every token the demo held, through the unexported
// observer hook, so a test can check that none was printed.
type secrets struct {
	mu   sync.Mutex
	seen map[string]bool
	n    int
}

func (s *secrets) observe(tok *oauth2.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.n++
	for _, v := range []string{tok.AccessToken, tok.RefreshToken} {
		if v != "" {
			s.seen[v] = true
		}
	}
	if id, ok := tok.Extra("id_token").(string); ok && id != "" {
		s.seen[id] = true
	}
}

// check fails t if any collected secret, or a long piece of one, appears
// in the output.
func (s *secrets) check(t *testing.T, name, output string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for v := range s.seen {
		probe := v
		if len(probe) > 16 {
			probe = probe[:16] // a truncated token is a leak too
		}
		if strings.Contains(output, probe) {
			t.Errorf("%s contains (a prefix of) a token the demo held", name)
		}
	}
}

func (s *secrets) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// syncBuffer is a bytes.Buffer safe for the demo's goroutines to write
// while the test reads it, that signals when a phrase appears.
type syncBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	phrase string
	seen   chan struct{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.seen != nil && strings.Contains(b.buf.String(), b.phrase) {
		close(b.seen)
		b.seen = nil
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// checkFingerprintLines fails t for an "access token" line without a
// fingerprint.
func checkFingerprintLines(t *testing.T, out string) {
	t.Helper()
	n := 0
	for line := range strings.Lines(out) {
		if strings.Contains(line, "access token") {
			n++
			if !strings.Contains(line, "sha256:") {
				t.Errorf("a line names an access token without its fingerprint: %q", line)
			}
		}
	}
	if n == 0 {
		t.Error("no line shows an access token's fingerprint")
	}
}

func TestDemoFullNoBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("the full demo takes about 15 s")
	}
	var sec secrets
	var out, errOut syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	code := run(withTokenObserver(ctx, sec.observe), []string{"demo", "--no-browser"}, &out, &errOut)
	took := time.Since(start)
	stdout, stderr := out.String(), errOut.String()
	t.Logf("the demo took %s; its output:\n%s", took.Round(time.Millisecond), stdout)
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
	// Generous: the demo waits about 10 s for two background refreshes,
	// plus up to 3.5 s of backoff; a slow shared machine may add more.
	if took > 2*time.Minute {
		t.Errorf("the demo took %s", took)
	}

	for _, want := range []string{
		"Part 1: signing in",
		"Exchanged the code",
		"Called the protected API",
		"Part 2: keeping the session alive",
		"Background refresh: new access token sha256:",
		"refresh token rotated sha256:",
		"HTTP 503",
		"answered 503 three times",
		"retried with backoff",
		"invalid_grant",
		"signed in again",
		"Summary",
		"authorization_code",
		"refresh_token",
		"never handed out an expired token",
		"Done:",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if n := strings.Count(stdout, "Background refresh:"); n < 2 {
		t.Errorf("%d background refreshes shown, want at least 2", n)
	}
	if n := strings.Count(stdout, "HTTP 200"); n < 4 {
		t.Errorf("%d successful API calls shown, want at least 4 (one in part 1, three in part 2)", n)
	}
	// The steps come in the story's order.
	last := -1
	for _, phrase := range []string{"Exchanged the code", "Background refresh:", "answered 503", "invalid_grant", "signed in again", "Summary", "Done:"} {
		i := strings.Index(stdout, phrase)
		if i < last {
			t.Errorf("%q comes too early", phrase)
		}
		last = max(last, i)
	}
	// Numbered steps, no terminal control codes outside a terminal.
	if !regexp.MustCompile(`(?m)^ ?\d+\. `).MatchString(stdout) {
		t.Error("no numbered steps")
	}
	if strings.ContainsAny(stdout, "\r\033") {
		t.Error("stdout has terminal control characters, but it is not a terminal")
	}
	checkFingerprintLines(t, stdout)

	// Login, two background refreshes, the refresh after the 503s and the
	// new sign-in: at least five access tokens and as many refresh tokens.
	if n := sec.count(); n < 10 {
		t.Errorf("the observer saw %d distinct tokens, want at least 10", n)
	}
	sec.check(t, "stdout", stdout)
	sec.check(t, "stderr", stderr)
}

func TestDemoShort(t *testing.T) {
	var sec secrets
	var out, errOut syncBuffer
	code := run(withTokenObserver(context.Background(), sec.observe), []string{"demo", "--no-browser", "--short", "-v"}, &out, &errOut)
	stdout, stderr := out.String(), errOut.String()
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"Exchanged the code", "HTTP 200", "Done:", "--short"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, unwanted := range []string{"Part 2", "Background refresh", "503", "invalid_grant"} {
		if strings.Contains(stdout, unwanted) {
			t.Errorf("--short output has %q:\n%s", unwanted, stdout)
		}
	}
	if !strings.Contains(stderr, "level=DEBUG") {
		t.Errorf("-v logged nothing at debug level to stderr:\n%s", stderr)
	}
	checkFingerprintLines(t, stdout)
	if sec.count() < 2 {
		t.Errorf("the observer saw %d tokens, want at least 2", sec.count())
	}
	sec.check(t, "stdout", stdout)
	sec.check(t, "stderr (with -v)", stderr)
}

// TestDemoInterrupted cancels the demo, as Ctrl-C does, while it waits for
// a background refresh: it ends at once with exit 1 and a clear message,
// and leaves nothing running (TestMain checks).
func TestDemoInterrupted(t *testing.T) {
	out := &syncBuffer{phrase: "Waiting for the first background refresh", seen: make(chan struct{})}
	seen := out.seen
	var errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"demo", "--no-browser"}, out, &errOut) }()

	select {
	case <-seen:
	case code := <-done:
		t.Fatalf("the demo ended (exit %d) before waiting for a refresh:\n%s\n%s", code, out.String(), errOut.String())
	case <-time.After(time.Minute):
		cancel()
		<-done
		t.Fatalf("the demo did not reach the wait for a background refresh:\n%s", out.String())
	}
	cancel()
	start := time.Now()
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not end within 30 s of the cancel")
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "interrupted") {
		t.Errorf("stderr does not say it was interrupted: %q", errOut.String())
	}
	if strings.Contains(out.String(), "Done:") {
		t.Error("an interrupted demo says Done")
	}
	t.Logf("ended %s after the cancel", time.Since(start).Round(time.Millisecond))
}

func TestDemoLoginFailure(t *testing.T) {
	// A 1 ns limit on the wait for the browser fails the sign-in, unless
	// the headless browser's answer is already there when the wait begins
	// (an answer that arrived wins, by design): a loaded machine can make
	// that happen, so a few tries are allowed; one must fail.
	var out, errOut syncBuffer
	code := 0
	for try := 0; try < 5 && code == 0; try++ {
		out, errOut = syncBuffer{}, syncBuffer{}
		code = run(context.Background(), []string{"demo", "--no-browser", "--short", "--timeout", "1ns"}, &out, &errOut)
	}
	if code != 1 {
		t.Fatalf("exit %d, want 1; stdout:\n%s", code, out.String())
	}
	checkErrorShape(t, errOut.String())
	if !strings.Contains(errOut.String(), "authloop: the demo failed:") {
		t.Errorf("stderr = %q, want a clear failure message", errOut.String())
	}
	if strings.Contains(out.String(), "Done:") {
		t.Error("a failed demo says Done")
	}
}

func TestDescribeChange(t *testing.T) {
	old := &oauth2.Token{AccessToken: "at-old", RefreshToken: "rt-old", ExpiresIn: 10}
	for _, tc := range []struct {
		name     string
		old, new *oauth2.Token
		want     string
	}{
		{"rotated", old, &oauth2.Token{AccessToken: "at-new", RefreshToken: "rt-new", ExpiresIn: 10}, "refresh token rotated sha256:"},
		{"kept", old, &oauth2.Token{AccessToken: "at-new", RefreshToken: "rt-old", ExpiresIn: 10}, "refresh token unchanged (sha256:"},
		{"none", old, &oauth2.Token{AccessToken: "at-new", ExpiresIn: 10}, "no refresh token"},
		{"first", nil, &oauth2.Token{AccessToken: "at-new", RefreshToken: "rt-new", ExpiresIn: 10}, ", refresh token sha256:"},
	} {
		got := describeChange(tc.old, tc.new)
		if !strings.Contains(got, tc.want) || !strings.HasPrefix(got, "new access token sha256:") || !strings.HasSuffix(got, "valid for 10s") {
			t.Errorf("%s: describeChange = %q, want it to contain %q", tc.name, got, tc.want)
		}
		for _, secret := range []string{"at-old", "at-new", "rt-old", "rt-new"} {
			if strings.Contains(got, secret) {
				t.Errorf("%s: describeChange printed a token: %q", tc.name, got)
			}
		}
	}
}

func TestTimes(t *testing.T) {
	for n, want := range map[int]string{0: "0 times", 1: "once", 2: "twice", 3: "three times", 7: "7 times"} {
		if got := times(n); got != want {
			t.Errorf("times(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPrinterNoStatusOutsideTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newPrinter(&b)
	p.say("one")
	p.status("⏳ 3s")
	p.detail("two")
	p.say("three")
	if want := " 1. one\n    two\n 2. three\n"; b.String() != want {
		t.Errorf("printed %q, want %q", b.String(), want)
	}
}

func TestPrinterStatusOnTerminal(t *testing.T) {
	var b bytes.Buffer
	p := &printer{w: &b, tty: true}
	p.status("⏳ %ds", 3)
	p.status("⏳ %ds", 2)
	p.say("done")
	want := "\r\033[K    ⏳ 3s\r\033[K    ⏳ 2s\r\033[K 1. done\n"
	if b.String() != want {
		t.Errorf("printed %q, want %q", b.String(), want)
	}
}
