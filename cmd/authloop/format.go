package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
)

// relative says when t is, from now, in words: "in 42 minutes",
// "expired 3 hours ago" (past is the word for a time gone by).
func relative(t, now time.Time, past string) string {
	d := t.Sub(now)
	if d >= 0 {
		return "in " + roundDuration(d)
	}
	return past + " " + roundDuration(-d) + " ago"
}

// roundDuration says d in the largest fitting unit: "42 minutes", "1 hour",
// "3 days", "less than a second".
func roundDuration(d time.Duration) string {
	unit := func(n int64, word string) string {
		if n == 1 {
			return "1 " + word
		}
		return fmt.Sprintf("%d %ss", n, word)
	}
	minutes := int64((d + 30*time.Second) / time.Minute)
	hours := int64((d + 30*time.Minute) / time.Hour)
	switch {
	case d < time.Second:
		return "less than a second"
	case d < time.Minute:
		return unit(int64(d/time.Second), "second")
	case minutes < 60:
		return unit(minutes, "minute")
	case hours < 48:
		return unit(hours, "hour")
	default:
		return unit(int64((d+12*time.Hour)/(24*time.Hour)), "day")
	}
}

// idClaims are the ID token claims shown as the account. They are read
// without checking the signature: for display only, never for a decision.
type idClaims struct {
	Sub               string `json:"sub"`
	Email             string `json:"email"`
	PreferredUsername string `json:"preferred_username"`
	Name              string `json:"name"`
}

// claimsOf decodes the payload of tok's ID token, if it has one.
func claimsOf(tok *oauth2.Token) (idClaims, bool) {
	var c idClaims
	if tok == nil {
		return c, false
	}
	raw, _ := tok.Extra("id_token").(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return c, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil || json.Unmarshal(b, &c) != nil {
		return c, false
	}
	return c, true
}

// account names the signed-in person: email, else preferred_username,
// else sub; "" when the token carries no ID token.
func account(tok *oauth2.Token) string {
	c, ok := claimsOf(tok)
	if !ok {
		return ""
	}
	for _, v := range []string{c.Email, c.PreferredUsername, c.Sub} {
		if v != "" {
			return sanitize(v)
		}
	}
	return ""
}

// sanitize drops control characters from text that came from a server,
// and the invisible ones that change how a terminal shows the rest: bidi
// overrides and isolates (U+202E makes "moc.live" read "evil.com"),
// zero-width characters (Unicode format characters, Cf) and the line and
// paragraph separators.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
}

// scopesOf returns the token's granted scopes.
func scopesOf(tok *oauth2.Token) []string {
	if tok == nil {
		return nil
	}
	s, _ := tok.Extra("scope").(string)
	return strings.Fields(sanitize(s))
}

// refreshExpiry returns when tok's refresh token expires, if known.
func refreshExpiry(tok *oauth2.Token) (time.Time, bool) {
	if tok == nil {
		return time.Time{}, false
	}
	switch v := tok.Extra(authloop.RefreshExpiryKey).(type) {
	case time.Time:
		return v, !v.IsZero()
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		return t, err == nil
	}
	return time.Time{}, false
}
