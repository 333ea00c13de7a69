// Enterprise-managed authorization (the MCP extension built on the
// Identity Assertion JWT Authorization Grant, ID-JAG): the enterprise's
// identity provider exchanges the person's ID token for an assertion
// (RFC 8693), which the MCP server's authorization server takes as a JWT
// bearer grant (RFC 7523 §2.1).

package authloop

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/authloop/authloop/internal/urlrule"
)

// Token types of the exchange (RFC 8693 §3; the ID-JAG draft).
const (
	tokenTypeIDToken = "urn:ietf:params:oauth:token-type:id_token"
	tokenTypeIDJAG   = "urn:ietf:params:oauth:token-type:id-jag"
)

// IdentityAssertion is enterprise-managed authorization: the Identity
// Assertion JWT Authorization Grant of the MCP authorization extensions.
// At the enterprise's identity provider, idp (its client: OAuth2.ClientID,
// its secret or ClientKey, and OAuth2.Endpoint.TokenURL or Issuer to
// discover it), the ID token from idToken is exchanged (RFC 8693) for an
// identity assertion (an ID-JAG) for the session's authorization server
// and resource; the session then presents that assertion as a JWT bearer
// grant (RFC 7523) at its authorization server. The chain runs again, from
// a new ID token, whenever the session needs a token: no browser opens.
//
// idToken is usually IDTokenOf a Session signed in at the identity
// provider (whose refresh token keeps its ID token current), or a
// program's own source. A refusal at either step is a *GrantRefusedError.
func IdentityAssertion(idp *Config, idToken AssertionSource) Grant {
	return &identityAssertion{idp: idp, idToken: idToken}
}

type identityAssertion struct {
	idp     *Config
	idToken AssertionSource
}

func (g *identityAssertion) GrantForm(ctx context.Context, t GrantTarget) (url.Values, error) {
	if g.idp == nil || g.idp.OAuth2 == nil || g.idToken == nil {
		return nil, errors.New("authloop: IdentityAssertion needs the identity provider's Config (its client and token endpoint or issuer) and an AssertionSource of the ID token, such as IDTokenOf(session)")
	}
	if t.Issuer == "" {
		return nil, errors.New("authloop: IdentityAssertion needs the authorization server's issuer, the audience of the identity assertion: set Config.Issuer, or leave the endpoints to discovery")
	}
	idc := g.idp
	if idc.OAuth2.Endpoint.TokenURL == "" {
		if idc.Issuer == "" {
			return nil, errors.New("authloop: IdentityAssertion's identity provider Config has neither OAuth2.Endpoint.TokenURL nor Issuer; set one")
		}
		md, err := idc.authServer(ctx, idc.Issuer, "finding the token endpoint of the identity provider")
		if err != nil {
			return nil, err
		}
		cc := *idc
		oc := *idc.OAuth2
		fillTokenEndpoint(&oc, md)
		cc.OAuth2 = &oc
		cc.discovered = md
		idc = &cc
	}
	if err := checkEndpoint("the identity provider's token endpoint", idc.OAuth2.Endpoint.TokenURL); err != nil {
		return nil, err
	}
	idt, err := readAssertion(ctx, g.idToken, "the ID token for the identity assertion")
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type":           {grantTokenExchange},
		"requested_token_type": {tokenTypeIDJAG},
		"subject_token":        {idt},
		"subject_token_type":   {tokenTypeIDToken},
		"audience":             {t.Issuer},
	}
	if t.Resource != "" {
		form.Set("resource", t.Resource)
	}
	if len(t.Scopes) > 0 {
		form.Set("scope", strings.Join(t.Scopes, " "))
	}
	tok, err := idc.tokenRequest(ctx, form, keepFields{})
	if err != nil {
		if isTransient(err) {
			return nil, fmt.Errorf("authloop: the identity provider's token exchange: %w", err)
		}
		var oe *OAuthError
		if errors.As(err, &oe) {
			fix := "the identity provider refused to exchange the ID token for an identity assertion: check that the person may use this MCP server (the provider's policy), that the ID token is current, and the provider's client (its id and secret or key)"
			return nil, &GrantRefusedError{Grant: grantTokenExchange, Fix: fix, Err: err}
		}
		return nil, fmt.Errorf("authloop: the identity provider's token exchange at %s: %w", urlrule.RedactURL(idc.OAuth2.Endpoint.TokenURL), err)
	}
	if it, _ := tok.Extra("issued_token_type").(string); it != tokenTypeIDJAG {
		return nil, fmt.Errorf("authloop: the identity provider answered the token exchange with issued_token_type %q, not %q: it does not issue identity assertions (ID-JAG) to this client", it, tokenTypeIDJAG)
	}
	return url.Values{"grant_type": {grantJWTBearer}, "assertion": {tok.AccessToken}}, nil
}

// IDTokenOf returns the ID token of s, a Session signed in at an OpenID
// Connect provider (with the openid scope): the identity provider of
// IdentityAssertion. An ID token that has expired, or expires within a
// minute, is renewed first with s's refresh (OpenID providers return a new
// ID token with refreshed tokens); an ID token that the refresh did not
// renew is an error naming the fix.
func IDTokenOf(s *Session) AssertionSource {
	return func(ctx context.Context) (string, error) {
		tok, err := s.Token(ctx)
		if err != nil {
			return "", fmt.Errorf("authloop: the identity provider's session: %w", err)
		}
		id, _ := tok.Extra("id_token").(string)
		if exp, ok := jwtExpiry(id); id == "" || ok && s.clock.Now().Add(time.Minute).After(exp) {
			// A renewal whose save failed (*SaveError) still brings the
			// new ID token: the provider's session keeps and re-saves it.
			var se *SaveError
			if tok, err = s.Refresh(ctx); tok == nil || err != nil && !errors.As(err, &se) {
				return "", fmt.Errorf("authloop: renewing the identity provider's ID token: %w", err)
			}
			id, _ = tok.Extra("id_token").(string)
		}
		if id == "" {
			return "", errors.New("authloop: the identity provider's session holds no ID token: sign in there with the openid scope")
		}
		if exp, ok := jwtExpiry(id); ok && !s.clock.Now().Before(exp) {
			return "", fmt.Errorf("authloop: the identity provider's ID token expired at %s and its refresh did not renew it: sign in at the identity provider again", exp.UTC().Format(time.RFC3339))
		}
		return id, nil
	}
}
