package main

// Issue 18: a profile for a program with no person present. login's
// --client-credentials, --jwt-bearer-token-file (or -env) and
// --id-token-from PROFILE record a grant in the profile (Profile.Grant);
// every later command then runs it (authloop.Config.Grant) where a
// person's profile would need a sign-in, and never opens a browser.
// Secrets, keys and tokens are read from files or environment variables
// at each run, never taken from a flag's value nor kept in the profile.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
)

// The grant modes a profile records (Profile.Grant).
const (
	grantClientCredentials = "client-credentials"
	grantJWTBearer         = "jwt-bearer"
	grantEnterprise        = "enterprise"
)

// grantFlags are login's flags of the program modes.
type grantFlags struct {
	clientCredentials bool
	privateKeyFile    string
	keyID             string
	assertionAudience string
	jwtFile, jwtEnv   string
	idTokenFrom       string
	idpClientID       string
	idpIssuer         string
	idpTokenURL       string
	idpSecretFile     string
	idpSecretEnv      string
}

// addGrantFlags adds the program modes' flags to login.
func addGrantFlags(cmd *cobra.Command, g *grantFlags) {
	fl := cmd.Flags()
	fl.BoolVar(&g.clientCredentials, "client-credentials", false, "a program's profile: get tokens with the client credentials grant (RFC 6749 §4.4), no person present; the client authenticates with its secret or --private-key-file")
	fl.StringVar(&g.privateKeyFile, "private-key-file", "", "authenticate the client with the private key in this file (private_key_jwt, RFC 7523; PEM or JWK; chmod 600), instead of a secret")
	fl.StringVar(&g.keyID, "key-id", "", "with --private-key-file: the kid of the client's assertions (default: the key file's, else the key's RFC 7638 thumbprint)")
	fl.StringVar(&g.assertionAudience, "assertion-audience", "", "with --private-key-file: the aud of the client's assertions (default: the issuer)")
	fl.StringVar(&g.jwtFile, "jwt-bearer-token-file", "", "a program's profile: present the workload's token in this file (read at each use: a Kubernetes projected token) as a JWT bearer grant (RFC 7523)")
	fl.StringVar(&g.jwtEnv, "jwt-bearer-token-env", "", "like --jwt-bearer-token-file, the token read from this environment variable (its NAME) at each use")
	fl.StringVar(&g.idTokenFrom, "id-token-from", "", "enterprise-managed authorization: exchange the ID token of this PROFILE (a person signed in at the identity provider with openid) for an identity assertion, then for tokens here")
	fl.StringVar(&g.idpClientID, "idp-client-id", "", "with --id-token-from: the client id at the identity provider that makes the exchange")
	fl.StringVar(&g.idpIssuer, "idp-issuer", "", "with --id-token-from: the identity provider's issuer URL (its token endpoint is discovered)")
	fl.StringVar(&g.idpTokenURL, "idp-token-url", "", "with --id-token-from: the identity provider's token endpoint, instead of --idp-issuer")
	fl.StringVar(&g.idpSecretFile, "idp-client-secret-file", "", "with --id-token-from: read the identity provider client's secret from this file")
	fl.StringVar(&g.idpSecretEnv, "idp-client-secret-env", "", "with --id-token-from: read the identity provider client's secret from this environment variable (its NAME)")
	cmd.MarkFlagsMutuallyExclusive("jwt-bearer-token-file", "jwt-bearer-token-env")
	cmd.MarkFlagsMutuallyExclusive("idp-issuer", "idp-token-url")
	cmd.MarkFlagsMutuallyExclusive("idp-client-secret-file", "idp-client-secret-env")
}

// personFlags are login's flags of a person's sign-in, which a program's
// profile has no use for.
var personFlags = []string{"device", "no-browser", "mode", "port"}

// applyGrantFlags writes login's program-mode flags into p, and refuses
// the combinations that make no sense (usage errors naming the fix). It
// runs after the client flags are applied. A person's flag (--device,
// --no-browser, --mode, --port) alone switches a program's profile back
// to a person's sign-in.
func applyGrantFlags(p *Profile, g *grantFlags, changed func(string) bool) error {
	var modes []string
	if changed("client-credentials") && g.clientCredentials {
		modes = append(modes, "--client-credentials")
	}
	for _, f := range []string{"jwt-bearer-token-file", "jwt-bearer-token-env", "id-token-from"} {
		if changed(f) {
			modes = append(modes, "--"+f)
		}
	}
	if len(modes) > 1 {
		return usageError("%s and %s are two modes of a program's profile, which runs one grant: give one of them", modes[0], modes[1])
	}
	var person []string
	for _, f := range personFlags {
		if changed(f) {
			person = append(person, "--"+f)
		}
	}
	if len(modes) == 1 && len(person) > 0 {
		return usageError("%s is for a person's sign-in, and %s gets tokens with no person present: leave out %s", person[0], modes[0], person[0])
	}

	// Client authentication: a secret or a key, the one given replacing
	// the other.
	secretGiven := changed("client-secret-file") || changed("client-secret-env")
	if changed("private-key-file") {
		file := strings.TrimSpace(g.privateKeyFile)
		if looksLikeKey(file) {
			return usageError("--private-key-file takes the PATH of the key's file, not the key; the value given is not shown, as it may be the key")
		}
		if file != "" {
			if secretGiven {
				return usageError("--private-key-file and a client secret are two ways for the client to authenticate: give one (the key, or --client-secret-file / --client-secret-env)")
			}
			abs, err := filepath.Abs(file)
			if err != nil {
				return usageError("--private-key-file %q: %v", file, err)
			}
			file = abs
			p.ClientSecretFile, p.ClientSecretEnv = "", ""
		}
		p.PrivateKeyFile = file
		if file == "" {
			p.KeyID, p.AssertionAudience = "", ""
		}
	} else if secretGiven && (p.ClientSecretFile != "" || p.ClientSecretEnv != "") {
		p.PrivateKeyFile, p.KeyID, p.AssertionAudience = "", "", ""
	}
	if changed("key-id") {
		p.KeyID = g.keyID
	}
	if changed("assertion-audience") {
		aud := strings.TrimSpace(g.assertionAudience)
		if aud != "" && !absoluteURL(aud) {
			return usageError("--assertion-audience %q is not a URL: give the issuer or the token endpoint of the authorization server, such as https://auth.example.com", aud)
		}
		p.AssertionAudience = aud
	}
	if p.PrivateKeyFile == "" && (p.KeyID != "" || p.AssertionAudience != "") {
		f := "--key-id"
		if p.KeyID == "" {
			f = "--assertion-audience"
		}
		return usageError("%s goes with --private-key-file FILE: it names the assertions that key signs", f)
	}

	// The mode.
	switch {
	case len(person) > 0 && p.Grant != "":
		p.clearGrant() // back to a person's sign-in
	case changed("client-credentials"):
		if g.clientCredentials {
			p.clearGrant()
			p.Grant = grantClientCredentials
		} else if p.Grant == grantClientCredentials {
			p.clearGrant()
		}
	case changed("jwt-bearer-token-file"):
		file := strings.TrimSpace(g.jwtFile)
		if looksLikeJWT(file) {
			return usageError("--jwt-bearer-token-file takes the PATH of the file that holds the workload's token, not the token; the value given is not shown, as it may be the token")
		}
		if file == "" {
			if p.Grant == grantJWTBearer {
				p.clearGrant()
			}
			break
		}
		abs, err := filepath.Abs(file)
		if err != nil {
			return usageError("--jwt-bearer-token-file %q: %v", file, err)
		}
		p.clearGrant()
		p.Grant, p.JWTBearerTokenFile = grantJWTBearer, abs
	case changed("jwt-bearer-token-env"):
		if g.jwtEnv != "" && !validEnvName(g.jwtEnv) {
			return usageError("--jwt-bearer-token-env takes the NAME of an environment variable (letters, digits and _, not starting with a digit), not the token; the value given is not shown, as it may be the token")
		}
		if g.jwtEnv == "" {
			if p.Grant == grantJWTBearer {
				p.clearGrant()
			}
			break
		}
		p.clearGrant()
		p.Grant, p.JWTBearerTokenEnv = grantJWTBearer, g.jwtEnv
	case changed("id-token-from"):
		if g.idTokenFrom == "" {
			if p.Grant == grantEnterprise {
				p.clearGrant()
			}
			break
		}
		if err := validProfileName(g.idTokenFrom); err != nil {
			return usageError("--id-token-from %q is not a profile name: give the profile signed in at the identity provider", g.idTokenFrom)
		}
		p.clearGrant()
		p.Grant, p.IDTokenFrom = grantEnterprise, g.idTokenFrom
	}

	// The identity provider's client, for the enterprise mode.
	idpFlags := []string{"idp-client-id", "idp-issuer", "idp-token-url", "idp-client-secret-file", "idp-client-secret-env"}
	for _, f := range idpFlags {
		if changed(f) && p.Grant != grantEnterprise {
			return usageError("--%s goes with --id-token-from PROFILE (enterprise-managed authorization): it names the identity provider's client", f)
		}
	}
	if changed("idp-client-id") {
		p.IdPClientID = g.idpClientID
	}
	if changed("idp-issuer") {
		iss := strings.TrimSpace(g.idpIssuer)
		if err := checkIssuerFlag(iss); err != nil {
			return usageError("--idp-issuer %q must be the identity provider's issuer: an https URL (http only on a loopback host) without query or fragment", iss)
		}
		p.IdPIssuer, p.IdPTokenURL = iss, ""
	}
	if changed("idp-token-url") {
		u := strings.TrimSpace(g.idpTokenURL)
		if u != "" && !endpointURL(u) {
			return usageError("--idp-token-url %q must be an https URL (http only on a loopback host): the identity provider's token endpoint", u)
		}
		p.IdPTokenURL, p.IdPIssuer = u, ""
	}
	if changed("idp-client-secret-file") {
		file := g.idpSecretFile
		if file != "" {
			abs, err := filepath.Abs(file)
			if err != nil {
				return usageError("--idp-client-secret-file %q: %v", file, err)
			}
			file = abs
		}
		p.IdPClientSecretFile, p.IdPClientSecretEnv = file, ""
	}
	if changed("idp-client-secret-env") {
		if g.idpSecretEnv != "" && !validEnvName(g.idpSecretEnv) {
			return usageError("--idp-client-secret-env takes the NAME of an environment variable (letters, digits and _, not starting with a digit), not the secret; the value given is not shown, as it may be the secret")
		}
		p.IdPClientSecretFile, p.IdPClientSecretEnv = "", g.idpSecretEnv
	}
	return checkGrantProfile(p, modes)
}

// checkGrantProfile checks what a program's profile needs once login's
// flags are applied; given are the mode flags of this login, for the
// messages.
func checkGrantProfile(p *Profile, given []string) error {
	if p.Grant == "" {
		return nil
	}
	flag := "the profile's grant (" + p.Grant + ")"
	if len(given) > 0 {
		flag = given[0]
	}
	if p.ClientID == "" {
		return usageError("%s needs --client-id: a program's client is registered at the authorization server by its administrator (login registers a client only for a person)", flag)
	}
	secret := p.ClientSecretFile != "" || p.ClientSecretEnv != ""
	if p.Grant == grantClientCredentials && !secret && p.PrivateKeyFile == "" {
		return usageError("--client-credentials needs the client's own credentials: its secret (--client-secret-file FILE or --client-secret-env NAME) or its key (--private-key-file FILE)")
	}
	if p.Grant == grantEnterprise {
		switch {
		case p.IDTokenFrom == p.Name:
			return usageError("--id-token-from %s names this profile: give the profile of the person signed in at the identity provider (authloop login --profile corp --issuer IDP --scope openid)", p.IDTokenFrom)
		case p.IdPClientID == "":
			return usageError("--id-token-from needs the identity provider's client: give --idp-client-id, and --idp-issuer or --idp-token-url")
		case p.IdPIssuer == "" && p.IdPTokenURL == "":
			return usageError("--id-token-from needs where the identity provider's token endpoint is: give --idp-issuer URL (discovered) or --idp-token-url URL")
		}
	}
	return nil
}

// checkIDTokenProfile checks, at login, the profile an enterprise
// profile takes its ID token from: it exists, it is a person's, and it
// asks for openid.
func checkIDTokenProfile(p *Profile) error {
	if p.Grant != grantEnterprise {
		return nil
	}
	from, err := loadProfile(p.IDTokenFrom)
	if errors.Is(err, errNoProfile) {
		return &cliError{code: exitLoginRequired, err: fmt.Errorf("--id-token-from %s: there is no profile %s to take the ID token from", p.IDTokenFrom, p.IDTokenFrom),
			hint: "sign the person in at the identity provider first: authloop login --profile " + p.IDTokenFrom + " --issuer IDP-URL --client-id ID --scope openid"}
	}
	if err != nil {
		return err
	}
	if from.Grant != "" {
		return usageError("--id-token-from %s names a program's profile (%s), which has no person's ID token: give a profile signed in by a person at the identity provider", from.Name, from.Grant)
	}
	if len(from.Scopes) > 0 && !slices.Contains(from.Scopes, "openid") {
		return usageError("profile %s does not ask for openid, so it holds no ID token: run: authloop login --profile %s --scope \"openid %s\"", from.Name, from.Name, strings.Join(from.Scopes, " "))
	}
	return nil
}

// clearGrant makes p a person's profile again: no grant, nor where its
// assertions came from. The client's key stays: it authenticates a
// person's sign-in too.
func (p *Profile) clearGrant() {
	p.Grant = ""
	p.JWTBearerTokenFile, p.JWTBearerTokenEnv = "", ""
	p.IDTokenFrom, p.IdPClientID, p.IdPIssuer, p.IdPTokenURL = "", "", "", ""
	p.IdPClientSecretFile, p.IdPClientSecretEnv = "", ""
}

// grantBadField says which grant field of a profile read from its file
// has a value login never writes, or returns "".
func (p *Profile) grantBadField() string {
	switch p.Grant {
	case "":
		return ""
	case grantClientCredentials:
	case grantJWTBearer:
		if p.JWTBearerTokenFile == "" && p.JWTBearerTokenEnv == "" {
			return "grant jwt-bearer needs jwt_bearer_token_file or jwt_bearer_token_env"
		}
	case grantEnterprise:
		if validProfileName(p.IDTokenFrom) != nil || p.IdPClientID == "" || p.IdPIssuer == "" && p.IdPTokenURL == "" {
			return "grant enterprise needs id_token_from (a profile name), idp_client_id, and idp_issuer or idp_token_url"
		}
	default:
		return fmt.Sprintf("grant %q is not client-credentials, jwt-bearer or enterprise", p.Grant)
	}
	if p.ClientID == "" {
		return "grant " + p.Grant + " needs a client_id"
	}
	return ""
}

// grantKeyOf is the name the library gives profile p's grant in its
// record's key (store.Key.Grant), "" for a person's profile.
func grantKeyOf(p *Profile) string {
	switch p.Grant {
	case grantClientCredentials:
		return "client_credentials"
	case grantJWTBearer:
		return "jwt-bearer"
	case grantEnterprise:
		return "id-jag"
	}
	return ""
}

// grantOf builds the library's Grant of profile p, or nil for a person's
// profile. Nothing is read yet: the workload's token and the ID token are
// read at each use.
func grantOf(p *Profile) (authloop.Grant, error) {
	switch p.Grant {
	case "":
		return nil, nil
	case grantClientCredentials:
		return authloop.ClientCredentials(), nil
	case grantJWTBearer:
		if p.JWTBearerTokenFile != "" {
			return authloop.JWTBearer(workloadToken(authloop.AssertionFile(p.JWTBearerTokenFile), "--jwt-bearer-token-file", p.JWTBearerTokenFile)), nil
		}
		return authloop.JWTBearer(workloadToken(envAssertion(p.JWTBearerTokenEnv), "--jwt-bearer-token-env", "$"+shownEnvName(p.JWTBearerTokenEnv))), nil
	case grantEnterprise:
		secret, err := readSecret(p.IdPClientSecretFile, p.IdPClientSecretEnv, "the identity provider client's secret")
		if err != nil {
			return nil, &cliError{code: exitFailure, err: err, hint: "check --idp-client-secret-file or --idp-client-secret-env with authloop login --profile " + p.Name}
		}
		idp := &authloop.Config{
			OAuth2: &oauth2.Config{
				ClientID:     p.IdPClientID,
				ClientSecret: secret,
				Endpoint:     oauth2.Endpoint{TokenURL: p.IdPTokenURL},
			},
			Issuer: p.IdPIssuer,
		}
		return authloop.IdentityAssertion(idp, idTokenOfProfile(p.IDTokenFrom)), nil
	}
	return nil, fmt.Errorf("profile %s: grant %q is not client-credentials, jwt-bearer or enterprise", p.Name, p.Grant)
}

// workloadToken is src, whose failures (a file not there yet, a variable
// not set) are *workloadTokenError naming where the token is read and
// login's flag that names it.
func workloadToken(src authloop.AssertionSource, flag, where string) authloop.AssertionSource {
	return func(ctx context.Context) (string, error) {
		a, err := src(ctx)
		if err != nil {
			return "", &workloadTokenError{flag: flag, where: where, err: err}
		}
		return a, nil
	}
}

// workloadTokenError reports that the workload's token could not be read.
// It does not unwrap: a file's error is this machine's, never a server's
// to retry.
type workloadTokenError struct {
	flag  string // "--jwt-bearer-token-file"
	where string // its path, or "$NAME"
	err   error
}

func (e *workloadTokenError) Error() string {
	return "the workload's token could not be read from " + e.where + ": " + e.err.Error()
}

// envAssertion reads the workload's token from the environment variable
// name at each use.
func envAssertion(name string) authloop.AssertionSource {
	return func(context.Context) (string, error) {
		v := strings.TrimSpace(os.Getenv(name))
		if v == "" {
			return "", fmt.Errorf("the environment variable %s, which should hold the workload's token, is empty", shownEnvName(name))
		}
		return v, nil
	}
}

// readSecret reads a secret (what: "the client secret") from file or the
// environment variable env (at most one is set), or returns "" when
// neither is.
func readSecret(file, env, what string) (string, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", what, err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", fmt.Errorf("%s file %s is empty", what, file)
		}
		return s, nil
	case env != "":
		s := os.Getenv(env)
		if s == "" {
			return "", fmt.Errorf("the environment variable %s, which should hold %s, is empty", shownEnvName(env), what)
		}
		return s, nil
	}
	return "", nil
}

// idTokenSessions are the sessions of the profiles whose ID tokens this
// run exchanged (enterprise mode): closed at the end of the command.
var idTokenSessions struct {
	mu   sync.Mutex
	open []*authloop.Session
}

// closeIDTokenSessions closes the sessions idTokenOfProfile opened.
func closeIDTokenSessions() {
	idTokenSessions.mu.Lock()
	open := idTokenSessions.open
	idTokenSessions.open = nil
	idTokenSessions.mu.Unlock()
	for _, s := range open {
		_ = s.Close()
	}
}

// idTokenOfProfile is the ID token of profile name's session, opened at
// the first use (a command that only reads the record opens nothing):
// authloop.IDTokenOf, which refreshes it when it has expired. A failure
// of that profile is an *idTokenProfileError, so that the person is told
// to fix that profile, not this one.
func idTokenOfProfile(name string) authloop.AssertionSource {
	var (
		mu  sync.Mutex
		src authloop.AssertionSource
	)
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		if src == nil {
			_, s, err := openSession(name, sessionOptions{})
			if err != nil {
				mu.Unlock()
				return "", &idTokenProfileError{profile: name, err: err}
			}
			idTokenSessions.mu.Lock()
			idTokenSessions.open = append(idTokenSessions.open, s)
			idTokenSessions.mu.Unlock()
			src = authloop.IDTokenOf(s)
		}
		mu.Unlock()
		id, err := src(ctx)
		if err != nil {
			return "", &idTokenProfileError{profile: name, err: err}
		}
		return id, nil
	}
}

// idTokenProfileError is a failure of the profile an enterprise profile
// takes its ID token from. It does not unwrap: the library must not take
// that profile's refused refresh token (invalid_grant) for a refusal of
// this profile's grant; classify explains err as that profile's.
type idTokenProfileError struct {
	profile string
	err     error
}

func (e *idTokenProfileError) Error() string {
	return "the ID token of profile " + e.profile + ": " + e.err.Error()
}

// looksLikeJWT reports whether s, given where a path or a name belongs,
// looks like a JWT (three base64url parts): the token itself, pasted in
// the wrong place.
func looksLikeJWT(s string) bool {
	return strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2
}

// looksLikeKey reports whether s, given where a path belongs, looks like
// a key: a PEM block or a JWK.
func looksLikeKey(s string) bool {
	return strings.Contains(s, "-----BEGIN") || strings.HasPrefix(s, "{") || strings.Contains(s, "PRIVATE KEY")
}

// absoluteURL reports whether s is an absolute http(s) URL.
func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// endpointURL reports whether s can be an endpoint: https, or http on a
// loopback host.
func endpointURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		ip := net.ParseIP(h)
		return h == "localhost" || ip != nil && ip.IsLoopback()
	}
	return false
}

// grantWords says what profile p's grant is, for status and login: never
// a secret, only where it is read from.
func grantWords(p *Profile) string {
	switch p.Grant {
	case grantClientCredentials:
		return "client credentials grant"
	case grantJWTBearer:
		if p.JWTBearerTokenFile != "" {
			return "JWT bearer grant (workload token from " + p.JWTBearerTokenFile + ")"
		}
		return "JWT bearer grant (workload token from $" + shownEnvName(p.JWTBearerTokenEnv) + ")"
	case grantEnterprise:
		return "enterprise-managed authorization (the ID token of profile " + p.IDTokenFrom + ")"
	}
	return ""
}
