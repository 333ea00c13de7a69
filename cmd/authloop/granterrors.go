package main

// What the person reads when a program's profile (grantmode.go) fails:
// its identity refused (exit 3, like a person's sign-in that is needed
// again: no retry helps, a person must fix the identity), or the profile
// it takes its ID token from failed (that profile's error, with that
// profile's fix).

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/authloop/authloop"
)

// Grant types as the library names them in a *GrantRefusedError.
const (
	grantTypeJWTBearer     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	grantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
)

// explainGrant explains a program profile's failure, or returns nil for
// any other error.
func explainGrant(err error, profile string) *cliError {
	var (
		ie *idTokenProfileError
		gr *authloop.GrantRefusedError
	)
	var we *workloadTokenError
	switch {
	case errors.As(err, &we):
		why := we.err.Error()
		var pe *fs.PathError
		if errors.As(we.err, &pe) {
			why = pe.Err.Error()
		}
		if strings.HasPrefix(we.where, "$") {
			why = "not set or empty"
		}
		return &cliError{code: exitFailure, err: messageError{tidy("the workload's token could not be read from " + we.where + " (" + why + ")"), err},
			hint: "check that the platform put it there (a mounted volume, a job's OIDC token), or name another place: authloop login --profile " + profile + " " + we.flag + " ..."}
	case errors.As(err, &ie):
		inner := classify(ie.err, ie.profile)
		var ce *cliError
		if !errors.As(inner, &ce) {
			ce = &cliError{code: exitFailure, err: inner}
		}
		msg := "profile " + profile + " takes its ID token from profile " + ie.profile + ": " + ce.Error()
		return &cliError{code: ce.code, err: messageError{tidy(msg), err}, hint: ce.hint}
	case errors.As(err, &gr):
		p, perr := loadProfile(profile)
		if perr != nil {
			p = &Profile{Name: profile}
		}
		return explainGrantRefused(err, gr, p)
	}
	return nil
}

// explainGrantRefused explains a grant the server (or, for the enterprise
// mode's token exchange, the identity provider) refused to profile p (as
// saved, or as a login is about to save it): exit 3, what was refused and
// which of login's flags to check.
func explainGrantRefused(err error, gr *authloop.GrantRefusedError, p *Profile) *cliError {
	profile := p.Name
	code := "refused"
	var oe *authloop.OAuthError
	if errors.As(gr.Err, &oe) {
		code = oauthCode(oe)
	}
	mode, keyed := p.Grant, p.PrivateKeyFile != ""
	login := "authloop login --profile " + profile
	msg := "the authorization server refused the identity of profile " + profile + " (" + code + ")"
	hint := "check the program's identity at the server (its client, key or token), then " + login
	if gr.Grant == grantTypeTokenExchange {
		msg = "the identity provider refused to exchange the ID token for profile " + profile + " (" + code + ")"
		hint = "check that the person may use this server (the provider's policy) and the provider's client: " + login + " --idp-client-id ID (and its secret)"
		return &cliError{code: exitLoginRequired, err: messageError{msg, err}, hint: hint}
	}
	switch {
	case oe == nil:
	case oe.Code == "invalid_client" && keyed:
		hint = "check the client's key: is its public key registered for --client-id? A server may want its token endpoint as the audience (--assertion-audience URL): " + login
	case oe.Code == "invalid_client":
		hint = "check the client: --client-id and its secret (--client-secret-file or --client-secret-env) or key (--private-key-file: is its public key registered?) with " + login
	case oe.Code == "unauthorized_client", oe.Code == "unsupported_grant_type":
		hint = "the server does not let this client use the " + grantName(gr.Grant) + ": have its registration allow it, or give another mode with " + login
	case oe.Code == "invalid_grant" && mode == grantEnterprise:
		hint = "the server does not accept the identity provider's assertion: check that it trusts the provider (--idp-issuer), and " + login
	case oe.Code == "invalid_grant" && gr.Grant == grantTypeJWTBearer:
		hint = "the server does not accept the workload's token: check that it trusts its issuer, its audience and expiry (--jwt-bearer-token-file or --jwt-bearer-token-env with " + login + ")"
	case oe.Code == "invalid_scope":
		hint = "check --scope with " + login
	case oe.Code == "invalid_target":
		hint = "check --resource with " + login
	}
	return &cliError{code: exitLoginRequired, err: messageError{msg, err}, hint: hint}
}

// grantName names a grant_type in words.
func grantName(grantType string) string {
	switch grantType {
	case "client_credentials":
		return "client credentials grant"
	case grantTypeJWTBearer:
		return "JWT bearer grant"
	case grantTypeTokenExchange:
		return "token exchange"
	}
	return "grant " + sanitize(grantType)
}
