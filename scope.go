// The scope rules: which scopes a sign-in asks for, which a token was
// granted and covers, which a refresh asks for, and what a scope is.

package authloop

import (
	"slices"
	"strings"

	"golang.org/x/oauth2"
)

// loginScopes picks the scopes of a new authorization: what 401
// challenges asked for and what earlier authorizations of this session
// asked for, so that no sign-in loses a scope, and need, the scopes of the
// step-up this sign-in is for (nil for others). A step-up's scopes travel
// with its own sign-in only: scopes the server refused (invalid_scope, a
// cancelled sign-in) are not asked for again by later sign-ins, which
// would all fail. They are added to the configured scopes when there are
// any (Config.OAuth2.Scopes, or a configuration with an Issuer, as
// `authloop login --resource` saves). Otherwise, for a protected resource,
// the MCP order: the challenge's scope, else the resource metadata's
// scopes_supported, else none; plus offline_access when the authorization
// server lists it.
func (s *Session) loginScopes(cfg *Config, need []string) []string {
	s.mu.Lock()
	scopes := union(union(s.challengeScopes, s.requestedScopes), need)
	s.mu.Unlock()
	if len(s.cfg.OAuth2.Scopes) > 0 || !s.cfg.protectedResourceMode() {
		return union(cfg.OAuth2.Scopes, scopes)
	}
	if len(scopes) == 0 {
		if prm := s.resourceMeta(); prm != nil {
			scopes = slices.Clone(prm.ScopesSupported)
		}
	}
	if md := s.authServerMeta(); md != nil && slices.Contains(md.ScopesSupported, "offline_access") && len(scopes) > 0 {
		scopes = union(scopes, []string{"offline_access"})
	}
	return scopes
}

// takePendingScopes returns the scopes a non-interactive session was
// refused for since its last sign-in, for the sign-in about to start, and
// forgets them: a sign-in that fails (a scope the server will not give, a
// cancelled page) does not make every later one ask for them again.
func (s *Session) takePendingScopes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pendingScopes
	s.pendingScopes = nil
	return p
}

// union returns a followed by the elements of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// covers reports whether the token's granted scope includes every scope
// of need.
func covers(tokScope any, need []string) bool {
	s, _ := tokScope.(string)
	have := strings.Fields(s)
	for _, n := range need {
		if !slices.Contains(have, n) {
			return false
		}
	}
	return true
}

// grantedScopes are the scopes of the current token; s.mu is held.
func (s *Session) grantedScopes() []string {
	if st := s.cur.Load(); st.tok != nil {
		if sc, ok := st.tok.Extra("scope").(string); ok {
			return strings.Fields(sc)
		}
	}
	return nil
}

func scopeString(tok *oauth2.Token) string {
	if tok == nil {
		return ""
	}
	sc, _ := tok.Extra("scope").(string)
	return sc
}

// refreshScope is the scope a refresh asks for: Config.RefreshScopes and
// the scopes step-ups won, space-separated; "" to leave scope out.
func (s *Session) refreshScope() string {
	if len(s.cfg.RefreshScopes) == 0 {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(union(s.cfg.RefreshScopes, s.wonScopes), " ")
}

// validScope reports whether sc is a scope-token of RFC 6749 §3.3.
func validScope(sc string) bool {
	if sc == "" {
		return false
	}
	for i := 0; i < len(sc); i++ {
		if c := sc[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
