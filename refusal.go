// How a refused token request is classified (RFC 6749 §5.2, RFC 8707 §2): a
// dead grant, a configuration error, or a transient failure.

package authloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"
)

// How a refused refresh is classified (RFC 6749 §5.2, RFC 8707 §2). Only a
// dead grant ends the grant: invalid_grant drops the refresh token. The
// configuration codes say that this client, as configured, may not refresh
// (a rotated client secret, a wrong resource): another process with the
// right configuration can, so the refresh token stays, and nothing is
// retried.
var (
	deadGrantCodes = map[string]bool{"invalid_grant": true}
	configCodes    = map[string]bool{
		"invalid_client":         true,
		"unauthorized_client":    true,
		"unsupported_grant_type": true,
		"invalid_scope":          true,
		"invalid_target":         true,
		"invalid_dpop_proof":     true,
	}
	// transientCodes are OAuth errors that say "try again later".
	transientCodes = map[string]bool{
		"temporarily_unavailable": true,
		"server_error":            true,
		"slow_down":               true,
		// A DPoP nonce asked for (RFC 9449 §8) once more than the one
		// retry with it: the next attempt carries the latest nonce.
		"use_dpop_nonce": true,
	}
)

// configError is a refresh the server refused for a reason in this
// client's configuration, not in the grant: the refresh token is kept
// (another process, or this program once fixed, can use it), the error
// names the setting to check, and nothing is retried for a while
// (configPause).
type configError struct {
	fix string
	err error // the *OAuthError
}

func (e *configError) Error() string {
	return fmt.Sprintf("authloop: the authorization server refused to refresh: %s; the refresh token is kept: %v", e.fix, e.err)
}

func (e *configError) Unwrap() error { return e.err }

// configPause is how long a session sends no token request after a
// configuration error: the configuration of a running program does not
// change by itself, but the server's may be fixed. It doubles with every
// configuration error in a row, up to maxConfigPause.
const (
	configPause    = time.Minute
	maxConfigPause = time.Hour
)

// configErrorOf returns err as a *configError when its code is one of
// configCodes, with the setting to check; nil otherwise. scope is what a
// narrowing refresh asked for (Config.RefreshScopes), or ""; registered
// says the client is one the session registered, not configured.
func configErrorOf(err error, cfg *Config, scope string, registered bool) *configError {
	var oe *OAuthError
	if !errors.As(err, &oe) || !configCodes[oe.Code] {
		return nil
	}
	var fix string
	switch oe.Code {
	case "invalid_client":
		fix = "it does not accept this client's authentication (invalid_client): check Config.OAuth2.ClientID and ClientSecret (was the secret rotated?) and Endpoint.AuthStyle"
		if registered {
			fix = "it does not accept the client this session registered (invalid_client): the registration may have been deleted or its secret changed; the next sign-in registers anew"
		}
	case "unauthorized_client", "unsupported_grant_type":
		fix = fmt.Sprintf("this client may not use the refresh_token grant (%s): check the client's registration at the authorization server (its grant types)", oe.Code)
	case "invalid_target":
		if cfg.Resource != "" {
			fix = fmt.Sprintf("it does not accept the resource %q (invalid_target): check Config.Resource", cfg.Resource)
		} else {
			fix = "it does not accept the request's target (invalid_target), and no resource is set: check whether it needs Config.Resource (the API's identifier), and the scopes"
		}
	case "invalid_dpop_proof":
		fix = "it refused the DPoP proof (invalid_dpop_proof): the refresh token is bound to another key than the one this session proves with (was Config.DPoPKey changed?), or this machine's clock is far off"
	case "invalid_scope":
		if scope != "" {
			fix = fmt.Sprintf("it refused to narrow the refreshed token to scope %q (Config.RefreshScopes): it must be within the scope granted at sign-in", scope)
		} else {
			fix = "it refused the grant's scope (invalid_scope): check the scopes this client may ask for at the authorization server"
		}
	}
	return &configError{fix: fix, err: err}
}

// grantDead reports whether err says the refresh token is dead: the
// server refused it with invalid_grant.
func grantDead(err error) bool {
	var ce *configError
	if errors.As(err, &ce) {
		return false
	}
	var oe *OAuthError
	return errors.As(err, &oe) && deadGrantCodes[oe.Code]
}

// isTransient reports whether retrying err may help: 5xx and 429, the
// OAuth codes that say so, answers that are not OAuth at all (a proxy's
// page), and network errors.
func isTransient(err error) bool {
	var oe *OAuthError
	if errors.As(err, &oe) {
		if deadGrantCodes[oe.Code] || configCodes[oe.Code] {
			return false
		}
		return transientCodes[oe.Code] || oe.StatusCode >= 500 || oe.StatusCode == 429
	}
	var te *TokenResponseError
	if errors.As(err, &te) {
		return true
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	// A network error: before the answer (*url.Error), or while its body
	// was read (the connection closed after the headers, or stalled past
	// the client's timeout).
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF)
}
