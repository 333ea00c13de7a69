package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/register"
	"github.com/authloop/authloop/store"
)

// A profile without --client-id signs in as a client the library registers
// (register.Choose, in the MCP spec's order): a Client ID Metadata Document
// when the program publishes one and the server accepts them (the authloop
// command publishes none), else a dynamic registration (RFC 7591) naming the
// exact loopback redirect URI the login listens on. The registration is kept
// in the credential record with the tokens issued to it, so later commands
// (token, refresh, git-credential) present the same client; the profile
// keeps no client id.

// checkClientSettings refuses a client secret without a client id: a
// registered client gets its own secret from the server, if any.
func checkClientSettings(p *Profile) error {
	if p.ClientID == "" && (p.ClientSecretFile != "" || p.ClientSecretEnv != "") {
		return usageError("profile %q has a client secret but no client id: give --client-id with it (without --client-id, login registers a client, which gets its own secret)", p.Name)
	}
	return nil
}

// registeredClient returns the client registration kept in s's record when
// the profile names no client, or nil.
func registeredClient(ctx context.Context, p *Profile, s *authloop.Session) *store.Client {
	if p.ClientID != "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rec, err := s.Store().Load(ctx, s.Key())
	if err != nil || rec.Client == nil || rec.Client.ClientID == "" {
		return nil
	}
	return rec.Client
}

// registrationKind names how a registered client came to be.
func registrationKind(c *store.Client) string {
	if strings.HasPrefix(c.ClientID, "https://") {
		return "a Client ID Metadata Document"
	}
	return "dynamic registration, RFC 7591"
}

// sayRegisteredClient tells which client login registered (its id, never
// its secret).
func (a *app) sayRegisteredClient(ctx context.Context, p *Profile, s *authloop.Session) {
	if c := registeredClient(ctx, p, s); c != nil {
		a.ui.printf("  Client %s registered at %s (%s), kept with the tokens: later commands use it.", a.ui.bold(sanitize(c.ClientID)), p.Issuer, registrationKind(c))
		switch exp := c.ClientSecretExpiresAt; {
		case c.ClientSecret == "" || exp.IsZero():
		case register.SecretExpired(c, time.Now()):
			a.ui.printf("  %s its client secret has already expired (client_secret_expires_at %s): once the access token expires, a new login is needed (it registers anew).", a.ui.yellow("warning:"), exp.UTC().Format(time.RFC3339))
		default:
			a.ui.printf("  Its client secret expires at %s: after that, a new login is needed (it registers anew).", exp.Local().Format("2006-01-02 15:04"))
		}
	}
}

// noClientError explains a login without --client-id at a server that
// registers no client, or nil for any other error.
func noClientError(p *Profile, err error) error {
	if p.ClientID != "" || !errors.Is(err, register.ErrNoClient) {
		return nil
	}
	return &cliError{code: exitFailure,
		err:  fmt.Errorf("%s registers no clients (no dynamic registration, RFC 7591, and no Client ID Metadata Documents)", p.Issuer),
		hint: "give --client-id of a client registered there (ask its administrator)"}
}

// sayRegistrationForgotten tells, after a logout, that the client login
// registered went with the record (the record is the registration's only
// home: re-saving it alone would hide the logout from other processes,
// which take a missing record as "logged out"), and what the next login
// does.
func (a *app) sayRegistrationForgotten(reg *store.Client, s *authloop.Session) {
	if reg == nil || recordKept(s) {
		return
	}
	a.ui.printf("  The client %s registered at login is forgotten here too; the next login registers a new one.", sanitize(reg.ClientID))
}

// refusedClientError explains a login required because the server refused
// the client login registered (invalid_client on a refresh: the library
// returns that only for a registered client), or returns nil for any other
// error. A new login in a new process would take that registration from
// the record again (the authorization page then refuses it, and the login
// waits for its timeout): logout forgets it, and the next login registers
// anew.
func refusedClientError(err error, profile string) error {
	if !errors.Is(err, authloop.ErrLoginRequired) || !register.IsInvalidClient(err) {
		return nil
	}
	logout, login := "authloop logout", "authloop login"
	if profile != defaultProfile {
		logout += " --profile " + profile
		login += " --profile " + profile
	}
	return &cliError{code: exitLoginRequired,
		err:  messageError{"login required for profile " + profile + ": the server refused the client registered at login (invalid_client: it no longer knows it)", err},
		hint: "run: " + logout + ", then " + login + " (logout forgets the client; login registers a new one)"}
}

// dropForeignClient forgets the profile's client id (and where its secret
// is read from) when `login --resource URL`, naming no client, found
// another authorization server than the one the profile signed in to
// before: a client id is registered at one server and means nothing at
// another, whose authorization page would refuse it. The login then
// registers a client there, and says so.
func (a *app) dropForeignClient(p *Profile, prevIssuer string, clientFlags bool) {
	if clientFlags || p.ClientID == "" || prevIssuer == "" || discovery.SameIssuer(prevIssuer, p.Issuer) {
		return
	}
	a.ui.printf("The client id %s was for %s, not %s: registering a client there (give --client-id for one registered at %s).", sanitize(p.ClientID), prevIssuer, p.Issuer, p.Issuer)
	p.ClientID, p.ClientSecretFile, p.ClientSecretEnv = "", "", ""
}

// secretExpired reports whether the client login registered has a client
// secret that has expired: the record's refresh token cannot be presented
// as it, and a new login (which registers anew) is needed.
func secretExpired(c *store.Client) bool {
	return c != nil && register.SecretExpired(c, time.Now())
}
