package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/oauthtest"
)

// runDemo starts the embedded authorization server and signs in against it,
// through the person's browser or, with --no-browser or where no browser
// can be opened, headless. It prints each step in plain words and never a
// whole token.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noBrowser := fs.Bool("no-browser", false, "do not open a browser: follow the sign-in with an HTTP client instead (headless)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the sign-in to finish")
	verbose := fs.Bool("v", false, "log each step of the library at debug level (never a token)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "authloop demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	d := &demo{out: stdout, headless: *noBrowser}
	if err := d.run(ctx, *timeout, *verbose, stderr); err != nil {
		fmt.Fprintf(stderr, "\nauthloop demo failed: %v\n", err)
		return 1
	}
	return 0
}

type demo struct {
	out      io.Writer
	headless bool
	step     int
}

func (d *demo) say(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.out, "%d. %s\n", d.step, fmt.Sprintf(format, args...))
}

func (d *demo) detail(format string, args ...any) {
	fmt.Fprintf(d.out, "   %s\n", fmt.Sprintf(format, args...))
}

func (d *demo) run(ctx context.Context, timeout time.Duration, verbose bool, stderr io.Writer) error {
	fmt.Fprintln(d.out, "authloop demo: a complete OAuth 2.1 sign-in (authorization code + PKCE, loopback redirect)")
	fmt.Fprintln(d.out, "against an authorization server that runs inside this process. Nothing leaves this machine.")
	fmt.Fprintln(d.out)

	srv := oauthtest.NewServer(oauthtest.Config{Consent: !d.headless, AccessTokenTTL: time.Hour})
	defer srv.Close()
	d.say("Started a test authorization server at %s.", srv.Issuer())
	d.detail("public client %q, PKCE S256 required, refresh tokens rotate", srv.ClientID())

	cfg := &authloop.Config{
		OAuth2: &oauth2.Config{
			ClientID: srv.ClientID(),
			Endpoint: srv.Endpoint(),
			Scopes:   []string{"openid", "offline_access", "read"},
		},
		Issuer:        srv.Issuer(),
		RequireIssuer: true,
		AppName:       "the authloop demo",
		LoginTimeout:  timeout,
		Prompt:        io.Discard,
		Browser:       d.browser(),
	}
	if verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}

	start := time.Now()
	tok, err := authloop.Login(ctx, cfg)
	if err != nil {
		return err
	}
	d.say("The redirect arrived on the loopback listener: state matched, iss named our server (RFC 9207).")
	d.say("Exchanged the code (with its PKCE verifier) for tokens in %s:", time.Since(start).Round(time.Millisecond))
	d.detail("access token   %s, type %s, expires in %s", authloop.Fingerprint(tok.AccessToken), tok.Type(), time.Until(tok.Expiry).Round(time.Second))
	if tok.RefreshToken != "" {
		d.detail("refresh token  %s (kept to renew the access token without asking you again)", authloop.Fingerprint(tok.RefreshToken))
	} else {
		d.detail("refresh token  none")
	}
	if s, ok := tok.Extra("scope").(string); ok {
		d.detail("scope          %s", s)
	}
	d.detail("(tokens are shown as fingerprints: authloop never prints a token)")

	status, err := callAPI(ctx, srv.ResourceEndpoint(), tok)
	if err != nil {
		return fmt.Errorf("calling the protected API: %w", err)
	}
	d.say("Called the protected API %s with the access token: HTTP %d.", srv.ResourceEndpoint(), status)
	if status != http.StatusOK {
		return fmt.Errorf("the protected API answered HTTP %d, want 200", status)
	}
	fmt.Fprintln(d.out)
	fmt.Fprintln(d.out, "Done: signed in, tokens in hand, API call authorized.")
	return nil
}

// browser returns the demo's way to open the authorization URL: the
// system browser unless headless, falling back to an HTTP client that acts
// as a browser whose user approves.
func (d *demo) browser() authloop.Browser {
	return func(ctx context.Context, authURL string) error {
		d.say("Built the authorization URL (client_id, scope, state, PKCE code_challenge S256):")
		d.detail("%s", shorten(authURL, 120))
		if !d.headless {
			err := authloop.SystemBrowser(ctx, authURL)
			if err == nil {
				d.say("Opened your browser. Approve the request there; the demo waits for the redirect.")
				return nil
			}
			d.say("No browser could be opened here (%v); going on headless.", err)
			d.headless = true
			// The consent page needs a person; Browse approves it.
		}
		d.say("Following the authorization URL with an HTTP client, as a browser would (--no-browser).")
		go func() {
			// The result arrives through the callback; Login reports failures.
			_, _, _ = oauthtest.Browse(ctx, nil, authURL)
		}()
		return nil
	}
}

func callAPI(ctx context.Context, endpoint string, tok *oauth2.Token) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return 0, err
	}
	tok.SetAuthHeader(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// shorten keeps the start of a long URL for display.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

var _ = errors.New
var _ = strings.TrimSpace
