package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
)

// defaultMinValid is how long a printed token stays valid at least, unless
// --min-valid says otherwise: a token that expires on its way to the
// server is no use.
const defaultMinValid = time.Minute

type tokenFlags struct {
	profile  string
	minValid time.Duration
	json     bool
	format   string
	login    bool
	minSet   bool // --min-valid was given
	// header: --header METHOD URL, the header lines of one request
	// (dpop.go); nonce is --dpop-nonce.
	header      bool
	method, url string
	nonce       string
}

func (a *app) tokenCommand() *cobra.Command {
	var f tokenFlags
	cmd := &cobra.Command{
		Use:   "token [flags] [--header METHOD URL]",
		Short: "Print a valid access token (refreshing it first when needed)",
		Long: `token prints the profile's access token and a newline to stdout, and nothing
else. A token that is still valid for --min-valid is printed without any
network request; otherwise it is refreshed first (one process at a time, the
others adopt the result). --min-valid is capped at half the token's lifetime
as the server issued it (expires_in), as the library caps its refresh buffer:
the server never gives more, so asking more would refresh at every call. With
20-second tokens and the default --min-valid 1m, a token is printed while it
is valid for 10 seconds more, and calls refresh about once per 10 seconds.

It never opens a browser unless --login is given, since a credential helper
must not pop up windows from a background job: without a usable refresh token
it exits with status 3 (login required). A program's profile (login
--client-credentials, --jwt-bearer-token-file, --id-token-from) runs its grant
instead, with no person and no --login; a refused identity exits 3.

--json prints the token with its metadata instead: token_type, expiry,
expires_in, scopes, subject (from the ID token), issuer, resource and profile;
never the refresh token. --format exec-credential prints a Kubernetes
client.authentication.k8s.io/v1 ExecCredential, for kubectl's exec plugins.

A DPoP-bound token (token_type DPoP, RFC 9449: login --dpop, and by default
wherever the server offers DPoP) is worth nothing alone: each request must
carry a new proof, signed by the profile's key, for exactly its method and
URL. token still prints the token itself (for a program that makes its own
proofs), but to call an API, use --header METHOD URL: it prints the request's
header lines, and nothing else, for curl -H @- (curl reads header lines from
stdin): "Authorization: DPoP <token>" and "DPoP: <proof>", or, for a bearer
token, the one line "Authorization: Bearer <token>". A proof is good for one
request, sent at once (servers take it for a few minutes): run token again for
the next. A server that wants a nonce in the proof refuses it with 401, error
use_dpop_nonce and a DPoP-Nonce header: give that value with --dpop-nonce.
With --json, --header prints token --json's fields and authorization and dpop
(the two headers' values). The proof is for the method as given, but GET, HEAD,
POST, PUT, PATCH, DELETE, OPTIONS, TRACE and CONNECT in any case are taken in
upper case, as curl sends them; the URL must be https (or http to this
machine).
git-credential and --format exec-credential refuse a DPoP-bound token: git and
kubectl send it without a proof (sign in with login --dpop off for those).

A profile whose tokens are kept in Redis (login --store redis://…) reads them
from Redis at every call: while Redis cannot be reached, token exits 4, even
when the last access token is still valid (the command keeps nothing between
runs); try again later.

` + exitCodesHelp,
		Example: `  curl -H "Authorization: Bearer $(authloop token)" https://api.example.com/
  authloop token --header GET https://api.example.com/items | curl -H @- https://api.example.com/items
  authloop token --header POST https://api.example.com/items | curl -H @- -d '{"a":1}' https://api.example.com/items
  authloop token --profile work --min-valid 10m
  authloop token --json | jq .expiry

  # kubectl: in the user's entry of ~/.kube/config
  #   exec:
  #     apiVersion: client.authentication.k8s.io/v1
  #     command: authloop
  #     args: [token, --profile, k8s, --format, exec-credential]
  #     interactiveMode: Never`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.header {
				if len(args) != 2 {
					return usageError("--header takes the request's METHOD and URL, such as: authloop token --header GET https://api.example.com/items (got %d arguments)", len(args))
				}
				return nil
			}
			if len(args) > 0 {
				return usageError("token takes no arguments; for the header lines of a request, give --header METHOD URL")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.json {
				if cmd.Flags().Changed("format") && f.format != "json" {
					return usageError("--json and --format %s contradict each other", f.format)
				}
				f.format = "json"
			}
			switch f.format {
			case "token", "json", "exec-credential":
			default:
				return usageError("--format %q: use token, json or exec-credential", f.format)
			}
			if f.minValid < 0 {
				return usageError("--min-valid must not be negative")
			}
			if cmd.Flags().Changed("dpop-nonce") && !f.header {
				return usageError("--dpop-nonce goes with --header METHOD URL: it is the nonce of that request's proof")
			}
			if f.header {
				if f.format == "exec-credential" {
					return usageError("--header and --format exec-credential contradict each other")
				}
				var err error
				if f.method, f.url, err = headerRequest(args[0], args[1]); err != nil {
					return err
				}
				if cmd.Flags().Changed("dpop-nonce") && !validNonce(f.nonce) {
					return usageError("--dpop-nonce: give the value of the server's DPoP-Nonce header (1 to 1024 printable ASCII characters, no '\"' or '\\')")
				}
			}
			f.minSet = cmd.Flags().Changed("min-valid")
			return classify(a.token(cmd.Context(), &f), f.profile)
		},
	}
	fl := cmd.Flags()
	profileFlag(cmd, &f.profile)
	fl.DurationVar(&f.minValid, "min-valid", defaultMinValid, "refresh first if the token expires sooner than this (at most half the token's lifetime)")
	fl.BoolVar(&f.json, "json", false, "print the token and its metadata as JSON (never the refresh token)")
	fl.StringVar(&f.format, "format", "token", "output: token, json or exec-credential (a Kubernetes ExecCredential)")
	fl.BoolVar(&f.login, "login", false, "sign in (browser or device code) if no token can be had otherwise")
	fl.BoolVar(&f.header, "header", false, "print the header lines that authorize one request, METHOD URL (for curl -H @-): Authorization, and for a DPoP token a one-time DPoP proof")
	fl.StringVar(&f.nonce, "dpop-nonce", "", "with --header: the nonce for the DPoP proof, from the server's DPoP-Nonce header (its 401 use_dpop_nonce)")
	return cmd
}

func (a *app) token(ctx context.Context, f *tokenFlags) error {
	p, s, err := openSession(f.profile, sessionOptions{interactive: f.login, ui: a.ui, intr: &a.intr})
	if err != nil {
		return err
	}
	defer a.closeSession(s, s.Cached())
	tok, err := a.freshToken(ctx, s, f.minValid, f.login)
	if err != nil {
		return err
	}
	if f.minSet {
		a.noteCappedMinValid(tok, f.minValid)
	}
	if f.header {
		return a.writeHeader(ctx, f, p, s)
	}
	if f.format == "exec-credential" && isDPoP(tok) {
		return noProofError(p.Name, "kubectl")
	}
	return writeToken(a.stdout, f.format, p, tok, s.DPoPThumbprint())
}

// usable reports whether tok can be handed out: valid for at least
// minValid, capped at half its lifetime (cappedMinValid); a token without
// an expiry always is.
func usable(tok *oauth2.Token, minValid time.Duration) bool {
	if tok == nil || tok.AccessToken == "" {
		return false
	}
	return tok.Expiry.IsZero() || time.Until(tok.Expiry) >= cappedMinValid(tok, minValid)
}

// freshToken returns the session's token if it is valid for minValid, and
// otherwise refreshes it, or, with login, signs in. Only then does it
// handle stop signals (interruptible): the caller closes s with
// closeSession.
func (a *app) freshToken(ctx context.Context, s *authloop.Session, minValid time.Duration, login bool) (*oauth2.Token, error) {
	u := a.ui
	tok := s.Cached()
	if usable(tok, minValid) {
		return tok, nil // the fast path: no request, no lock, no signal handling
	}
	ctx = a.interruptible(ctx)
	// A program's profile (grantmode.go) refreshes by running its grant
	// when it holds no refresh token: no person, no --login needed.
	program := s.Key().Grant != ""
	if tok != nil && s.CanRefresh() || program {
		t, err := s.Refresh(ctx)
		done := "refreshed"
		if program {
			done = "obtained a token with the grant"
		}
		err = a.settleSave(s, t, err, s.Key().Account, done, lostOnExit(tok, t))
		if err == nil {
			if !usable(t, minValid) {
				u.printf("%s %s", u.yellow("warning:"), shorterThanAsked(t, minValid, true))
			}
			return t, nil
		}
		if program || !login || !errors.Is(err, authloop.ErrLoginRequired) {
			return nil, err
		}
	}
	if !login {
		reason := "no token yet"
		if tok != nil {
			reason = shorterThanAsked(tok, minValid, false)
		}
		return nil, &authloop.LoginRequiredError{Reason: reason}
	}
	u.startSpinner("Waiting for the sign-in")
	t, err := s.Login(ctx)
	u.stopSpinner()
	if err = a.settleSave(s, t, err, s.Key().Account, "signed in", "the sign-in is lost"); err != nil {
		return nil, err
	}
	return t, nil
}

// tokenJSON is the output of token --json.
type tokenJSON struct {
	// Authorization and DPoP, with --header, are the values of the
	// request's Authorization and DPoP header fields.
	Authorization string    `json:"authorization,omitempty"`
	DPoP          string    `json:"dpop,omitempty"`
	AccessToken   string    `json:"access_token"`
	TokenType     string    `json:"token_type"`
	Expiry        time.Time `json:"expiry,omitzero"`
	ExpiresIn     int64     `json:"expires_in,omitempty"`
	Scopes        []string  `json:"scopes,omitempty"`
	Subject       string    `json:"subject,omitempty"`
	Issuer        string    `json:"issuer"`
	Resource      string    `json:"resource,omitempty"`
	Profile       string    `json:"profile"`
	// DPoPJKT is the thumbprint (RFC 7638) of the key a DPoP token is
	// bound to; never the key.
	DPoPJKT string `json:"dpop_jkt,omitempty"`
}

// newTokenJSON is token --json's object for tok; jkt is the session's
// key thumbprint, shown for a DPoP token.
func newTokenJSON(p *Profile, tok *oauth2.Token, jkt string) tokenJSON {
	j := tokenJSON{
		AccessToken: tok.AccessToken,
		TokenType:   tokenTypeOf(tok),
		Scopes:      scopesOf(tok),
		Issuer:      p.Issuer,
		Resource:    p.Resource,
		Profile:     p.Name,
	}
	if !tok.Expiry.IsZero() {
		j.Expiry = tok.Expiry.UTC().Truncate(time.Second)
		j.ExpiresIn = max(int64(time.Until(tok.Expiry)/time.Second), 0)
	}
	if c, ok := claimsOf(tok); ok {
		j.Subject = sanitize(c.Sub)
	}
	if isDPoP(tok) {
		j.DPoPJKT = jkt
	}
	return j
}

// execCredential is a client.authentication.k8s.io/v1 ExecCredential.
type execCredential struct {
	APIVersion string               `json:"apiVersion"`
	Kind       string               `json:"kind"`
	Status     execCredentialStatus `json:"status"`
}

type execCredentialStatus struct {
	ExpirationTimestamp string `json:"expirationTimestamp,omitempty"`
	Token               string `json:"token"`
}

// writeToken prints tok in format; jkt is the session's key thumbprint,
// shown in JSON for a DPoP token.
func writeToken(w io.Writer, format string, p *Profile, tok *oauth2.Token, jkt string) error {
	var out []byte
	switch format {
	case "json":
		b, err := json.MarshalIndent(newTokenJSON(p, tok, jkt), "", "  ")
		if err != nil {
			return err
		}
		out = append(b, '\n')
	case "exec-credential":
		ec := execCredential{
			APIVersion: "client.authentication.k8s.io/v1",
			Kind:       "ExecCredential",
			Status:     execCredentialStatus{Token: tok.AccessToken},
		}
		if !tok.Expiry.IsZero() {
			ec.Status.ExpirationTimestamp = tok.Expiry.UTC().Format(time.RFC3339)
		}
		b, err := json.Marshal(ec)
		if err != nil {
			return err
		}
		out = append(b, '\n')
	default:
		out = append([]byte(tok.AccessToken), '\n')
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("writing the token: %w", err)
	}
	return nil
}
