package main

// What the person reads when a command fails. The library's errors are
// written for programs: they name Config fields, each layer adds its own
// prefix, and a discovery error quotes every URL it tried. explain turns
// them into one short line on what failed and one on what to do, with the
// exit code of the table (exitTable).

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/callback"
	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/store"
)

// maxMessage is the longest first line of an error, "authloop: " included.
const maxMessage = 200

// explain gives err, which has no exit code yet, its code, a short
// message and a hint.
func explain(err error, profile string) *cliError {
	var (
		lr  *authloop.LoginRequiredError
		rl  *authloop.RetryLaterError
		se  *authloop.SaveError
		to  *callback.TimeoutError
		nf  *discovery.NotFoundError
		oe  *authloop.OAuthError
		op  *net.OpError
		tre *authloop.TokenResponseError
		pe  *fs.PathError
	)
	if ce := explainRedis(err, profile); ce != nil {
		return ce
	}
	switch {
	case errors.Is(err, errBadProfileName):
		return &cliError{code: exitUsage, err: err} // the hint names the command's --help
	case errors.Is(err, errNoProfile):
		return &cliError{code: exitLoginRequired, err: err, hint: "run: authloop login --profile " + profile + " --issuer URL --client-id ID (or --resource URL)"}
	case errors.Is(err, authloop.ErrLoginRequired):
		// The library's own advice (Config.Interactive) is for programs,
		// not for the person at the terminal.
		msg := "login required for profile " + profile
		if errors.As(err, &lr) && lr.Reason != "" {
			msg += ": " + lr.Reason
			if errors.As(lr.Err, &oe) {
				// The server's code, and its description where it fits.
				if long := msg + " (" + oauthCode(oe) + ")"; len(long)+len("authloop: ") <= maxMessage {
					msg = long
				} else {
					msg += " (" + sanitize(oe.Code) + ")"
				}
			}
		}
		return &cliError{code: exitLoginRequired, err: messageError{msg, err}, hint: loginHint(profile)}
	case errors.Is(err, authloop.ErrDeviceCodeExpired):
		return &cliError{code: exitLoginRequired, err: messageError{"the device code expired before the sign-in was approved", err}, hint: loginHint(profile)}
	case errors.Is(err, context.Canceled):
		return &cliError{code: exitFailure, err: messageError{"cancelled", err}}
	case errors.As(err, &rl):
		// Set by this process or, through the record, by another one.
		after := rl.Until.Local().Format("15:04:05")
		// Found in the record: set by an earlier run (this command's last
		// one, or another program's), after a 429 or 503 that asked for the
		// wait, or after failures that may pass (a proxy's HTML page).
		msg := "an earlier token request for this sign-in failed (in an earlier run, or another program sharing it)"
		if rl.Err != nil {
			msg = "the authorization server " + serverProblem(rl.Err)
		}
		return &cliError{code: exitUnreachable, err: messageError{msg + "; no token request before " + after, err}, hint: "try again later, after " + after}
	case errors.As(err, &se):
		msg := "the new tokens could not be saved to the " + se.Store + " (" + tidy(se.Err.Error()) + ")"
		return &cliError{code: exitFailure, err: messageError{msg, err}, hint: "the new tokens were not kept: fix the store (free space, permissions, a locked keyring); the refresh token it still holds may be spent, so if the next command says a login is required, " + loginHint(profile)}
	case errors.Is(err, syscall.EADDRINUSE) && errors.As(err, &op) && op.Op == "listen":
		port := "the redirect port"
		if a, ok := op.Addr.(*net.TCPAddr); ok {
			port = "port " + strconv.Itoa(a.Port)
		}
		return &cliError{code: exitFailure, err: messageError{port + " is in use: pick another with --port or leave it out", err},
			hint: "another program, or another login still waiting, listens there; --port 0 lets the system pick a free port, if the server accepts any loopback port"}
	case errors.As(err, &to):
		return &cliError{code: exitFailure, err: messageError{"the sign-in did not finish within " + to.Waited.String(), err},
			hint: loginHint(profile) + " (and finish signing in, or give a longer --timeout)"}
	case errors.As(err, &nf):
		return explainDiscovery(err, nf)
	case errors.As(err, &oe):
		return explainRefusal(err, oe, profile)
	case errors.Is(err, store.ErrCorrupt):
		return &cliError{code: exitLoginRequired, err: messageError{corruptMessage(profile), err}, hint: corruptHint(profile)}
	case keyringUnreachable(err):
		errors.As(err, &op)
		return &cliError{code: exitFailure, err: messageError{"the OS keyring could not be reached (its D-Bus session bus: " + clip(tidy(op.Err.Error()), 80) + ")", err},
			hint: "run authloop in the desktop session that holds the keyring (over SSH, its bus is not there), or sign in again with the tokens in a file: authloop login --profile " + profile + " --store file"}
	case unreachable(err):
		return &cliError{code: exitUnreachable, err: messageError{"the server " + serverProblem(err), err}, hint: "try again later"}
	case errors.As(err, &pe) && !errors.Is(err, fs.ErrNotExist):
		// A file of this machine that cannot be read or written.
		return &cliError{code: exitFailure, err: err, hint: "fix that path or its permissions (a file where a directory belongs, or the other way round); authloop keeps its profiles and tokens in $XDG_CONFIG_HOME/authloop (~/.config/authloop)"}
	case errors.As(err, &tre):
		return &cliError{code: exitFailure, err: messageError{fmt.Sprintf("the authorization server's answer (HTTP %d) is not an OAuth answer: %s", tre.StatusCode, tre.Problem), err},
			hint: "try again later; if it persists, the server, or a proxy in front of it, is misconfigured"}
	}
	return splitFix(err)
}

// splitFix gives an error that carries its fix at its end, as the store's
// do (": run chmod 700 DIR"), that fix as the second line, where tidy's
// clipping of the first cannot cut it off.
func splitFix(err error) *cliError {
	msg := oneLine(err.Error())
	for _, sep := range []string{"; run: ", ": run "} {
		if i := strings.LastIndex(msg, sep); i > 0 {
			return &cliError{code: exitFailure, err: messageError{msg[:i], err}, hint: "run: " + msg[i+len(sep):]}
		}
	}
	return &cliError{code: exitFailure, err: err}
}

// explainDiscovery explains metadata that could not be found: unreachable
// (4) when every URL tried failed in a way that may pass, else a wrong
// --issuer or --resource (1).
func explainDiscovery(err error, nf *discovery.NotFoundError) *cliError {
	flag := "--issuer"
	what := "authorization server metadata"
	if strings.HasPrefix(nf.What, "protected resource") {
		flag, what = "--resource", "protected resource metadata (RFC 9728)"
	}
	temporary := len(nf.Tried) > 0
	for _, t := range nf.Tried {
		temporary = temporary && t.Temporary()
	}
	why := ""
	if len(nf.Tried) > 0 {
		why = " (" + fetchProblem(nf.Tried[0]) + ")"
	}
	if temporary {
		return &cliError{code: exitUnreachable, err: messageError{"could not read the " + what + why, err}, hint: "check " + flag + ", or try again later"}
	}
	return &cliError{code: exitFailure, err: messageError{"found no " + what + why, err},
		hint: "check " + flag + ": it must be the server's URL exactly as the server names itself"}
}

// explainRefusal explains an OAuth error answered by the server.
func explainRefusal(err error, oe *authloop.OAuthError, profile string) *cliError {
	msg := "the authorization server refused"
	hint := ""
	switch oe.Endpoint {
	case "authorization":
		msg += " the sign-in"
		hint = loginHint(profile) + " to try again"
	case "device_authorization":
		msg += " the device code request"
		hint = "run: authloop login --profile " + profile + " without --device, to sign in in the browser"
	case "registration":
		msg += " to register a client"
		hint = "give --client-id with a client registered at the server"
	default:
		msg += " the token request"
	}
	switch oe.Code {
	case "invalid_client", "unauthorized_client", "unsupported_grant_type":
		hint = "check the client: --client-id, and its secret (--client-secret-file or --client-secret-env) with authloop login --profile " + profile
	case "invalid_scope":
		hint = "check --scope with authloop login --profile " + profile
	case "invalid_target":
		hint = "check --resource with authloop login --profile " + profile
	case "temporarily_unavailable", "server_error", "slow_down":
		return &cliError{code: exitUnreachable, err: messageError{"the authorization server " + serverProblem(oe), err}, hint: "try again later"}
	}
	if oe.StatusCode >= 500 || oe.StatusCode == 429 {
		// Whatever its code, a failing server: it may pass.
		return &cliError{code: exitUnreachable, err: messageError{"the authorization server " + serverProblem(oe), err}, hint: "try again later"}
	}
	if hint == "" {
		hint = loginHint(profile)
	}
	return &cliError{code: exitFailure, err: messageError{msg + " (" + oauthCode(oe) + ")", err}, hint: hint}
}

// oauthCode is an OAuth error's code and, shortened, its description.
func oauthCode(oe *authloop.OAuthError) string {
	s := sanitize(oe.Code)
	if d := sanitize(oe.Description); d != "" {
		s += ": " + clip(d, 60)
	}
	return s
}

// serverProblem says in a few words how a request to a server failed, to
// follow "the server".
func serverProblem(err error) string {
	var (
		oe  *authloop.OAuthError
		tre *authloop.TokenResponseError
		fe  *discovery.FetchError
	)
	switch {
	case errors.As(err, &oe):
		if oe.StatusCode != 0 {
			return fmt.Sprintf("answered %s (HTTP %d)", oauthCode(oe), oe.StatusCode)
		}
		return "answered " + oauthCode(oe)
	case errors.As(err, &tre):
		return fmt.Sprintf("answered HTTP %d, not an OAuth answer", tre.StatusCode)
	case netProblem(err) == "no answer in time":
		return "did not answer in time"
	case netProblem(err) != "":
		return "could not be reached (" + netProblem(err) + ")"
	case errors.As(err, &fe):
		return "could not be reached (" + fetchProblem(fe) + ")"
	}
	return "could not be reached (" + clip(tidy(err.Error()), 80) + ")"
}

// netProblem names a network failure in a few words, or returns "".
func netProblem(err error) string {
	var (
		dns *net.DNSError
		ne  net.Error
	)
	switch {
	case errors.As(err, &dns):
		return "no such host " + dns.Name
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer in time"
	}
	return ""
}

// fetchProblem says why one metadata URL gave nothing.
func fetchProblem(fe *discovery.FetchError) string {
	if p := netProblem(fe); p != "" {
		return p
	}
	if fe.Status >= 300 {
		return fmt.Sprintf("HTTP %d at %s", fe.Status, clip(fe.URL, 80))
	}
	return clip(tidy(fe.Problem), 80)
}

// tidy makes a message of the library's fit on one short line: no
// "authloop: " inside (the command prints its own once), no prefix said
// twice ("store: store:"), at most maxMessage characters.
func tidy(msg string) string {
	msg = oneLine(strings.ReplaceAll(msg, "authloop: ", ""))
	parts := strings.Split(msg, ": ")
	out := parts[:0]
	for i, p := range parts {
		if i > 0 && p == parts[i-1] {
			continue
		}
		out = append(out, p)
	}
	return clip(strings.Join(out, ": "), maxMessage-len("authloop: "))
}

// clip shortens s to at most n characters, at a space where it can,
// ending in "…".
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := string(r[:n-1])
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:") + "…"
}

// checkIssuerFlag refuses, as a usage error, an --issuer that cannot be an
// issuer identifier: not an absolute URL, with a query or fragment, or
// plain http on a host that is not loopback (discovery's own check).
func checkIssuerFlag(issuer string) error {
	if issuer == "" {
		return nil // cleared: discovered from --resource
	}
	_, err := discovery.MetadataURLs(issuer)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, discovery.ErrInsecureURL):
		return usageError("--issuer %q must use https (plain http only on a loopback host: 127.0.0.1, [::1], localhost)", issuer)
	}
	return usageError("--issuer %q is not an issuer URL: give an absolute https URL without query or fragment, such as https://auth.example.com", issuer)
}

// cobra's usage errors, reworded for the person.
var (
	exclusiveRE = regexp.MustCompile(`^if any flags in the group \[[^\]]*\] are set none of the others can be; \[([^\]]*)\] were all set$`)
	argCountRE  = regexp.MustCompile(`^accepts (\d+) arg\(s\), received (\d+)$`)
	noArgsRE    = regexp.MustCompile(`^unknown command ("[^"]*") for "authloop [^"]*"$`)
)

// usageMessage rewords a usage error of cobra's own (its flag groups, its
// argument counts); other errors are returned as they are.
func usageMessage(err error) error {
	msg := err.Error()
	if m := exclusiveRE.FindStringSubmatch(msg); m != nil {
		return messageError{"--" + strings.Join(strings.Fields(m[1]), " and --") + " cannot be used together", err}
	}
	if m := argCountRE.FindStringSubmatch(msg); m != nil {
		return messageError{"expected " + m[1] + " argument(s), got " + m[2], err}
	}
	if m := noArgsRE.FindStringSubmatch(msg); m != nil {
		return messageError{"unexpected argument " + m[1] + ": this command takes flags only", err}
	}
	return err
}
