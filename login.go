// Login through the browser: the authorization code flow (RFC 6749 §4.1)
// with PKCE S256 (RFC 7636) and a loopback redirect (RFC 8252 §7.3), the
// resource (RFC 8707) and iss checked (RFC 9207).

package authloop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/callback"
	"github.com/authloop/authloop/internal/urlrule"
	"github.com/authloop/authloop/oautherr"
	"github.com/authloop/authloop/register"
)

// Login signs the person in with the authorization code flow and PKCE
// (S256, always) through a loopback redirect (RFC 8252):
//
//  1. it listens on http://127.0.0.1:PORT/callback (see Config.OAuth2.RedirectURL);
//  2. builds the authorization URL with client_id, scope, state,
//     code_challenge, resource (RFC 8707) and Config.AuthParams;
//  3. opens it with Config.Browser, and prints it to Config.Prompt so the
//     person can open it by hand when no browser opens;
//  4. waits for the redirect, checking state (in the callback package) and
//     iss (RFC 9207) against Config.Issuer;
//  5. exchanges the code with the verifier, the redirect URI and resource.
//
// The token keeps the response's other fields, reachable with Extra
// ("id_token", "scope", ...); Extra("scope") is the granted scope, the
// requested one when the server did not say. An error response from the
// server is an *OAuthError (errors.As); a refused iss an
// *IssuerMismatchError; ctx's end or the login timeout end the wait.
//
// Login keeps nothing, so it proves possession of a DPoP key (RFC 9449)
// only with Config.DPoPKey, the program's own key, which the program then
// gives to NewSession with the token; otherwise it asks for bearer tokens.
// A Session (Session.Login, or Token with Config.Interactive) makes, keeps
// and shares its key itself.
func Login(ctx context.Context, cfg *Config) (*oauth2.Token, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.protectedResourceMode() || cfg.OAuth2.ClientID == "" {
		// Discovery through the resource, or client registration: the
		// session's machinery does it, in memory.
		c := *cfg
		c.Store = nil
		c.DisableAutoRefresh = true
		if c.DPoPKey == nil {
			c.DPoP = DPoPOff // a key made here would be lost with the session
		}
		s, err := NewSession(&c, nil)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		tok, err := s.Login(ctx)
		if err == nil && cfg.protectedResourceMode() {
			if md := s.authServerMeta(); md != nil {
				// A Session given this token refreshes it only there.
				extra := extraOf(tok)
				extra[issuerKey] = md.Issuer
				tok = withExtra(tok, extra)
			}
		}
		return tok, err
	}
	cfg, _, err := cfg.resolve(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.DPoPKey != nil {
		c := *cfg
		c.dp = newDPoPClient(cfg)
		cfg = &c
	}
	tok, err := cfg.login(ctx)
	if err != nil {
		return nil, err
	}
	return markSignedIn(tok, cfg.now()), nil
}

// login runs Login on a validated configuration with its endpoints known,
// through the device flow or the loopback redirect (Config.LoginMode).
func (cfg *Config) login(ctx context.Context) (*oauth2.Token, error) {
	endpoint, forced, err := cfg.chooseDevice(ctx)
	if err != nil {
		return nil, err
	}
	if endpoint != "" {
		dc := cfg
		if cfg.registrar != nil && cfg.OAuth2.ClientID == "" {
			// The device flow uses no redirect URI: the client is
			// registered with the default one.
			if dc, err = cfg.registrar.forRedirect(ctx, cfg, register.DefaultRedirectURI); err != nil {
				return nil, err
			}
		}
		tok, err := dc.deviceLogin(ctx, endpoint)
		var oe *oautherr.Error
		if forced || err == nil || !errors.As(err, &oe) || oe.Endpoint != "device_authorization" {
			return tok, err
		}
		// LoginAuto: the server refused this client the device flow.
		cfg.logger().Debug("authloop: device authorization refused; using the loopback flow", "error", err.Error())
	}
	return cfg.loopbackLogin(ctx)
}

// loopbackLogin runs the authorization code flow with PKCE through the
// loopback redirect receiver.
func (cfg *Config) loopbackLogin(ctx context.Context) (*oauth2.Token, error) {
	log := cfg.logger()
	state, err := randomString(32)
	if err != nil {
		return nil, err
	}
	verifier := oauth2.GenerateVerifier()

	cc, err := cfg.callbackConfig(state)
	if err != nil {
		return nil, err
	}
	rcv, err := cfg.listen(cc)
	if err != nil {
		return nil, fmt.Errorf("authloop: starting the loopback redirect receiver: %w", err)
	}
	defer rcv.Close()
	redirectURI := rcv.RedirectURI()
	if cfg.registrar != nil {
		// A dynamically registered client: registered for exactly this
		// redirect URI, port included, before the server sees it.
		if cfg, err = cfg.registrar.forRedirect(ctx, cfg, redirectURI); err != nil {
			return nil, err
		}
	}
	authURL := cfg.authCodeURL(redirectURI, state, verifier)
	log.Debug("authloop: login started", "redirect_uri", redirectURI, "authorization_endpoint", urlrule.RedactURL(cfg.OAuth2.Endpoint.AuthURL))

	open := cfg.Browser
	if open == nil {
		open = SystemBrowser
	}
	w := cfg.prompt()
	if err := open(ctx, authURL); err == ErrNoBrowser {
		// NoBrowser, or another opener that chose not to open one: no
		// failure to report.
		log.Debug("authloop: no browser opened", "reason", "none wanted")
		fmt.Fprintf(w, "Open this URL to sign in:\n\n%s\n\n", authURL)
	} else if err != nil {
		log.Debug("authloop: no browser opened", "reason", err.Error())
		fmt.Fprintf(w, "Could not open a browser (%v).\nOpen this URL to sign in:\n\n%s\n\n", browserReason(err), authURL)
	} else {
		fmt.Fprintf(w, "Your browser has been opened to sign in. If it did not open, visit:\n\n%s\n\n", authURL)
	}

	resp, err := rcv.Wait(ctx)
	if resp != nil {
		if ierr := cfg.checkIssuer(resp.Issuer); ierr != nil {
			return nil, ierr
		}
	}
	if err != nil {
		var oe *oautherr.Error
		if errors.As(err, &oe) {
			return nil, fmt.Errorf("authloop: the authorization server refused the sign-in: %w", err)
		}
		return nil, fmt.Errorf("authloop: waiting for the sign-in to finish: %w", err)
	}
	log.Debug("authloop: authorization response received", "iss", resp.Issuer)

	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {resp.Code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
	}
	if cfg.Resource != "" {
		form.Set("resource", cfg.Resource)
	}
	// The code is spent once this is sent: a stop (Close, Ctrl+C) from
	// here on waits for the answer, which holds the new grant.
	exCtx, cancel := answeredContext(ctx, exchangeTimeout)
	defer cancel()
	tok, err := cfg.tokenRequest(exCtx, form, keepFields{scope: strings.Join(cfg.OAuth2.Scopes, " ")})
	if err != nil {
		return nil, fmt.Errorf("authloop: exchanging the authorization code: %w", err)
	}
	log.Debug("authloop: login complete", "expiry", tok.Expiry, "refresh_token", tok.RefreshToken != "")
	return tok, nil
}

// listen starts the loopback redirect receiver: on the port of the
// client's dynamic registration first, when the configuration leaves the
// port free (a server that compares redirect URIs exactly then accepts the
// login as registered), else, or when that port cannot be had (another
// program holds it), where cc says.
func (cfg *Config) listen(cc callback.Config) (*callback.Receiver, error) {
	if cfg.registrar != nil {
		if addr := cfg.registrar.preferredAddr(cc); addr != "" {
			pc := cc
			pc.Addr = addr
			rcv, err := callback.Listen(pc)
			if err == nil {
				return rcv, nil
			}
			cfg.logger().Debug("authloop: the registered redirect port is taken; listening on another, to be registered", "addr", addr, "error", err.Error())
		}
	}
	return callback.Listen(cc)
}

// authCodeURL builds the authorization request (RFC 6749 §4.1.1 with PKCE,
// RFC 7636, and resource, RFC 8707), keeping any query the AuthURL has.
func (c *Config) authCodeURL(redirectURI, state, verifier string) string {
	oc := c.OAuth2
	u, _ := url.Parse(oc.Endpoint.AuthURL) // validated before
	q := u.Query()
	for k, vs := range c.AuthParams {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	q.Set("response_type", "code")
	q.Set("client_id", oc.ClientID)
	q.Set("redirect_uri", redirectURI)
	q.Set("state", state)
	q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))
	q.Set("code_challenge_method", "S256")
	if len(oc.Scopes) > 0 {
		q.Set("scope", strings.Join(oc.Scopes, " "))
	}
	if c.Resource != "" {
		q.Set("resource", c.Resource)
	}
	if jkt := c.dp.thumbprint(); jkt != "" {
		// The code is bound to the key that will redeem it (RFC 9449 §10).
		q.Set("dpop_jkt", jkt)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func browserReason(err error) string {
	if errors.Is(err, ErrNoBrowser) {
		if s := strings.TrimPrefix(err.Error(), ErrNoBrowser.Error()); s != "" {
			return strings.TrimPrefix(s, ": ")
		}
		return "none configured"
	}
	return err.Error()
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("authloop: reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
