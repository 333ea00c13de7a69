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
}

func (a *app) tokenCommand() *cobra.Command {
	var f tokenFlags
	cmd := &cobra.Command{
		Use:   "token [flags]",
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
it exits with status 3 (login required).

--json prints the token with its metadata instead: token_type, expiry,
expires_in, scopes, subject (from the ID token), issuer, resource and profile;
never the refresh token. --format exec-credential prints a Kubernetes
client.authentication.k8s.io/v1 ExecCredential, for kubectl's exec plugins.

A profile whose tokens are kept in Redis (login --store redis://…) reads them
from Redis at every call: while Redis cannot be reached, token exits 4, even
when the last access token is still valid (the command keeps nothing between
runs); try again later.

` + exitCodesHelp,
		Example: `  curl -H "Authorization: Bearer $(authloop token)" https://api.example.com/
  authloop token --profile work --min-valid 10m
  authloop token --json | jq .expiry

  # kubectl: in the user's entry of ~/.kube/config
  #   exec:
  #     apiVersion: client.authentication.k8s.io/v1
  #     command: authloop
  #     args: [token, --profile, k8s, --format, exec-credential]
  #     interactiveMode: Never`,
		Args: cobra.NoArgs,
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
	return writeToken(a.stdout, f.format, p, tok)
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
	if tok != nil && s.CanRefresh() {
		t, err := s.Refresh(ctx)
		err = a.settleSave(s, t, err, s.Key().Account, "refreshed", lostOnExit(tok, t))
		if err == nil {
			if !usable(t, minValid) {
				u.printf("%s %s", u.yellow("warning:"), shorterThanAsked(t, minValid, true))
			}
			return t, nil
		}
		if !login || !errors.Is(err, authloop.ErrLoginRequired) {
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
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	Expiry      time.Time `json:"expiry,omitzero"`
	ExpiresIn   int64     `json:"expires_in,omitempty"`
	Scopes      []string  `json:"scopes,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	Issuer      string    `json:"issuer"`
	Resource    string    `json:"resource,omitempty"`
	Profile     string    `json:"profile"`
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

func writeToken(w io.Writer, format string, p *Profile, tok *oauth2.Token) error {
	var out []byte
	switch format {
	case "json":
		j := tokenJSON{
			AccessToken: tok.AccessToken,
			TokenType:   tok.Type(),
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
		b, err := json.MarshalIndent(j, "", "  ")
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
