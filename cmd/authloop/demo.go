package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/oauthtest"
)

// demoTokenTTL is the access tokens' lifetime in the full demo: short, so a
// person watches the Session renew them.
const demoTokenTTL = 10 * time.Second

// demoOptions are the demo's flags.
type demoOptions struct {
	noBrowser bool
	short     bool
	timeout   time.Duration
	verbose   bool
}

// runDemo starts the embedded authorization server and signs in against it,
// through the person's browser or, with --no-browser or where no browser
// can be opened, headless. Unless --short, it then keeps the session alive
// through background refreshes, a burst of 503s and a revoked grant. It
// prints each step in plain words and never a token.
func runDemo(ctx context.Context, o demoOptions, stdout, stderr io.Writer) int {
	d := &demo{
		p:       newPrinter(stdout),
		short:   o.short,
		timeout: o.timeout,
		observe: tokenObserverFrom(ctx),
	}
	d.headless.Store(o.noBrowser)
	if o.verbose {
		d.logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	err := d.run(ctx)
	d.p.clear()
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "\nauthloop demo: interrupted; the session and the test server are stopped.")
		return 1
	default:
		fmt.Fprintf(stderr, "\nauthloop: %s\nrun: authloop demo --verbose to log each of its steps\n", tidy("the demo failed: "+err.Error()))
		return 1
	}
}

// tokenObserverKey carries, in tests, a function that sees every token the
// demo holds, so a test can check that none of them is printed.
type tokenObserverKey struct{}

func withTokenObserver(ctx context.Context, f func(*oauth2.Token)) context.Context {
	return context.WithValue(ctx, tokenObserverKey{}, f)
}

func tokenObserverFrom(ctx context.Context) func(*oauth2.Token) {
	if f, ok := ctx.Value(tokenObserverKey{}).(func(*oauth2.Token)); ok && f != nil {
		return f
	}
	return func(*oauth2.Token) {}
}

type demo struct {
	p       *printer
	short   bool
	timeout time.Duration
	logger  *slog.Logger
	observe func(*oauth2.Token)

	headless atomic.Bool  // no system browser: Browse plays it
	relogin  atomic.Bool  // the Session signs in again: always headless
	relogins atomic.Int32 // sign-ins the Session started
	browsers sync.WaitGroup
}

func (d *demo) run(ctx context.Context) error {
	d.p.plain("authloop demo: an OAuth 2.1 sign-in (authorization code + PKCE, loopback redirect)")
	d.p.plain("against an authorization server that runs inside this process. Nothing leaves this machine.")
	d.p.plain("")

	ttl := demoTokenTTL
	if d.short {
		ttl = time.Hour
	}
	srv := oauthtest.NewServer(oauthtest.Config{Consent: !d.headless.Load(), AccessTokenTTL: ttl})
	// Our own transport, so that its idle connections can be closed at the
	// end: the demo leaves nothing running.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer func() {
		srv.Close()
		d.browsers.Wait()
		tr.CloseIdleConnections()
	}()
	httpClient := &http.Client{
		Transport: tr,
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}

	d.p.plain("Part 1: signing in")
	d.p.plain("")
	d.p.say("Started a test authorization server at %s.", srv.Issuer())
	d.p.detail("public client %q, PKCE S256 required, refresh tokens rotate", srv.ClientID())

	cfg := &authloop.Config{
		OAuth2: &oauth2.Config{
			ClientID: srv.ClientID(),
			Endpoint: srv.Endpoint(),
			Scopes:   []string{"openid", "offline_access", "read"},
		},
		Issuer:        srv.Issuer(),
		RequireIssuer: true,
		AppName:       "the authloop demo",
		HTTPClient:    httpClient,
		LoginTimeout:  d.timeout,
		Prompt:        io.Discard,
		Browser:       d.browser(),
		Logger:        d.logger,
	}

	start := time.Now()
	tok, err := authloop.Login(ctx, cfg)
	if err != nil {
		return err
	}
	d.observe(tok)
	d.p.say("The redirect arrived on the loopback listener: state matched, iss named our server (RFC 9207).")
	d.p.say("Exchanged the code (with its PKCE verifier) for tokens in %s:", time.Since(start).Round(time.Millisecond))
	d.p.detail("access token   %s, type %s, valid for %s", authloop.Fingerprint(tok.AccessToken), tok.Type(), lifetime(tok))
	if tok.RefreshToken != "" {
		d.p.detail("refresh token  %s (kept to renew the access token without asking you again)", authloop.Fingerprint(tok.RefreshToken))
	} else {
		d.p.detail("refresh token  none")
	}
	if s, ok := tok.Extra("scope").(string); ok {
		d.p.detail("scope          %s", s)
	}
	d.p.detail("(tokens are shown as fingerprints: authloop never prints a token)")

	status, err := callAPI(ctx, &http.Client{Transport: tr, Timeout: 10 * time.Second}, srv.ResourceEndpoint(), tok)
	if err != nil {
		return fmt.Errorf("calling the protected API: %w", err)
	}
	d.p.say("Called the protected API %s with access token %s: HTTP %d.", srv.ResourceEndpoint(), authloop.Fingerprint(tok.AccessToken), status)
	if status != http.StatusOK {
		return fmt.Errorf("the protected API answered HTTP %d, want 200", status)
	}

	if d.short {
		d.p.plain("")
		d.p.plain("Done: signed in, tokens in hand, API call authorized.")
		d.p.plain("(Run without --short to watch authloop keep the session alive.)")
		return nil
	}
	if err := d.keepAlive(ctx, srv, cfg, tok); err != nil {
		return err
	}
	d.p.plain("")
	d.p.plain("Done: signed in once, and the session stayed alive through background refreshes,")
	d.p.plain("rotated refresh tokens, a burst of server errors and a revoked grant.")
	return nil
}

// browser returns the demo's way to open the authorization URL: the
// system browser unless headless, falling back to an HTTP client that acts
// as a browser whose user approves. A second sign-in by the Session always
// runs headless, to keep the demo short.
func (d *demo) browser() authloop.Browser {
	return func(ctx context.Context, authURL string) error {
		if d.relogin.Load() {
			d.relogins.Add(1)
			d.browse(ctx, authURL)
			return nil
		}
		d.p.say("Built the authorization URL (client_id, scope, state, PKCE code_challenge S256):")
		d.p.detail("%s", shorten(authURL, 120))
		if !d.headless.Load() {
			err := authloop.SystemBrowser(ctx, authURL)
			if err == nil {
				d.p.say("Opened your browser. Approve the request there; the demo waits for the redirect.")
				return nil
			}
			d.p.say("No browser could be opened here (%v); going on headless.", err)
			d.headless.Store(true)
			// The consent page needs a person; Browse approves it.
		}
		d.p.say("Following the authorization URL with an HTTP client, as a browser would (headless).")
		d.browse(ctx, authURL)
		return nil
	}
}

// browse plays the person's browser in the background; the result arrives
// through the loopback callback, and Login reports failures.
func (d *demo) browse(ctx context.Context, authURL string) {
	d.browsers.Add(1)
	go func() {
		defer d.browsers.Done()
		_, _, _ = oauthtest.Browse(ctx, nil, authURL)
	}()
}

func callAPI(ctx context.Context, client *http.Client, endpoint string, tok *oauth2.Token) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return 0, err
	}
	if tok != nil {
		tok.SetAuthHeader(req)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// lifetime is how long tok was issued for: expires_in when the server sent
// it, else what is left until its expiry.
func lifetime(tok *oauth2.Token) time.Duration {
	if tok.ExpiresIn > 0 {
		return time.Duration(tok.ExpiresIn) * time.Second
	}
	if tok.Expiry.IsZero() {
		return 0
	}
	return time.Until(tok.Expiry).Round(time.Second)
}

// shorten keeps the start of a long URL for display.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
