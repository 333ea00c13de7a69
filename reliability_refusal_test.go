package authloop

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authloop/authloop/store"
)

// The fault matrix's rows for what is neither a transient fault nor a dead
// grant: a configuration the server refuses, a server's long wait, and a
// store that cannot save (issue 12).

// flakyStore fails the next failSaves saves, as a full disk or a locked
// keyring does.
type flakyStore struct {
	store.Store
	failSaves atomic.Int32
	saves     atomic.Int32 // successful saves
}

var errDiskFull = errors.New("write /home/a/.config/authloop/x.json: no space left on device")

func (f *flakyStore) Save(ctx context.Context, rec *store.Record) (uint64, error) {
	if f.failSaves.Add(-1) >= 0 {
		return 0, errDiskFull
	}
	f.failSaves.Store(0)
	f.saves.Add(1)
	return f.Store.Save(ctx, rec)
}

// moreOutcome is the table's wording for the rows of this file.
func (mf matrixFault) moreOutcome(st strategy) (string, bool) {
	switch mf.class {
	case classConfig:
		s := "1 request, not retried; refresh token kept (it works at the server); `OnRefreshFailure` once; "
		switch st {
		case onDemand, forced, authorize401:
			s += "an error naming " + mf.hint + ", never `ErrLoginRequired`"
		case timerFires, inWindow:
			s += "the still-valid token served"
		case client401:
			s += "the 401 reaches the caller"
		}
		return s + "; no request for a minute (`Refresh` gets the same error), then the next call recovers", true
	case classWait:
		s := "1 request (the wait passes the deadline); "
		switch st {
		case onDemand, forced, authorize401:
			s += "`*RetryLaterError` until now + 120 s"
		case timerFires, inWindow:
			s += "the still-valid token served, `OnRefreshFailure` once"
		case client401:
			s += "the 401 reaches the caller"
		}
		return s + "; the record keeps the wait: 50 more calls and another process's `Refresh` send no request; after 120 s one request recovers", true
	case classSaveFails:
		s := "1 request, the new token handed out ("
		switch st {
		case forced:
			s += "`Refresh` returns it with an error wrapping `*SaveError`"
		case client401, authorize401:
			s += "the request retried → 200"
		default:
			s += "no error: the token is live"
		}
		return s + "); `OnSaveFailure` once; the stale refresh token in the store is never presented: the next refresh saves the live one first, then rotates it; the server refuses nothing", true
	}
	return "", false
}

// runMoreRow runs one row of the classes of this file.
func (h *matrixHarness) runMoreRow(st strategy) {
	h.t.Helper()
	c0 := h.counts()
	rt0 := h.storedRefreshToken()
	h.inject(1)
	r := h.trigger(st)
	switch h.mf.class {
	case classConfig:
		h.expectConfigError(st, c0, rt0, r)
	case classWait:
		h.expectWait(st, c0, rt0, r)
	case classSaveFails:
		h.expectSaveFailure(st, c0, rt0, r)
		return
	}
	// The wait over (trigger jumps past it), the fault gone: the same
	// strategy recovers with the kept refresh token.
	c0 = h.counts()
	h.expectRecovered(st, "healed", 0, c0, h.trigger(st))
	h.checkStoredRefreshTokenWorks()
}

// expectRefusedCaller checks what the caller of a strategy saw of a
// refresh that failed while the token was still valid.
func (h *matrixHarness) expectRefusedCaller(st strategy, r result, want func(error) bool, what string) {
	h.t.Helper()
	switch st {
	case onDemand, forced, authorize401:
		if errors.Is(r.err, ErrLoginRequired) || !want(r.err) {
			h.t.Fatalf("got %v; want %s, not ErrLoginRequired", r.err, what)
		}
	case timerFires, inWindow:
		if r.err != nil || r.tok != r.old {
			h.t.Fatalf("got %v, %v; want the still-valid token", r.tok, r.err)
		}
	case client401:
		if r.status != http.StatusUnauthorized {
			h.t.Fatalf("HTTP %d (%v), want the 401 handed to the caller", r.status, r.err)
		}
	}
}

func (h *matrixHarness) expectConfigError(st strategy, c0 counters, rt0 string, r result) {
	h.t.Helper()
	c := h.counts()
	if got := c.attempts - c0.attempts; got != 1 {
		h.t.Errorf("%d refresh attempts, want 1 (a configuration error is not retried)", got)
	}
	if got := c.failures - c0.failures; got != 1 {
		h.t.Errorf("OnRefreshFailure called %d times, want 1", got)
	}
	h.expectRefusedCaller(st, r, func(err error) bool {
		var ce *configError
		return errors.As(err, &ce) && strings.Contains(err.Error(), h.mf.hint) && !isTransient(err)
	}, "a configuration error naming "+h.mf.hint)
	if !h.s.CanRefresh() || h.storedRefreshToken() != rt0 {
		h.t.Fatal("a configuration error dropped the refresh token")
	}
	// No loop: later callers get the error without a request.
	for range 5 {
		var ce *configError
		if _, err := h.s.Refresh(context.Background()); !errors.As(err, &ce) {
			h.t.Fatalf("Refresh after the configuration error: %v, want the same error", err)
		}
	}
	if got := h.attempts.Load(); got != c.attempts {
		h.t.Fatalf("%d more refresh attempts after a configuration error", got-c.attempts)
	}
}

func (h *matrixHarness) expectWait(st strategy, c0 counters, rt0 string, r result) {
	h.t.Helper()
	ctx := context.Background()
	c := h.counts()
	if got := c.attempts - c0.attempts; got != 1 {
		h.t.Errorf("%d refresh attempts, want 1 (the server's wait passes the refresh deadline)", got)
	}
	if got := c.failures - c0.failures; got != 1 {
		h.t.Errorf("OnRefreshFailure called %d times, want 1", got)
	}
	now := h.f.clock.Now()
	var until time.Time
	h.expectRefusedCaller(st, r, func(err error) bool {
		var rl *RetryLaterError
		if !errors.As(err, &rl) || !transientError(err) {
			return false
		}
		until = rl.Until
		return true
	}, "a *RetryLaterError")
	rec, err := h.store.Load(ctx, h.s.key)
	if err != nil {
		h.t.Fatal(err)
	}
	if d := rec.NotBefore.Sub(now); d < 119*time.Second || d > 120*time.Second {
		h.t.Fatalf("the record's NotBefore is %v from now, want the server's 120 s", d)
	}
	if !until.IsZero() && !until.Equal(rec.NotBefore) {
		h.t.Fatalf("the error's Until %v is not the record's NotBefore %v", until, rec.NotBefore)
	}
	// 50 more calls during the wait send nothing.
	for range 50 {
		var err error
		if st == onDemand {
			_, err = h.s.Token(ctx)
		} else {
			_, err = h.s.Refresh(ctx)
		}
		var rl *RetryLaterError
		if !errors.As(err, &rl) {
			h.t.Fatalf("a call during the wait: %v, want the *RetryLaterError", err)
		}
	}
	// Another process, sharing the store, honours the wait too.
	other, err := NewSession(h.f.cfg, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	_, err = other.Refresh(ctx)
	other.Close()
	var rl *RetryLaterError
	if !errors.As(err, &rl) || !rl.Until.Equal(rec.NotBefore) {
		h.t.Fatalf("another process's Refresh during the wait: %v, want a *RetryLaterError until %v", err, rec.NotBefore)
	}
	if got := h.attempts.Load(); got != c.attempts {
		h.t.Fatalf("%d token requests during the server's wait", got-c.attempts)
	}
	if !h.s.CanRefresh() || h.storedRefreshToken() != rt0 {
		h.t.Fatal("the refresh token was lost")
	}
}

func (h *matrixHarness) expectSaveFailure(st strategy, c0 counters, rt0 string, r result) {
	h.t.Helper()
	ctx := context.Background()
	c := h.counts()
	if got := c.attempts - c0.attempts; got != 1 {
		h.t.Errorf("%d refresh attempts, want 1", got)
	}
	if got := c.successes - c0.successes; got != 1 {
		h.t.Errorf("the server answered %d refreshes with 200, want 1", got)
	}
	if got := c.changes - c0.changes; got != 1 {
		h.t.Errorf("%d token changes, want 1", got)
	}
	if got := h.saveFailures.Load(); got != 1 {
		h.t.Errorf("OnSaveFailure called %d times, want 1", got)
	}
	live := h.s.cur.Load().tok
	if live.RefreshToken == rt0 || live.RefreshToken == "" {
		h.t.Fatal("the session does not hold the rotated refresh token")
	}
	switch st {
	case client401, authorize401:
		if r.status != http.StatusOK {
			h.t.Fatalf("HTTP %d (%v), want the retried request to succeed", r.status, r.err)
		}
	case forced:
		var se *SaveError
		if !errors.As(r.err, &se) || !errors.Is(r.err, errDiskFull) || r.tok != live {
			h.t.Fatalf("Refresh returned %v, %v; want the new token with an error wrapping *SaveError", r.tok, r.err)
		}
	default:
		if r.err != nil || r.tok != live {
			h.t.Fatalf("got %v, %v; want the new token, no error", r.tok, r.err)
		}
	}
	if h.storedRefreshToken() != rt0 {
		h.t.Fatal("the store was written although every save failed")
	}
	// The next refresh presents the live refresh token, never the stale
	// one in the store (which the server would take as a reuse, revoking
	// the grant), and saves the live one first.
	tok, err := h.s.Refresh(ctx)
	if err != nil {
		h.t.Fatalf("the next refresh: %v", err)
	}
	for _, q := range h.f.srv.Requests() {
		if q.GrantType == "refresh_token" && q.Status != http.StatusOK {
			h.t.Fatalf("the server refused a refresh (%d %s): a rotated-away refresh token was presented", q.Status, q.Error)
		}
	}
	if tok.RefreshToken == live.RefreshToken || h.storedRefreshToken() != tok.RefreshToken || !h.f.srv.ValidAccessToken(tok.AccessToken) {
		h.t.Fatal("the next refresh did not rotate and save the live refresh token")
	}
	h.checkStoredRefreshTokenWorks()
}
