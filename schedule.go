package authloop

import "time"

// arm sets the background timer for st: at st.timerAt (a little before the
// refresh point), or later when a failed refresh asked to wait, and never
// further than maxTimerStep away, so a wall clock that jumped while the
// machine slept is noticed within a minute of waking. s.mu is held.
func (s *Session) arm(st *state) {
	s.disarm()
	if s.cfg.DisableAutoRefresh || s.closed || st.tok == nil || st.tok.RefreshToken == "" || st.timerAt == never {
		return
	}
	at := st.timerAt
	if n := s.nextTry.UnixNano(); !s.nextTry.IsZero() && n > at {
		at = n
	}
	d := min(time.Duration(at-s.nowNano()), maxTimerStep)
	d = max(d, 0)
	s.timerWG.Add(1)
	stop := s.clock.AfterFunc(d, s.onTimer)
	s.stopTimer = func() bool {
		if stop() {
			s.timerWG.Done() // the callback will not run
			return true
		}
		return false
	}
}

// disarm stops the timer; s.mu is held.
func (s *Session) disarm() {
	if s.stopTimer != nil {
		s.stopTimer()
		s.stopTimer = nil
	}
}

// onTimer runs when the background timer fires: it refreshes when the wall
// clock says it is time, and otherwise sets the timer again.
func (s *Session) onTimer() {
	defer s.timerWG.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopTimer = nil
	if s.closed || s.flight != nil {
		return // a running flight re-arms when it ends
	}
	st := s.cur.Load()
	now := s.nowNano()
	if now >= st.timerAt && now >= s.nextTry.UnixNano() && st.tok != nil && st.tok.RefreshToken != "" {
		s.start(&flight{proactive: true})
		return
	}
	s.arm(st)
}
