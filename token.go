// The token as authloop keeps it: the keys it adds to a token's Extra,
// the fields a token response may leave out and the client keeps from
// before, and the form the store saves.

package authloop

import (
	"sort"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/store"
)

// extraKeysKey lists, in a token built by authloop, the names of the raw
// response fields it carries: x/oauth2 can look a field up but not list
// them, and a store must save them all.
const extraKeysKey = "authloop_extra_keys"

// withExtra returns tok carrying extra, with the list of its keys.
func withExtra(tok *oauth2.Token, extra map[string]any) *oauth2.Token {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if k != extraKeysKey {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	extra[extraKeysKey] = keys
	return tok.WithExtra(extra)
}

// extraOf returns the raw fields of tok: all of them for a token authloop
// built, the well-known ones for any other.
func extraOf(tok *oauth2.Token) map[string]any {
	keys, _ := tok.Extra(extraKeysKey).([]string)
	if keys == nil {
		keys = []string{"scope", "id_token", "token_type", "expires_in", "refresh_token_expires_in", "refresh_expires_in", "issued_token_type", RefreshExpiryKey}
	}
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		if v := tok.Extra(k); v != nil {
			out[k] = v
		}
	}
	return out
}

// RefreshExpiryKey is the Extra key under which a token carries its refresh
// token's own expiry (a time.Time), when the provider sent one as
// refresh_token_expires_in or refresh_expires_in.
const RefreshExpiryKey = "authloop_refresh_expiry"

// signedInKey is the Extra key under which a token carries when the person
// signed in to its grant (RFC 3339): refreshes carry it on, so Session.Login
// can tell another process's new sign-in from its refresh.
const signedInKey = "authloop_signed_in"

// markSignedIn returns tok marked as signed in at t.
func markSignedIn(tok *oauth2.Token, t time.Time) *oauth2.Token {
	extra := extraOf(tok)
	extra[signedInKey] = t.UTC().Format(time.RFC3339Nano)
	return withExtra(tok, extra)
}

// signedInAt is when tok's grant was signed in to; zero when unknown.
func signedInAt(tok *oauth2.Token) time.Time {
	v, _ := tok.Extra(signedInKey).(string)
	t, _ := time.Parse(time.RFC3339Nano, v)
	return t
}

// carrySignedIn returns tok with base's sign-in time, and the subject a
// program's grant spoke for (grantSubjectKey), which a refresh response
// does not repeat.
func carrySignedIn(tok, base *oauth2.Token) *oauth2.Token {
	var extra map[string]any
	for _, k := range [...]string{signedInKey, grantSubjectKey} {
		v, _ := base.Extra(k).(string)
		if v == "" || tok.Extra(k) != nil {
			continue
		}
		if extra == nil {
			extra = extraOf(tok)
		}
		extra[k] = v
	}
	if extra == nil {
		return tok
	}
	return withExtra(tok, extra)
}

// issuerKey is the Extra key under which Login's token for a protected
// resource names the authorization server that issued it: a Session given
// that token (NewSession(cfg, tok), with no record yet to say where it came
// from) sends its refresh token to no other server, even when the
// resource's metadata names another by the time it refreshes.
const issuerKey = "authloop_issuer"

// dpopJKTKey is the Extra key under which a DPoP-bound token (token_type
// DPoP) names the thumbprint of the key its token request proved: the key
// its refresh token is bound to. A session that proves with another key
// does not present that refresh token (boundElsewhere).
const dpopJKTKey = "authloop_dpop_jkt"

// keepFields are what a token response may leave out and the client then
// keeps from before.
type keepFields struct {
	scope         string
	refreshToken  string
	refreshExpiry any
}

// keepFrom takes the fields to keep from the token being refreshed.
func keepFrom(old *oauth2.Token) keepFields {
	scope, _ := old.Extra("scope").(string)
	return keepFields{scope: scope, refreshToken: old.RefreshToken, refreshExpiry: old.Extra(RefreshExpiryKey)}
}

// toStored converts a token for the store.
func toStored(tok *oauth2.Token) *store.Token {
	if tok == nil {
		return nil
	}
	st := &store.Token{
		AccessToken:  tok.AccessToken,
		TokenType:    tok.TokenType,
		RefreshToken: tok.RefreshToken,
		Expiry:       tok.Expiry,
		ExpiresIn:    tok.ExpiresIn,
		Extra:        extraOf(tok),
	}
	if exp, ok := st.Extra[RefreshExpiryKey].(time.Time); ok {
		st.RefreshExpiry = exp
	}
	delete(st.Extra, RefreshExpiryKey)
	if len(st.Extra) == 0 {
		st.Extra = nil
	}
	return st
}

// fromStored converts a stored token back.
func fromStored(st *store.Token) *oauth2.Token {
	if st == nil || st.AccessToken == "" {
		return nil
	}
	tok := &oauth2.Token{
		AccessToken:  st.AccessToken,
		TokenType:    st.TokenType,
		RefreshToken: st.RefreshToken,
		Expiry:       st.Expiry.Round(0),
		ExpiresIn:    st.ExpiresIn,
	}
	extra := make(map[string]any, len(st.Extra)+1)
	for k, v := range st.Extra {
		extra[k] = v
	}
	if !st.RefreshExpiry.IsZero() {
		extra[RefreshExpiryKey] = st.RefreshExpiry
	}
	return withExtra(tok, extra)
}
