// Tokens whose save failed: kept live, saved again soon, and the refresh
// tokens rotated away never presented again.

package authloop

import (
	"context"
	"slices"
	"time"

	"golang.org/x/oauth2"
)

// retrySave is the flight that retries a failed save before the next
// refresh: under the refresh lock, it writes the live token unless the
// store holds a newer grant, which it adopts. It returns the token the
// session is to hold.
func (s *Session) retrySave(cur *state) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), s.timeout)
	defer cancel()
	pending := s.pendingSave()
	if pending == nil {
		return cur.tok, nil
	}
	ctx, unlock, err := s.lockRecord(ctx, "refresh")
	if err != nil {
		return cur.tok, s.saveFailed(pending, &SaveError{Store: s.store.Describe(), Key: s.key, Err: err})
	}
	defer unlock()
	had := s.hadRecord.Load()
	rec, err := s.load(ctx)
	if err != nil {
		return cur.tok, s.saveFailed(pending, &SaveError{Store: s.store.Describe(), Key: s.key, Err: err})
	}
	if rec == nil && had {
		s.loggedOutElsewhere(cur) // never written back over a logout
		return s.cur.Load().tok, nil
	}
	if rec != nil {
		if t := fromStored(rec.Token); s.adoptable(t, cur.tok, false) {
			s.setUnsaved(nil)
			return t, nil
		}
	}
	if err := s.saveToken(ctx, rec, pending); err != nil {
		return cur.tok, s.saveFailed(pending, err)
	}
	s.setUnsaved(nil)
	s.cfg.logger().Info("authloop: saved the session's tokens after an earlier failure", "key", s.key.String())
	return cur.tok, nil
}

// setUnsaved records tok as the live token whose save failed, and when to
// try again (backing off from a second to a minute); nil says the store
// is up to date.
func (s *Session) setUnsaved(tok *oauth2.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unsaved = tok
	if tok == nil {
		s.saveTries = 0
		return
	}
	s.saveAt = s.clock.Now().Add(backoff(time.Second, maxTimerStep, s.saveTries))
	s.saveTries++
}

// pendingSave returns the live token whose save failed, or nil.
func (s *Session) pendingSave() *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unsaved
}

// saveFailed keeps pending as the token to save and schedules the next try;
// it returns err.
func (s *Session) saveFailed(pending *oauth2.Token, err error) error {
	s.setUnsaved(pending)
	return err
}

// retiredKept is how many rotated-away refresh tokens a session remembers.
const retiredKept = 8

// retire remembers a refresh token the server rotated away: the session
// never presents it again, even when the store still holds it (its save
// of the new one failed).
func (s *Session) retire(rt string) {
	if rt == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.retired) == retiredKept {
		s.retired = s.retired[1:]
	}
	s.retired = append(s.retired, rt)
}

// knownStale reports whether stored, read from the store while a save is
// pending, is older than the live token, whatever it looks like: the
// record the store held when that save failed, or a token of an earlier
// sign-in than the pending one (another process, which never saw this
// session's new sign-in, refreshed the grant it replaced).
func (s *Session) knownStale(stored *oauth2.Token) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if stored == nil || s.unsaved == nil {
		return false
	}
	return s.staleAccess != "" && stored.AccessToken == s.staleAccess || signedInAt(stored).Before(signedInAt(s.unsaved))
}

func (s *Session) isRetired(rt string) bool {
	if rt == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.retired, rt)
}
