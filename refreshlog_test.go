package authloop

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// debugLog is a debug logger into a buffer a test may read while the
// session's goroutines write.
type debugLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *debugLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{&l.buf, &l.mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// line returns the first line holding msg, or "".
func (l *debugLog) line(msg string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range strings.Split(l.buf.String(), "\n") {
		if strings.Contains(ln, "msg=\""+msg+"\"") {
			return ln
		}
	}
	return ""
}

// The debug log of a refresh says which attempt failed and which one
// succeeded (counted from 1), and whether the server rotated the refresh
// token: what an operator reads to tell a flaky server from a dead grant.
func TestRefreshDebugLogNamesAttemptsAndRotation(t *testing.T) {
	for _, rotating := range []bool{true, false} {
		name := "rotating"
		if !rotating {
			name = "not-rotating"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, oauthtest.Config{DisableRotation: !rotating}, true)
			logs := &debugLog{}
			f.cfg.Logger = logs.logger()
			f.cfg.MaxRetries = 1
			s := f.session()
			f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
			if _, err := s.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			if ln := logs.line("authloop: refresh attempt failed"); !strings.Contains(ln, " attempt=1 ") || !strings.Contains(ln, " transient=true") {
				t.Errorf("the failed attempt's log line %q; want attempt=1, transient=true", ln)
			}
			want := " attempt=2 rotated=" + map[bool]string{true: "true", false: "false"}[rotating] + " "
			if ln := logs.line("authloop: refreshed"); !strings.Contains(ln, want) {
				t.Errorf("the refresh's log line %q; want %q", ln, want)
			}
		})
	}
}

// A Retry-After of exactly the cap (an hour) is used as it is, without the
// warning that the server asked for more than the cap; one second more is
// clamped, with the warning.
func TestRetryAfterOfExactlyTheCapNotWarned(t *testing.T) {
	for _, tc := range []struct {
		retryAfter string
		warned     bool
	}{{"3600", false}, {"3601", true}} {
		t.Run(tc.retryAfter, func(t *testing.T) {
			f := newFixture(t, oauthtest.Config{}, true)
			logs := &debugLog{}
			f.cfg.Logger = logs.logger()
			f.cfg.MaxRetries = NoRetries
			s := f.session()
			f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultTooManyRequests, RetryAfter: tc.retryAfter})
			_, err := s.Refresh(context.Background())
			var rl *RetryLaterError
			if !errors.As(err, &rl) || rl.Until.Sub(f.clock.Now()) != maxRetryAfter {
				t.Fatalf("got %v, want *RetryLaterError for the hour", err)
			}
			ln := logs.line("authloop: the authorization server asked for a wait longer than the cap; using the cap")
			if warned := ln != ""; warned != tc.warned {
				t.Fatalf("Retry-After %s: warned %v, want %v (%q)", tc.retryAfter, warned, tc.warned, ln)
			}
		})
	}
}
