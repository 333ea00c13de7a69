package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/store"
)

// profileVersion is the schema of the profile files.
const profileVersion = 1

// defaultProfile is the profile used without --profile.
const defaultProfile = "default"

// Profile is what `authloop login` keeps so that later commands need only
// --profile: where to sign in, as which client, and how. It never holds a
// secret: the client secret is read, each time it is needed, from the file
// or the environment variable the profile names.
//
// It lives in <config dir>/authloop/profiles/<name>.json (0600, in a 0700
// directory), beside the credential records.
type Profile struct {
	Version int `json:"version"`
	// Name is the profile's name; also the Account of its credential
	// record, so two profiles at one issuer are separate sign-ins.
	Name string `json:"name"`

	// Issuer is the authorization server's issuer identifier.
	Issuer string `json:"issuer"`
	// Resource is the protected resource (RFC 8707, RFC 9728) the tokens
	// are for, as given or as its metadata states it, and sent so, byte for
	// byte; empty for none.
	Resource string `json:"resource,omitempty"`

	ClientID string `json:"client_id"`
	// ClientSecretFile or ClientSecretEnv name where the client secret is
	// read from, for a confidential client; at most one is set.
	ClientSecretFile string `json:"client_secret_file,omitempty"`
	ClientSecretEnv  string `json:"client_secret_env,omitempty"`

	Scopes []string `json:"scopes,omitempty"`
	// Port fixes the loopback redirect's port (http://127.0.0.1:PORT/callback)
	// for servers that register exact redirect URIs; 0 lets the OS pick.
	Port int `json:"port,omitempty"`
	// LoginMode is "auto", "browser" or "device".
	LoginMode string `json:"login_mode,omitempty"`
	// NoBrowser prints the URL instead of opening a browser.
	NoBrowser bool `json:"no_browser,omitempty"`
	// DPoP is login's --dpop: "on" or "off"; empty for auto (DPoP when the
	// server offers it), so that profiles written before it read the same.
	DPoP string `json:"dpop,omitempty"`
	// Store is "file", "keyring", or a Redis URL (redis:// or rediss://,
	// never with a password in it): where login put the credential record.
	Store string `json:"store"`
	// RedisPasswordFile names the file that holds the Redis password.
	RedisPasswordFile string `json:"redis_password_file,omitempty"`
	// RedisPasswordEnv says that login took the Redis password from
	// $AUTHLOOP_REDIS_PASSWORD (and no file): later commands read it from
	// there. Neither set: no password is sent, even when the variable is
	// set (for another profile's Redis).
	RedisPasswordEnv bool `json:"redis_password_env,omitempty"`
	// RedisSecretKeyFile names the file that holds the secret key sealing
	// the records in Redis; empty: $AUTHLOOP_REDIS_SECRET_KEY, if set.
	RedisSecretKeyFile string `json:"redis_secret_key_file,omitempty"`
	// RedisSealed says that login sealed the records with a secret key:
	// later commands refuse to run without one.
	RedisSealed bool `json:"redis_sealed,omitempty"`

	// GitHosts are the hosts `authloop git-credential` answers for with
	// this profile, when git does not name the profile itself.
	GitHosts []string `json:"git_hosts,omitempty"`
	// GitUsername is the user name sent to git with the token: "oauth2"
	// (GitLab, Gitea, Bitbucket, most forges) or "x-access-token" (GitHub).
	GitUsername string `json:"git_username,omitempty"`

	// Grant is the program mode (grantmode.go): "client-credentials",
	// "jwt-bearer" or "enterprise" (an identity assertion from the ID
	// token of another profile); empty for a person's sign-in. A profile
	// with a grant gets its tokens with no person present: token runs the
	// grant, never a browser.
	Grant string `json:"grant,omitempty"`
	// PrivateKeyFile names the file of the client's private key
	// (private_key_jwt, RFC 7523 §2.2), read at each run, never kept here;
	// KeyID is the kid of its assertions ("" for the key's own, or its RFC
	// 7638 thumbprint), AssertionAudience their aud ("" for the issuer).
	PrivateKeyFile    string `json:"private_key_file,omitempty"`
	KeyID             string `json:"key_id,omitempty"`
	AssertionAudience string `json:"assertion_audience,omitempty"`
	// JWTBearerTokenFile or JWTBearerTokenEnv (a variable's name) say where
	// the workload's token of the jwt-bearer grant is read, at each use.
	JWTBearerTokenFile string `json:"jwt_bearer_token_file,omitempty"`
	JWTBearerTokenEnv  string `json:"jwt_bearer_token_env,omitempty"`
	// IDTokenFrom names the profile (a person's, signed in at the identity
	// provider with openid) whose ID token the enterprise grant exchanges;
	// IdP* are the identity provider's client: its id, its issuer or token
	// endpoint, and where its secret is read from, if it has one.
	IDTokenFrom         string `json:"id_token_from,omitempty"`
	IdPClientID         string `json:"idp_client_id,omitempty"`
	IdPIssuer           string `json:"idp_issuer,omitempty"`
	IdPTokenURL         string `json:"idp_token_url,omitempty"`
	IdPClientSecretFile string `json:"idp_client_secret_file,omitempty"`
	IdPClientSecretEnv  string `json:"idp_client_secret_env,omitempty"`
}

// errNoProfile reports a profile that was never saved.
var errNoProfile = errors.New("no such profile")

// errBadProfileName reports a --profile that is not a valid profile name: a
// usage error (exit 2) for every command.
var errBadProfileName = errors.New("bad profile name")

// validProfileName accepts names that are safe as file names everywhere;
// its error wraps errBadProfileName.
func validProfileName(name string) error {
	bad := name == "" || len(name) > 64 || name[0] == '.' || name[0] == '-'
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		bad = bad || !ok
	}
	if bad {
		return messageError{fmt.Sprintf("--profile %q is not a profile name: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.' or '-'", name), errBadProfileName}
	}
	return nil
}

// configDir is the directory of the records and of profiles/.
func configDir() (string, error) {
	dir, err := store.DefaultDir()
	if err != nil {
		why := err.Error() // the last part is the system's reason
		why = why[strings.LastIndex(why, ": ")+2:]
		return "", &cliError{code: exitFailure, err: messageError{"found no configuration directory: " + why, err},
			hint: "set XDG_CONFIG_HOME to an absolute path, or HOME to your home directory (authloop keeps its profiles and tokens in $XDG_CONFIG_HOME/authloop or ~/.config/authloop)"}
	}
	return dir, nil
}

func profilesDir() (string, error) {
	dir, err := configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "profiles"), nil
}

func profilePath(name string) (string, error) {
	if err := validProfileName(name); err != nil {
		return "", err
	}
	dir, err := profilesDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name+".json"), nil
}

// loadProfile reads a profile; a missing one is an error wrapping
// errNoProfile.
func loadProfile(name string) (*Profile, error) {
	path, err := profilePath(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("profile %q: %w", name, errNoProfile)
	}
	if err != nil {
		return nil, fmt.Errorf("reading profile %q: %w", name, err)
	}
	p, err := decodeProfile(b)
	if err != nil {
		return nil, &cliError{code: exitFailure, err: fmt.Errorf("profile %s is not valid JSON (%v)", path, err),
			hint: "fix or delete that file, then sign in again: authloop login --profile " + name + " --issuer URL --client-id ID"}
	}
	if p.Version > profileVersion {
		return nil, &cliError{code: exitFailure, err: fmt.Errorf("profile %s was written by a newer authloop (version %d)", path, p.Version),
			hint: "use that newer authloop, or delete the file and sign in again"}
	}
	if problem := p.badField(); problem != "" {
		// Edited by hand: said here, not by the library in its own terms
		// (Config.Issuer) or as a usage error of a flag not given.
		return nil, &cliError{code: exitFailure, err: fmt.Errorf("profile %s: %s", path, problem),
			hint: "fix or delete that file, then sign in again: authloop login --profile " + name + " --issuer URL --client-id ID"}
	}
	p.Name = name
	return &p, nil
}

// badField says which field of a profile read from its file has a value
// that login never writes, or returns "".
func (p *Profile) badField() string {
	switch {
	case p.Store == "", p.Store == "auto", p.Store == "file", p.Store == "keyring":
	case isRedisURL(p.Store):
		if _, err := parseRedisURL(p.Store); err != nil {
			return "store: " + err.Error()
		}
	case strings.Contains(p.Store, "@"):
		return "store is not auto, file, keyring or a Redis URL (the value is not shown: it may hold a password)"
	default:
		return fmt.Sprintf("store %q is not auto, file, keyring or a Redis URL", p.Store)
	}
	if _, err := authloop.ParseLoginMode(p.LoginMode); err != nil {
		return fmt.Sprintf("login_mode %q is not auto, browser or device", p.LoginMode)
	}
	if _, err := p.dpopMode(); err != nil {
		return fmt.Sprintf("dpop %q is not auto, on or off", p.DPoP)
	}
	if problem := p.grantBadField(); problem != "" {
		return problem
	}
	if p.Issuer != "" {
		if _, err := discovery.MetadataURLs(p.Issuer); errors.Is(err, discovery.ErrInsecureURL) {
			return fmt.Sprintf("issuer %q is not an https URL (or http on a loopback host)", p.Issuer)
		}
	}
	return ""
}

// save writes the profile atomically, 0600 in a 0700 directory.
func (p *Profile) save() error {
	path, err := profilePath(p.Name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is open to other users (mode %v); run: chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	p.Version = profileVersion
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := writePrivateFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("saving profile %q: %w", p.Name, err)
	}
	return nil
}

// deleteProfile removes a profile's file.
func deleteProfile(name string) error {
	path, err := profilePath(name)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// listProfiles returns the names of the saved profiles, sorted.
func listProfiles() ([]string, error) {
	dir, err := profilesDir()
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() || validProfileName(name) != nil {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// clientSecret reads the client secret from where the profile says, or
// returns "" for a public client.
func (p *Profile) clientSecret() (string, error) {
	return readSecret(p.ClientSecretFile, p.ClientSecretEnv, "the client secret")
}

// gitUsername is the user name git-credential sends.
func (p *Profile) gitUsername() string {
	if p.GitUsername != "" {
		return p.GitUsername
	}
	return "oauth2"
}

// writePrivateFile replaces the file at path with data, 0600, whole or not
// at all: written to a temporary file of a name of its own in the same
// directory (two writers at once never share one), synced, then renamed
// over path.
func writePrivateFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// validEnvName reports whether s can name an environment variable as a
// shell sets it: letters, digits and _, not starting with a digit.
func validEnvName(s string) bool {
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

// shownEnvName is the profile's client secret variable as messages show
// it: its name, or a description when it is not a name (a profile edited
// by hand with the secret itself there must not print it).
func shownEnvName(s string) string {
	if validEnvName(s) {
		return s
	}
	return "(a value that is not a variable name: give one with login --client-secret-env)"
}
