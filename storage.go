package authloop

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/discovery"
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

// sessionKey names the session's record: the issuer (or, without one, the
// token endpoint), the client, the resource and the account.
func (c *Config) sessionKey() store.Key {
	iss := c.Issuer
	if iss == "" {
		iss = c.OAuth2.Endpoint.TokenURL
	}
	res := c.Resource
	if canon, err := discovery.CanonicalResource(res); err == nil {
		res = canon
	}
	return store.Key{Issuer: iss, ClientID: c.OAuth2.ClientID, Resource: res, Account: c.Account}
}

// load reads the session's record; a missing one is (nil, nil).
func (s *Session) load(ctx context.Context) (*store.Record, error) {
	rec, err := s.store.Load(ctx, s.key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authloop: reading the saved session %s from the %s: %w", s.key, s.store.Describe(), err)
	}
	s.adoptClient(rec) // issue 12/13: the record's token goes with the record's registration
	s.hadRecord.Store(true)
	return rec, nil
}

// saveToken writes tok (and the discovered metadata and client) into the
// session's record, keeping the rest of it and clearing any wait
// (NotBefore). A failed save is retried once at once; if it still fails,
// the failure is logged and returned as a *SaveError, and the caller keeps
// tok as the live token (setUnsaved), which later saves retry.
func (s *Session) saveToken(ctx context.Context, read *store.Record, tok *oauth2.Token) error {
	var rec *store.Record
	if read == nil {
		rec = &store.Record{Key: s.key}
	} else {
		rec = read.Clone()
	}
	rec.Token = toStored(tok)
	rec.NotBefore = time.Time{}
	if s.meta != nil {
		rec.Metadata = s.meta
	}
	rec.Client = s.client
	var err error
	for range 2 {
		if _, err = s.store.Save(ctx, rec); err == nil {
			s.hadRecord.Store(true)
			return nil
		}
	}
	s.mu.Lock()
	s.staleAccess = ""
	if read != nil && read.Token != nil {
		s.staleAccess = read.Token.AccessToken
	}
	s.mu.Unlock()
	s.cfg.logger().Warn("authloop: could not save the session's new tokens; they are kept in this process, which retries the save, but other processes sharing the store do not see them", "key", s.key.String(), "store", s.store.Describe(), "error", err.Error())
	return &SaveError{Store: s.store.Describe(), Key: s.key, Err: err}
}

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

// carrySignedIn returns tok with base's sign-in time, which a refresh
// response does not repeat.
func carrySignedIn(tok, base *oauth2.Token) *oauth2.Token {
	v, _ := base.Extra(signedInKey).(string)
	if v == "" || tok.Extra(signedInKey) != nil {
		return tok
	}
	extra := extraOf(tok)
	extra[signedInKey] = v
	return withExtra(tok, extra)
}

// adoptable reports whether stored, read from the store, should replace
// the session's token without a request: it is another token than the one
// the session holds, and valid — outside its refresh window when the
// refresh was proactive.
func (s *Session) adoptable(stored *oauth2.Token, held *oauth2.Token, proactive bool) bool {
	if stored == nil || (held != nil && stored.AccessToken == held.AccessToken) || s.isRetired(stored.RefreshToken) || s.knownStale(stored) {
		return false // not another token, or an older one (its refresh token rotated away, or the record a failed save left)
	}
	st := s.newState(stored)
	now := s.nowNano()
	if proactive {
		return st.fresh(now)
	}
	return st.usable(now)
}
