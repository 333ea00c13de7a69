package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
)

// Exit codes: exitTable says what each means, for `authloop help` and the
// README (TestExitTableInREADME); classify picks them.
const (
	exitOK            = 0 // success
	exitFailure       = 1 // any other failure, local ones included
	exitUsage         = 2 // bad command line
	exitLoginRequired = 3 // no usable token and no way to get one without the person; or a program's identity refused
	exitUnreachable   = 4 // a remote server (or the profile's Redis) could not be reached, or kept failing: try again later
)

// exitRow is one exit code and what it means.
type exitRow struct {
	code    int
	meaning string
}

// exitTable is the one table of authloop's exit codes, for every command.
// The help (exitCodesHelp) is made from it, and the README's table must
// say the same.
var exitTable = []exitRow{
	{exitOK, "success"},
	{exitFailure, "failure: the message says what failed; local problems too (a busy --port, a store that cannot be written, a corrupt file)"},
	{exitUsage, "usage error: an unknown command or flag, a missing or extra argument, a bad flag value (a --profile name that is not a plain name, an --issuer that is not https or loopback http)"},
	{exitLoginRequired, "login required: no usable token and no refresh token that works; run authloop login (token, refresh and git-credential never open a browser unless given --login); for a program's profile (login --client-credentials, --jwt-bearer-token-file, --id-token-from), its identity was refused: its client, key or token"},
	{exitUnreachable, "a remote server (the authorization server, or the Redis of a profile kept there) could not be reached, or kept failing after retries: a script may try again later"},
}

// exitMeaning returns what code means, and whether the table has it.
func exitMeaning(code int) (string, bool) {
	for _, r := range exitTable {
		if r.code == code {
			return r.meaning, true
		}
	}
	return "", false
}

// exitCodesHelp is the help's section on exit codes and stop signals.
var exitCodesHelp = func() string {
	var b strings.Builder
	b.WriteString("Exit codes:\n")
	for _, r := range exitTable {
		b.WriteString(wrap("  "+strconv.Itoa(r.code)+"  ", "     ", r.meaning, 78))
	}
	b.WriteString(`  Stopped by Ctrl+C, SIGTERM or SIGHUP, authloop first finishes a request
  it has already sent and saves its answer (a new refresh token must not
  be lost), then ends as the signal would have: a shell shows 130, 143 or
  129. A second signal stops it without waiting for the answer; a save
  under way is still finished.`)
	return b.String()
}()

// wrap fills text into lines of at most width characters, the first
// starting with first, the others with indent, each ending in a newline.
func wrap(first, indent, text string, width int) string {
	var b strings.Builder
	line := first
	fresh := true
	for _, w := range strings.Fields(text) {
		if !fresh && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line, fresh = indent, true
		}
		if !fresh {
			line += " "
		}
		line += w
		fresh = false
	}
	b.WriteString(line + "\n")
	return b.String()
}

// cliError is a failure with its exit code and, for the person, what to do.
type cliError struct {
	code int
	err  error
	hint string // "run: authloop login --profile work"; may be empty
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// usageError is a bad command line (exit 2).
func usageError(format string, args ...any) error {
	return &cliError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// loginHint is the line that tells the person how to sign in again.
func loginHint(profile string) string {
	if profile == defaultProfile {
		return "run: authloop login"
	}
	return "run: authloop login --profile " + profile
}

// classify gives err its exit code, a short message and a hint (explain),
// unless it has them.
func classify(err error, profile string) error {
	if err == nil {
		return nil
	}
	var ce *cliError
	if errors.As(err, &ce) {
		return err
	}
	if ge := explainGrant(err, profile); ge != nil {
		return ge
	}
	if rc := refusedClientError(err, profile); rc != nil {
		return rc
	}
	return explain(err, profile)
}

// messageError shows msg in place of err's own text, and keeps err for
// errors.Is.
type messageError struct {
	msg string
	err error
}

func (e messageError) Error() string { return e.msg }
func (e messageError) Unwrap() error { return e.err }

// unreachable reports a failure that may pass: no connection, a timeout,
// a 5xx or 429, temporarily_unavailable.
func unreachable(err error) bool {
	var (
		ne  net.Error
		ue  *url.Error
		tre *authloop.TokenResponseError
		oe  *authloop.OAuthError
		fe  *discovery.FetchError
		pe  *fs.PathError
		le  *os.LinkError
	)
	switch {
	case errors.As(err, &pe), errors.As(err, &le):
		// A file or directory of this machine. Its system error
		// (syscall.Errno) is a net.Error too, but nothing remote failed.
		return false
	case keyringUnreachable(err):
		return false // a local socket: the OS keyring's D-Bus
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return true
	case errors.As(err, &tre):
		return tre.StatusCode >= 500 || tre.StatusCode == 429
	case errors.As(err, &oe):
		return oe.Code == "temporarily_unavailable" || oe.Code == "server_error" || oe.StatusCode >= 500
	case errors.As(err, &fe) && fe.Temporary():
		return true
	case errors.As(err, &ne), errors.As(err, &ue):
		return true
	}
	return false
}

// keyringUnreachable reports a failure to reach the OS keyring: a Unix
// socket (the D-Bus session bus of the Secret Service) that could not be
// dialled or that failed. The command talks to no server over a Unix socket.
func keyringUnreachable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.HasPrefix(op.Net, "unix")
}
