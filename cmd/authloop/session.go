package main

import (
	"fmt"
	"strconv"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/store"
)

// openStore opens the store profile p's record lives in. "auto" (a new
// profile) probes for the OS keyring and falls back to the file store, and
// returns which it picked, so the profile can remember it and later
// commands never probe again. A Redis URL opens the Redis store (redis.go),
// without contacting Redis.
func openStore(p *Profile) (store.Store, string, error) {
	kind := p.Store
	if isRedisURL(kind) {
		st, err := openRedis(p)
		return st, kind, err
	}
	dir, err := configDir()
	if err != nil {
		return nil, "", err
	}
	switch kind {
	case "file":
		s, err := store.NewFile(dir)
		return s, "file", err
	case "keyring":
		s, err := store.NewKeyring(dir, store.DefaultService)
		return s, "keyring", err
	case "", "auto":
		s, _, err := store.Default(dir)
		if err != nil {
			return nil, "", err
		}
		if _, ok := s.(*store.Keyring); ok {
			return s, "keyring", nil
		}
		return s, "file", nil
	}
	return nil, "", usageError("unknown store %q; use auto, file, keyring or a Redis URL", kind)
}

// sessionOptions are the per-run settings that are not kept in a profile.
type sessionOptions struct {
	interactive bool
	ui          *ui
	intr        *interrupts   // when set, the store reports its saves to it
	timeout     time.Duration // login timeout; 0: the library's default
}

// configFor builds the library's configuration for a profile. Every command
// refreshes only when asked to (no background refresh, no refresh window):
// a short-lived process must never leave a refresh half done.
func configFor(p *Profile, st store.Store, o sessionOptions) (*authloop.Config, error) {
	secret, err := p.clientSecret()
	if err != nil {
		return nil, &cliError{code: exitFailure, err: err, hint: secretHint(p)}
	}
	mode, err := authloop.ParseLoginMode(p.LoginMode)
	if err != nil {
		return nil, err
	}
	dpopMode, err := p.dpopMode()
	if err != nil {
		return nil, err
	}
	oc := &oauth2.Config{
		ClientID:     p.ClientID,
		ClientSecret: secret,
		Scopes:       p.Scopes,
	}
	if p.Port != 0 {
		oc.RedirectURL = "http://127.0.0.1:" + strconv.Itoa(p.Port) + "/callback"
	}
	if o.intr != nil {
		st = keepLease(guardedStore{Store: st, in: o.intr, ui: o.ui}, st)
	}
	cfg := &authloop.Config{
		OAuth2:             oc,
		Issuer:             p.Issuer,
		Resource:           p.Resource,
		Store:              st,
		Account:            p.Name,
		AppName:            "authloop",
		LoginMode:          mode,
		DPoP:               dpopMode,
		LoginTimeout:       o.timeout,
		Interactive:        o.interactive,
		DisableAutoRefresh: true,
		RefreshBuffer:      authloop.NoRefreshBuffer,
	}
	if cfg.ClientKey, cfg.ClientKeyID, err = p.clientKey(); err != nil {
		return nil, err
	}
	cfg.ClientKeyAudience = p.AssertionAudience
	if cfg.Grant, err = grantOf(p); err != nil {
		return nil, err
	}
	if cfg.Grant != nil {
		// A program's profile: its grant, never a browser (token --login
		// changes nothing).
		cfg.Interactive = false
	}
	if p.NoBrowser {
		cfg.Browser = authloop.NoBrowser
	}
	if o.ui != nil {
		cfg.Prompt = o.ui
		cfg.OnDeviceCode = o.ui.showDeviceCode
	}
	return cfg, nil
}

// secretHint says how to give profile p its client secret back.
func secretHint(p *Profile) string {
	where := "set " + shownEnvName(p.ClientSecretEnv) + " to the client secret"
	if p.ClientSecretFile != "" {
		where = "put the client secret in " + p.ClientSecretFile
	}
	return where + ", or name another place: authloop login --profile " + p.Name + " --client-secret-env VAR (or --client-secret-file FILE)"
}

// openSession loads a profile and resumes its session from the store,
// without any network request.
func openSession(name string, o sessionOptions) (*Profile, *authloop.Session, error) {
	p, err := loadProfile(name)
	if err != nil {
		return nil, nil, err
	}
	st, _, err := openStore(p)
	if err != nil {
		return p, nil, err
	}
	cfg, err := configFor(p, st, o)
	if err != nil {
		return p, nil, err
	}
	s, err := authloop.NewSession(cfg, nil)
	if err != nil {
		return p, nil, err
	}
	return p, s, nil
}

// showDeviceCode shows the device flow's code and URL prominently. The URL
// is on a line of its own, so a person or a script can take it.
func (u *ui) showDeviceCode(da *oauth2.DeviceAuthResponse) {
	open := da.VerificationURIComplete
	if open == "" {
		open = da.VerificationURI
	}
	code := u.bold(u.yellow(da.UserCode))
	u.printf("To sign in, open this URL on any device with a browser:\n\n%s\n", open)
	if da.VerificationURIComplete != "" {
		u.printf("and check that the page shows the code  %s", code)
		u.printf("%s", u.dim(fmt.Sprintf("(or open %s and enter the code)", da.VerificationURI)))
	} else {
		u.printf("and enter the code  %s", code)
	}
	if !da.Expiry.IsZero() {
		u.printf("%s", u.dim(fmt.Sprintf("The code is valid for %s.", roundDuration(time.Until(da.Expiry)))))
	}
	u.printf("")
}
