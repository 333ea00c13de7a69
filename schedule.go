// The background refresh timer: armed for each new token, stepped at most
// maxTimerStep so a wall clock that jumped (a laptop's sleep) is noticed.

package authloop

import "time"

// arm sets the background timer for st: at st.timerAt (a little before the
// refresh point), or later when a failed refresh asked to wait, or sooner
// when a failed save is to be tried again; never further than maxTimerStep
// away, so a wall clock that jumped while the machine slept is noticed
// within a minute of waking. Only the timer armed last acts when it fires.
// s.mu is held.
func (s *Session) arm(st *state) {
	s.disarm()
	if s.cfg.DisableAutoRefresh && s.unsaved == nil || s.closed {
		return
	}
	at := int64(never)
	if !s.cfg.DisableAutoRefresh && s.renewable(st) && st.timerAt != never {
		at = st.timerAt
		if n := s.nextTry.UnixNano(); !s.nextTry.IsZero() && n > at {
			at = n
		}
	}
	if s.unsaved != nil {
		at = min(at, s.saveAt.UnixNano())
	}
	if at == never {
		return
	}
	d := min(time.Duration(at-s.nowNano()), maxTimerStep)
	d = max(d, 0)
	gen := s.timerGen
	s.timerWG.Add(1)
	stop := s.clock.AfterFunc(d, func() { s.onTimer(gen) })
	s.stopTimer = func() bool {
		if stop() {
			s.timerWG.Done() // the callback will not run
			return true
		}
		return false
	}
}

// disarm stops the timer; one that fired already and waits for s.mu finds
// itself outdated and does nothing. s.mu is held.
func (s *Session) disarm() {
	s.timerGen++
	if s.stopTimer != nil {
		s.stopTimer()
		s.stopTimer = nil
	}
}

// onTimer runs when the background timer armed as generation gen fires: it
// retries a failed save when that is due, refreshes when the wall clock
// says it is time, and otherwise sets the timer again.
func (s *Session) onTimer(gen uint64) {
	defer s.timerWG.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.timerGen {
		return // a newer timer replaced this one (arm or disarm ran meanwhile)
	}
	s.stopTimer = nil
	if s.closed || s.flight != nil {
		return // a running flight re-arms when it ends
	}
	st := s.cur.Load()
	now := s.nowNano()
	switch {
	case s.unsaved != nil && now >= s.saveAt.UnixNano():
		s.start(&flight{saveOnly: true})
	case !s.cfg.DisableAutoRefresh && now >= st.timerAt && now >= s.nextTry.UnixNano() && s.renewable(st):
		s.start(&flight{proactive: true})
	default:
		s.arm(st)
	}
}

// renewable reports whether the timer can renew st's token without a
// person: with its refresh token, or, for a program's session
// (Config.Grant), with its grant.
func (s *Session) renewable(st *state) bool {
	return st.tok != nil && (st.tok.RefreshToken != "" || s.cfg.Grant != nil)
}
