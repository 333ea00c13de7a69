package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
)

type loginFlags struct {
	profile          string
	issuer           string
	resource         string
	clientID         string
	clientSecretFile string
	clientSecretEnv  string
	scopes           []string
	port             int
	noBrowser        bool
	device           bool
	mode             string
	store            string
	redisPassword    string // --redis-password-file
	redisSecretKey   string // --redis-secret-key-file
	gitHosts         []string
	gitUsername      string
	dpop             string
	timeout          time.Duration
	grant            grantFlags // the program modes (grantmode.go)
}

func (a *app) loginCommand() *cobra.Command {
	var f loginFlags
	cmd := &cobra.Command{
		Use:   "login [flags]",
		Short: "Sign in, and save the profile's settings for the other commands",
		Long: `login signs you in: in the browser through a loopback redirect (authorization
code flow with PKCE, RFC 8252), or, where no browser can be opened (an SSH
session, no display), with the device authorization grant (RFC 8628) when the
server offers it. The URL to open is always printed to stderr on a line of its
own. --no-browser only prints it; --device forces the device flow.

The first login of a profile needs the server: --issuer, or --resource alone
for a protected resource such as an MCP server (its authorization server is
found through RFC 9728). --client-id names a client registered at the server;
without it, login registers one (dynamic registration, RFC 7591, for the exact
loopback redirect URI it listens on), says which, and keeps the registration
with the tokens, so later commands use the same client. The settings are saved
in the profile, so later commands need only --profile; a later login changes
only what its flags name (but --resource alone, whose authorization server is
another than before, drops a saved --client-id, which was registered at the
old one). A login that switches the profile to another issuer, client or
resource, or to another store (--store file or keyring, and redis://…),
ends the previous sign-in once the new one is kept: its grant is revoked
where the server offers revocation, and its tokens deleted from the store
that keeps them (where its server or its store cannot be reached, they are
kept: status shows them, and the next login or a logout ends them). The
file store and the keyring share their record files: a login that moves
between them replaces the tokens, as any new login does.

The profile is saved only once the tokens are kept in the store and read back;
otherwise login exits 1 and says why. --store keyring first checks that an OS
keyring answers (as --store auto does), before signing in. A corrupt record
file is moved aside, and login says where. A client secret is read from a file
(--client-secret-file) or an environment variable (--client-secret-env), never
from a flag's value, which other users could see in the process list;
the profile keeps where to read it, never the secret.

--dpop auto (the default) binds the tokens to a key of the profile (DPoP,
RFC 9449) when the server's metadata offers DPoP with ES256: a token copied
from a log or a proxy is then worth nothing without the key. on asks for DPoP
whatever the metadata says (a server that ignores it issues bearer tokens, which
are used as such); off never uses it. The key (ECDSA P-256) is made at the
sign-in and kept with the tokens in the store, so later commands and other
processes prove with the same key; it is never printed (status shows its
thumbprint). A DPoP-bound token needs a new proof for each request: call an API
with authloop token --header METHOD URL | curl -H @- URL. git-credential and
kubectl cannot send proofs: a profile for them wants --dpop off. The profile
keeps the mode; a later login changes it only when given --dpop.

A program with no person present (a CI job, a service, an agent) gets a
profile with one grant mode, which every later command runs where a person's
profile would need a sign-in, never opening a browser: --client-credentials
(the client's own secret or key), --jwt-bearer-token-file FILE or
--jwt-bearer-token-env NAME (workload identity: the platform's token, read
again at each use, as a JWT bearer grant, RFC 7523), or --id-token-from
PROFILE (enterprise-managed authorization: the ID token of a person's profile,
signed in at the identity provider with openid, exchanged there, RFC 8693, by
the client --idp-client-id at --idp-issuer or --idp-token-url, its secret from
--idp-client-secret-file or -env, for an identity assertion presented here).
A mode needs --client-id; a person's flag (--device, --no-browser, --mode,
--port) switches the profile back to a person's sign-in. --private-key-file
authenticates the client with its private key (private_key_jwt, RFC 7523: PEM
or JWK, chmod 600, read at each run) instead of a secret, for a person's
sign-in too; --key-id and --assertion-audience name its assertions' kid and
aud. A refused identity exits 3, and never falls back to a browser.

--store rediss://[USER@]HOST:PORT[/DB] (TLS) keeps the tokens in Redis, so
that processes on several machines share one sign-in and refresh it once per
expiry (docs/SCALING.md); plain redis:// is refused but to a Redis on this
machine (127.0.0.1, ::1, localhost): the tokens and the password would cross
the network in clear. Every later command of the profile opens
Redis; while it cannot be reached they exit 4 (a command keeps nothing between
runs, so even a still-valid access token cannot be read then). The URL never
holds a password (one that does is refused): it is read at each run from the
file named by --redis-password-file (no rights for group or others: chmod 600),
else from the environment variable AUTHLOOP_REDIS_PASSWORD if it was set at
login (the profile records it; one signed in without a password sends none).
The keys start with the URL's
prefix parameter (redis://HOST:6379/0?prefix=team-a:), by default {authloop}:.
The records are sealed with AES-GCM when a secret key is given, from the file
named by --redis-secret-key-file (chmod 600) or from AUTHLOOP_REDIS_SECRET_KEY
(32 bytes in base64: head -c 32 /dev/urandom | base64); later commands then
need the same key, and refuse a record in clear (someone may have written it;
a login overwrites it). A rediss:// server whose certificate a private CA signed
is trusted with SSL_CERT_FILE=CA.pem. The profile keeps the URL and the files'
paths, never a secret.`,
		Example: `  # Sign in (browser), saving the profile "default":
  authloop login --issuer https://auth.example.com --client-id my-cli --scope "openid offline_access"

  # An MCP server: its authorization server is discovered, a client registered.
  authloop login --profile mcp --resource https://mcp.example.com/mcp

  # On a machine without a browser, approve a code on your phone:
  authloop login --profile work --device

  # Tokens in Redis, shared by a fleet; the password in a file, records sealed:
  authloop login --profile fleet --issuer https://auth.example.com --client-id fleet \
      --store rediss://authloop@redis.internal:6380/0 \
      --redis-password-file ~/.config/authloop/redis-password \
      --redis-secret-key-file ~/.config/authloop/redis-key

  # A CI job, no person present: client credentials, the secret in a file:
  authloop login --profile ci --issuer https://auth.example.com --client-id deployer \
      --client-secret-file /run/secrets/deployer --client-credentials

  # A workload's platform token (re-read at each use), with a key for the client:
  authloop login --profile agent --issuer https://auth.example.com --client-id agent \
      --jwt-bearer-token-file /var/run/secrets/tokens/authloop --private-key-file ~/.config/agent/key.pem

  # A confidential client, its secret in a file, with a fixed redirect port:
  authloop login --profile ci --issuer https://auth.example.com --client-id ci-tool \
      --client-secret-file ~/.config/ci-tool/secret --port 8085`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return classify(a.login(a.interruptible(cmd.Context()), cmd, &f), f.profile)
		},
	}
	fl := cmd.Flags()
	profileFlag(cmd, &f.profile)
	fl.StringVar(&f.issuer, "issuer", "", "the authorization server's issuer URL")
	fl.StringVar(&f.resource, "resource", "", "the protected resource (an MCP server URL): tokens are for it (RFC 8707); alone, its authorization server is discovered (RFC 9728)")
	fl.StringVar(&f.clientID, "client-id", "", "the OAuth client id registered at the server (default: register one, RFC 7591)")
	fl.StringVar(&f.clientSecretFile, "client-secret-file", "", "read the client secret from this file (confidential clients)")
	fl.StringVar(&f.clientSecretEnv, "client-secret-env", "", "read the client secret from this environment variable (its NAME)")
	fl.StringArrayVar(&f.scopes, "scope", nil, `scopes to ask for, space- or comma-separated, or repeated (e.g. "openid offline_access")`)
	fl.IntVar(&f.port, "port", 0, "fixed port of the loopback redirect http://127.0.0.1:PORT/callback (0: any free port)")
	fl.BoolVar(&f.noBrowser, "no-browser", false, "do not open a browser: print the URL and wait for the redirect")
	fl.BoolVar(&f.device, "device", false, "use the device authorization grant (RFC 8628): approve a code on any device")
	fl.StringVar(&f.mode, "mode", "", "login mode to save: auto (browser if one can open, else device), browser or device")
	fl.StringVar(&f.store, "store", "auto", "where to keep the tokens: auto (the OS keyring if one answers, else a file), keyring, file, or redis://[USER@]HOST:PORT[/DB][?prefix=P] (rediss:// for TLS; no password in it)")
	fl.StringVar(&f.redisPassword, "redis-password-file", "", "with --store redis://…: read the Redis password from this file (default: $"+redisPasswordEnv+")")
	fl.StringVar(&f.redisSecretKey, "redis-secret-key-file", "", "with --store redis://…: seal the tokens in Redis with the key in this file (default: $"+redisSecretKeyEnv+" if set)")
	fl.StringArrayVar(&f.gitHosts, "git-host", nil, "a git host (e.g. git.example.com) that \"authloop git-credential\" answers for with this profile; repeatable")
	fl.StringVar(&f.gitUsername, "git-username", "", `user name git sends with the token: "oauth2" (default; GitLab, Gitea, most forges) or "x-access-token" (GitHub)`)
	fl.StringVar(&f.dpop, "dpop", "auto", "bind the tokens to a key of the profile (DPoP, RFC 9449): auto (when the server offers it), on or off")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "how long to wait for the sign-in")
	addGrantFlags(cmd, &f.grant)
	cmd.MarkFlagsMutuallyExclusive("client-secret-file", "client-secret-env")
	cmd.MarkFlagsMutuallyExclusive("device", "no-browser")
	cmd.MarkFlagsMutuallyExclusive("device", "mode")
	return cmd
}

func (a *app) login(ctx context.Context, cmd *cobra.Command, f *loginFlags) error {
	if err := validProfileName(f.profile); err != nil {
		return usageError("%v", err)
	}
	if f.timeout <= 0 {
		// The library would wait 5 minutes for 0 and forever for less.
		return usageError("--timeout %s is not a wait: give a positive duration, such as 10m", f.timeout)
	}
	p, err := loadProfile(f.profile)
	var prev *Profile // the profile before this login, if any
	switch {
	case errors.Is(err, errNoProfile):
		p = &Profile{Name: f.profile}
	case err != nil:
		return err
	default:
		cp := *p
		prev = &cp
	}
	changed := cmd.Flags().Changed
	prevIssuer := p.Issuer
	if changed("issuer") {
		p.Issuer = strings.TrimSpace(f.issuer)
		if err := checkIssuerFlag(p.Issuer); err != nil {
			return err
		}
		if !changed("resource") {
			p.Resource = ""
		}
	}
	if changed("resource") {
		// Kept as given: the resource parameter is sent byte for byte (a
		// server that knows "https://api.example.com/" refuses the
		// canonical "https://api.example.com"); the canonical form only
		// checks it.
		res := strings.TrimSpace(f.resource)
		if _, err := discovery.CanonicalResource(res); err != nil {
			return usageError("--resource: %s", strings.TrimPrefix(err.Error(), "discovery: "))
		}
		p.Resource = res
		if !changed("issuer") {
			p.Issuer = "" // discovered below
		}
	}
	if changed("client-id") {
		p.ClientID = f.clientID
	}
	if changed("client-secret-file") {
		// Kept absolute: later commands run from other directories.
		file := f.clientSecretFile
		if file != "" {
			abs, err := filepath.Abs(file)
			if err != nil {
				return usageError("--client-secret-file %q: %v", file, err)
			}
			file = abs
		}
		p.ClientSecretFile, p.ClientSecretEnv = file, ""
	}
	if changed("client-secret-env") {
		if f.clientSecretEnv != "" && !validEnvName(f.clientSecretEnv) {
			// Never echoed: a value that is not a variable's name may be
			// the secret itself, pasted in the wrong place.
			return usageError("--client-secret-env takes the NAME of an environment variable (letters, digits and _, not starting with a digit), not the secret; the value given is not shown, as it may be the secret")
		}
		p.ClientSecretFile, p.ClientSecretEnv = "", f.clientSecretEnv
	}
	if changed("scope") {
		p.Scopes = splitScopes(f.scopes)
	}
	if changed("port") {
		if f.port < 0 || f.port > 65535 {
			return usageError("--port %d is not a port number", f.port)
		}
		p.Port = f.port
	}
	switch {
	case f.device:
		p.LoginMode, p.NoBrowser = "device", false
	case changed("mode"):
		m, err := authloop.ParseLoginMode(f.mode)
		if err != nil {
			return usageError("--mode: %v", err)
		}
		p.LoginMode = m.String()
	}
	if changed("no-browser") {
		p.NoBrowser = f.noBrowser
		if f.noBrowser {
			p.LoginMode = "browser"
		}
	}
	if changed("store") || p.Store == "" {
		if err := a.setStore(p, f, changed); err != nil {
			return err
		}
	} else if changed("redis-password-file") || changed("redis-secret-key-file") {
		if err := a.setStore(p, f, changed); err != nil {
			return err
		}
	}
	if changed("git-host") {
		p.GitHosts = nil
		for _, h := range f.gitHosts {
			h = strings.ToLower(strings.TrimSpace(h))
			if err := checkGitHost(h); err != nil {
				return err
			}
			if h != "" && !contains(p.GitHosts, h) {
				p.GitHosts = append(p.GitHosts, h)
			}
		}
	}
	if changed("git-username") {
		p.GitUsername = f.gitUsername
	}
	if changed("dpop") {
		if err := setDPoPFlag(p, f.dpop); err != nil {
			return err
		}
	}

	if err := applyGrantFlags(p, &f.grant, changed); err != nil {
		return err
	}

	if p.Issuer == "" && p.Resource == "" {
		return usageError("profile %q has no server yet: give --issuer URL, or --resource URL for a protected resource", p.Name)
	}
	if err := checkClientSettings(p); err != nil {
		return err
	}
	if _, err := p.clientSecret(); err != nil {
		return &cliError{code: exitFailure, err: err, hint: "check --client-secret-file or --client-secret-env"}
	}
	if err := checkIDTokenProfile(p); err != nil {
		return err
	}

	if p.Store == "keyring" {
		if err := checkKeyring(p.Name); err != nil {
			return err
		}
	}
	if p.Issuer == "" {
		a.ui.startSpinner("Finding the authorization server of " + p.Resource)
		mdCtx, cancelMD := context.WithTimeout(ctx, metadataTimeout) // http.DefaultClient never gives up
		prm, err := discovery.ProtectedResource(mdCtx, http.DefaultClient, p.Resource, "")
		cancelMD()
		a.ui.stopSpinner()
		if err != nil {
			return fmt.Errorf("finding the authorization server of %s (RFC 9728): %w", p.Resource, err)
		}
		p.Issuer = prm.AuthorizationServer()
		// The resource the metadata states is the one to send (RFC 9728
		// §2), as the library does for a resource without an issuer.
		p.Resource = prm.Resource
		if len(p.Scopes) == 0 {
			p.Scopes = prm.ScopesSupported
		}
		a.ui.printf("%s is protected by the authorization server %s.", p.Resource, p.Issuer)
		a.dropForeignClient(p, prevIssuer, changed("client-id") || changed("client-secret-file") || changed("client-secret-env"))
		if err := checkGrantProfile(p, nil); err != nil {
			return err // a program's client, dropped as another server's
		}
	}

	st, kind, err := openStore(p)
	if err != nil {
		return err
	}
	p.Store = kind
	replaceRecordInClear(st)
	a.endKeptBeforeLogin(ctx, st, p, prev)
	cc := &clearCorrupt{Store: st}
	cfg, err := configFor(p, keepLease(cc, st), sessionOptions{ui: a.ui, timeout: f.timeout, intr: &a.intr})
	if err != nil {
		return err
	}
	if f.noBrowser {
		cfg.Browser = authloop.NoBrowser
	}
	s, err := authloop.NewSession(cfg, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	if found, aside := cc.cleared(); found {
		what, where := "a corrupt record file", "moved it aside"
		if aside != "" {
			where += " to " + aside
		}
		if isRedisURL(p.Store) {
			// No version reads it (one of a newer schema is never cleared).
			what, where = "a corrupt record in Redis, which no version of authloop reads", "deleted it"
		}
		a.ui.printf("%s The saved tokens of profile %s could not be read (%s): %s.", a.ui.yellow("!"), a.ui.bold(p.Name), what, where)
	}

	before := s.Cached()
	start := time.Now()
	if p.Grant != "" {
		a.ui.startSpinner("Running the " + grantWords(p))
	} else {
		a.ui.startSpinner("Waiting for the sign-in")
	}
	tok, err := s.Login(ctx)
	a.ui.stopSpinner()
	var se *authloop.SaveError
	if errors.As(err, &se) && tok != nil {
		if err := a.settleSave(s, tok, err, p.Name, "signed in to "+p.Issuer, "the sign-in is lost"); err != nil {
			return err
		}
		err = nil
	}
	if err != nil && ctx.Err() != nil {
		// Stopped. A code exchange already sent is answered and its tokens
		// saved before Close returns: keep the profile that goes with them.
		if cerr := s.Close(); cerr == nil {
			if now := s.Cached(); now != nil && (before == nil || now.AccessToken != before.AccessToken) {
				notePrevious(prev, p, s.Key())
				notePrevious(savedNow(p.Name), p, s.Key())
				if perr := p.save(); perr == nil {
					a.ui.printf("The sign-in had finished at the server when it was stopped: its tokens are kept (profile %s).", a.ui.bold(p.Name))
				}
			}
		}
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return &cliError{code: exitFailure, err: fmt.Errorf("the sign-in did not finish within %s", f.timeout), hint: loginHint(p.Name) + " (and finish signing in, or give a longer --timeout)"}
		}
		if ce := noClientError(p, err); ce != nil {
			return ce
		}
		if gr := (*authloop.GrantRefusedError)(nil); errors.As(err, &gr) {
			return explainGrantRefused(err, gr, p) // the profile as this login would save it
		}
		return fmt.Errorf("signing in to %s: %w", p.Issuer, err)
	}
	if err := readBack(ctx, s, tok, start); err != nil {
		return &cliError{code: exitFailure,
			err:  fmt.Errorf("signed in to %s, but the tokens were not kept in the %s: %v", p.Issuer, s.Store().Describe(), err),
			hint: "fix the store (free space, permissions, a locked keyring); then " + loginHint(p.Name)}
	}
	notePrevious(prev, p, s.Key())
	notePrevious(savedNow(p.Name), p, s.Key())
	if err := p.save(); err != nil {
		return fmt.Errorf("signed in, but the profile was not saved: %w", err)
	}
	who := account(tok)
	if who != "" {
		who = " as " + a.ui.bold(who)
	}
	if p.Grant != "" {
		a.ui.printf("%s Obtained a token from %s with the %s (profile %s): no person, no browser.", a.ui.green("✓"), p.Issuer, grantWords(p), a.ui.bold(p.Name))
	} else {
		a.ui.printf("%s Signed in to %s%s (profile %s).", a.ui.green("✓"), p.Issuer, who, a.ui.bold(p.Name))
	}
	valid := "no expiry"
	if !tok.Expiry.IsZero() {
		valid = "valid for " + roundDuration(time.Until(tok.Expiry))
	}
	refresh := "no refresh token: you will need to sign in again when it expires"
	switch {
	case tok.RefreshToken != "":
		refresh = "refresh token held"
	case p.Grant != "":
		refresh = "authloop token runs the grant again when it expires"
	}
	a.ui.printf("  Access token %s; %s. Kept in the %s.", valid, refresh, s.Store().Describe())
	a.sayDPoP(p, s, tok)
	a.sayRegisteredClient(ctx, p, s)
	// The sign-in is kept: end the profile's previous ones (another
	// issuer, client or resource). One that cannot be ended is kept and
	// said so; the login itself succeeded.
	_ = a.endPrevious(ctx, p, s.Key(), false, prev)
	return nil
}
