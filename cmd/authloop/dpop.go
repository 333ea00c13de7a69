// DPoP (RFC 9449) in the command: the profile's mode (login --dpop), the
// header lines of one request for curl (token --header METHOD URL), and
// the uses of a token that cannot carry a proof (git, kubectl).

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/internal/urlrule"
)

// dpopMode returns the profile's DPoP mode: auto when it names none.
func (p *Profile) dpopMode() (authloop.DPoPMode, error) {
	if p.DPoP == "" {
		return authloop.DPoPAuto, nil
	}
	return authloop.ParseDPoPMode(p.DPoP)
}

// setDPoPFlag records login's --dpop in p: "on" or "off", nothing for
// auto (so that a profile reads as one written before the flag). A value
// that is not a mode is a usage error naming the flag and the modes.
func setDPoPFlag(p *Profile, v string) error {
	m, err := authloop.ParseDPoPMode(v)
	if err != nil {
		return usageError("--dpop %q: use auto (DPoP when the server offers it), on or off", v)
	}
	p.DPoP = ""
	if m != authloop.DPoPAuto {
		p.DPoP = m.String()
	}
	return nil
}

// isDPoP reports whether tok was issued DPoP-bound (token_type DPoP, in
// any case, as the library decides): it is worth nothing without a proof
// of the session's key, made for each request.
func isDPoP(tok *oauth2.Token) bool {
	return tok != nil && strings.EqualFold(tok.TokenType, "DPoP")
}

// tokenTypeOf is the token's type as the command shows it: "DPoP" for a
// DPoP-bound token, else as oauth2.Token.Type names it ("Bearer" when the
// server named none).
func tokenTypeOf(tok *oauth2.Token) string {
	if isDPoP(tok) {
		return "DPoP"
	}
	return tok.Type()
}

// noProofError is the refusal of a use that sends the token as it is,
// without a proof (git's password, kubectl's bearer token): a DPoP-bound
// token would be refused by its server, and the person is told why and
// how to get a bearer token for that use instead.
func noProofError(profile, use string) error {
	return &cliError{code: exitFailure,
		err:  fmt.Errorf("profile %s holds a DPoP-bound token (RFC 9449): %s would send it without the proof each request needs, and be refused", profile, use),
		hint: "for " + use + ", sign in with a bearer token: authloop login --profile " + profile + " --dpop off"}
}

// standardMethods are the methods of RFC 9110 §9 (and PATCH, RFC 5789):
// given in another case, they are sent as curl sends them, in upper case.
var standardMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}

// headerRequest checks the METHOD and URL of token --header: the method a
// token (RFC 9110 §5.6.2; a standard method in any case is upper-cased,
// as the proof's htm must equal the method curl sends), the URL an
// absolute https URL, or http to this machine only (the token must not
// cross the network in clear, as git-credential refuses too). Both are
// usage errors (exit 2).
func headerRequest(method, rawURL string) (string, string, error) {
	if method == "" || len(method) > 32 || strings.IndexFunc(method, func(r rune) bool { return !isTChar(r) }) >= 0 {
		return "", "", usageError("--header: the method %q is not an HTTP method: give it first, such as GET or POST, then the URL", sanitize(truncate(method, 40)))
	}
	for _, m := range standardMethods {
		if strings.EqualFold(method, m) {
			method = m
		}
	}
	shown := urlrule.RedactURL(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" || strings.ContainsFunc(rawURL, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", "", usageError("--header: %q is not an absolute URL: give the URL of the request, such as https://api.example.com/items", sanitize(shown))
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !urlrule.IsLoopbackHost(u.Hostname()) {
			return "", "", usageError("--header: %s is plain http to another machine: the token goes only over https (plain http only to 127.0.0.1, ::1 or localhost)", sanitize(shown))
		}
	default:
		return "", "", usageError("--header: %s is not an http or https URL", sanitize(shown))
	}
	return method, rawURL, nil
}

// isTChar reports whether r may appear in an HTTP token (RFC 9110 §5.6.2).
func isTChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// validNonce reports whether n is a DPoP nonce (RFC 9449 §8.1: 1*NQCHAR,
// printable ASCII but '"' and '\'), of at most 1024 bytes (the library
// keeps no longer one).
func validNonce(n string) bool {
	if n == "" || len(n) > 1024 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// headerValueSafe reports whether v can be printed as a header line's
// value for curl: no control character (a line break in a token the
// server issued would add a header line of the server's choosing to the
// request).
func headerValueSafe(v string) bool {
	return v != "" && !strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// writeHeader prints the header lines that authorize one request of
// f.method to f.url with the session's token (token --header): the
// Authorization line, and for a DPoP-bound token the DPoP line with a
// proof made for exactly that request; with --json, token --json's
// object with the two values. The proof goes to stdout only, and is good
// for one request.
func (a *app) writeHeader(ctx context.Context, f *tokenFlags, p *Profile, s *authloop.Session) error {
	if f.nonce != "" {
		// The nonce of the server's refusal, which curl received: the
		// next proof for that server carries it.
		if err := s.SetDPoPNonce(f.url, f.nonce); err != nil {
			return err
		}
	}
	h, err := s.AuthHeader(ctx, f.method, f.url)
	if err != nil {
		return err
	}
	tok := s.Cached()
	authz, proof := h.Get("Authorization"), h.Get("DPoP")
	if isDPoP(tok) && proof == "" {
		// The record's token is bound to a key the profile does not use
		// (its dpop set to off by hand): as a bearer token it is refused.
		return &cliError{code: exitLoginRequired,
			err:  fmt.Errorf("profile %s holds a DPoP-bound token, but its DPoP setting is off, so no proof can be made for it", p.Name),
			hint: loginHint(p.Name) + " (for a bearer token; or --dpop auto to keep DPoP)"}
	}
	if !headerValueSafe(authz) || (proof != "" && !headerValueSafe(proof)) {
		// Only the access token comes from elsewhere: never printed.
		return &cliError{code: exitFailure,
			err:  fmt.Errorf("the access token of profile %s holds a control character (a line break, say): printed as a header line it would add lines of the server's choosing to the request, so it is not printed", p.Name),
			hint: "report it to the authorization server's operator " + p.Issuer + "; " + loginHint(p.Name) + " to get another token"}
	}
	var out []byte
	if f.format == "json" {
		j := newTokenJSON(p, tok, s.DPoPThumbprint())
		j.Authorization, j.DPoP = authz, proof
		b, err := json.MarshalIndent(j, "", "  ")
		if err != nil {
			return err
		}
		out = append(b, '\n')
	} else {
		out = fmt.Appendf(nil, "Authorization: %s\n", authz)
		if proof != "" {
			out = fmt.Appendf(out, "DPoP: %s\n", proof)
		}
	}
	if _, err := a.stdout.Write(out); err != nil {
		return fmt.Errorf("writing the header lines: %w", err)
	}
	return nil
}

// sayDPoP tells, after a login, whether the tokens are bound to a key, and
// warns when the profile lists git hosts, which cannot use a DPoP-bound
// token.
func (a *app) sayDPoP(p *Profile, s *authloop.Session, tok *oauth2.Token) {
	if !isDPoP(tok) {
		return
	}
	a.ui.printf("  The tokens are DPoP-bound to this profile's key (thumbprint %s): call an API with authloop token --header METHOD URL | curl -H @- URL.", s.DPoPThumbprint())
	if len(p.GitHosts) > 0 {
		a.ui.printf("%s git-credential does not answer with a DPoP-bound token (git cannot send its proofs): for git, sign in with --dpop off.", a.ui.yellow("warning:"))
	}
}
