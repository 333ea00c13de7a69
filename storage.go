// The Session's record in the store: its key, load, save, and which stored
// token a session adopts.

package authloop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/store"
)

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
	return store.Key{Issuer: iss, ClientID: c.OAuth2.ClientID, Resource: res, Account: c.Account, Grant: grantKey(c.Grant)}
}

// load reads the session's record; a missing one is (nil, nil). A session
// that never proves a key (DPoPOff) gets a record whose tokens are bound
// to one without them: it cannot use them (its access token would go as
// Bearer, its refresh token without a proof), and signs in again.
func (s *Session) load(ctx context.Context) (*store.Record, error) {
	rec, err := s.loadRecord(ctx)
	if rec != nil && s.cfg.dp == nil && rec.Token != nil && isDPoPType(rec.Token.TokenType) {
		rec.Token = nil
	}
	return rec, err
}

// loadRecord is load with the record's tokens as stored, whatever
// Config.DPoP: Logout revokes them.
func (s *Session) loadRecord(ctx context.Context) (*store.Record, error) {
	rec, err := s.store.Load(ctx, s.key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authloop: reading the saved session %s from the %s: %w", s.key, s.store.Describe(), err)
	}
	// The record's key goes with its tokens: not taken from a record
	// older than the token whose save is pending (knownStale), which is
	// bound to this session's key and is saved with it, as adoptClient
	// does for the registration.
	if rec.Token == nil || !s.knownStale(fromStored(rec.Token)) {
		if err := s.cfg.dp.adopt(rec.DPoPKey); err != nil {
			return nil, fmt.Errorf("authloop: the saved session %s in the %s holds a DPoP key that cannot be read (%v); its tokens are bound to that key: log out (authloop logout) to delete it and sign in anew", s.key, s.store.Describe(), err)
		}
	}
	s.adoptClient(rec) // issue 12/13: the record's token goes with the record's registration
	s.hadRecord.Store(true)
	return rec, nil
}

// leaseMargin is how long the refresh lock's lease must still run, by
// this process's clock, for a token request to be sent under it
// (store.LeaseHeld): the request goes out only when its holder surely
// still holds the lock. Renewals keep the lease while the request runs.
const leaseMargin = 2 * time.Second

// lockRecord takes the record's lock called name, and returns the context
// to work under while it is held: where the store's locks are leases
// (store.LeaseLocker, a store kept in a server), its held context, which
// ends when the lease is lost and fences the saves made with it (or with a
// context derived from it, context.WithoutCancel included); otherwise the
// plain lock, and ctx itself.
func (s *Session) lockRecord(ctx context.Context, name string) (context.Context, func() error, error) {
	if ll, ok := s.store.(store.LeaseLocker); ok {
		return ll.LockLease(ctx, s.key, name)
	}
	unlock, err := s.store.Lock(ctx, s.key, name)
	return ctx, unlock, err
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
	if der := s.cfg.dp.stored(); der != nil {
		rec.DPoPKey = der // the key tok is bound to goes with it
	}
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
