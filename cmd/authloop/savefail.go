package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/store"
)

// Issue 13 item 1: a command says that it signed in, refreshed or printed a
// token only when the tokens it got are kept in the store. When the save
// fails, the library keeps the new tokens in the process only
// (*authloop.SaveError) and Session.Close tries the save once more; when
// that fails too, the tokens die with the process, and the command says so
// and exits 1. A token the server issued but that no later run will find
// is not handed out: the caller of a credential helper ignores the output
// of a failed run, and a run that exits 1 prints nothing on stdout.

// settleSave is called with the outcome of a Login or Refresh of s. When
// err is a failed save, it closes s, which retries the save, and returns
// nil if that retry worked; otherwise a *cliError that says what was lost
// (done: what the command achieved at the server, lost: what dies with
// the process) and what to do. Other errors come back as they are. A
// profile kept in Redis that cannot be reached first waits for Redis
// (settleRedisSave).
func (a *app) settleSave(s *authloop.Session, tok *oauth2.Token, err error, profile, done, lost string) error {
	var (
		se *authloop.SaveError
		re *redisError
	)
	if err == nil || tok == nil || !errors.As(err, &se) {
		return err
	}
	if errors.As(se.Err, &re) {
		return a.settleRedisSave(s, err, re.url, profile, done, lost)
	}
	if cerr := s.Close(); cerr == nil {
		return nil // Close saved them
	}
	// Short enough for one line (ui.fail cuts at maxMessage) with a
	// store path of some length: what was done, where it was not kept,
	// why, and what dies with the process.
	msg := fmt.Sprintf("%s, but the tokens could not be kept in the %s (%s): %s", done, se.Store, storeCause(se.Err), lost)
	hint := "fix the store (free space, permissions, a locked keyring); then " + loginHint(profile) + " (the refresh token the store still holds may be spent)"
	return &cliError{code: exitFailure, err: messageError{msg, err}, hint: hint}
}

// lostOnExit says what a failed save of a refresh loses: tok replaced
// old. Either may be nil (a refresh that failed).
func lostOnExit(old, tok *oauth2.Token) string {
	if tok == nil {
		return ""
	}
	if old != nil && tok.RefreshToken != "" && tok.RefreshToken != old.RefreshToken {
		return "the rotated refresh token is lost"
	}
	return lostAccessToken
}

// lostAccessToken is what a failed save of a refresh that did not rotate
// the refresh token loses: the refresh token the store holds still works.
const lostAccessToken = "the new access token is lost"

// storeCause is the heart of a store's error: the system's word for a
// file's failure ("file too large", "no space left on device"), else the
// error without its package prefixes.
func storeCause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	s := err.Error()
	for {
		t := strings.TrimPrefix(strings.TrimPrefix(s, "store: "), "authloop: ")
		if t == s {
			return s
		}
		s = t
	}
}

// readBack checks that the store holds tok as s's record, by loading the
// record again: a store that accepted the save but holds something else
// (a keyring that dropped the item, an older record) must not be reported
// as keeping the sign-in. A record saved since (another process refreshed
// the new tokens at once) holds the sign-in too.
func readBack(ctx context.Context, s *authloop.Session, tok *oauth2.Token, since time.Time) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	rec, err := s.Store().Load(ctx, s.Key())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errors.New("reading it back found no tokens")
	case err != nil:
		return fmt.Errorf("reading it back failed: %s", storeCause(err))
	case rec.Token == nil || rec.Token.AccessToken == "":
		return errors.New("reading it back found no tokens")
	case rec.Token.AccessToken == tok.AccessToken && rec.Token.RefreshToken == tok.RefreshToken:
	case rec.Updated.Before(since):
		return errors.New("reading it back gave older tokens")
	}
	return nil
}
