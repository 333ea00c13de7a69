package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
)

// Exit codes, as `authloop --help` and the README document them.
const (
	exitOK            = 0 // success
	exitFailure       = 1 // any other failure
	exitUsage         = 2 // bad command line
	exitLoginRequired = 3 // no usable token and no way to get one without the person
	exitUnreachable   = 4 // the server could not be reached, or kept failing: try again later
)

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

// classify wraps err with its exit code and a hint, unless it has them.
func classify(err error, profile string) error {
	if err == nil {
		return nil
	}
	var (
		ce *cliError
		rl *authloop.RetryLaterError
		se *authloop.SaveError
	)
	if errors.As(err, &ce) {
		return err
	}
	if rc := refusedClientError(err, profile); rc != nil {
		return rc
	}
	switch {
	case errors.Is(err, errNoProfile):
		return &cliError{code: exitLoginRequired, err: err, hint: "run: authloop login --profile " + profile + " --issuer URL --client-id ID (or --resource URL)"}
	case errors.Is(err, authloop.ErrLoginRequired):
		// The library's own advice (Config.Interactive) is for programs,
		// not for the person at the terminal.
		msg := "login required for profile " + profile
		var lr *authloop.LoginRequiredError
		if errors.As(err, &lr) {
			if lr.Reason != "" {
				msg += ": " + lr.Reason
			}
			if lr.Err != nil {
				msg += " (" + strings.TrimPrefix(lr.Err.Error(), "authloop: ") + ")"
			}
		}
		return &cliError{code: exitLoginRequired, err: messageError{msg, err}, hint: loginHint(profile)}
	case errors.Is(err, authloop.ErrDeviceCodeExpired):
		return &cliError{code: exitLoginRequired, err: err, hint: loginHint(profile)}
	case errors.Is(err, context.Canceled):
		return &cliError{code: exitFailure, err: messageError{"cancelled", err}}
	case errors.As(err, &rl):
		// Set by this process or, through the record, by another one.
		return &cliError{code: exitUnreachable, err: err, hint: "the authorization server kept failing or asked for a wait: try again later, after " + rl.Until.Local().Format("15:04:05")}
	case errors.As(err, &se):
		return &cliError{code: exitFailure, err: err, hint: "the new tokens were not kept: fix the store (free space, permissions, a locked keyring); the refresh token it still holds may be spent, so if the next command says a login is required, " + loginHint(profile)}
	case unreachable(err):
		return &cliError{code: exitUnreachable, err: err, hint: "the server could not be reached or kept failing; try again later"}
	}
	return &cliError{code: exitFailure, err: err}
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
	)
	switch {
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
