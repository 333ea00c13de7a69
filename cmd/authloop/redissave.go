package main

import (
	"context"
	"errors"
	"time"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/store"
)

// Issue 16: a profile kept in Redis whose save fails because Redis cannot
// be reached (a restart, a failover, the network) does not give up on the
// new tokens after one more try, as a full disk makes a file store do: an
// outage passes, and the server may have rotated the refresh token, which
// then lives only in this process. The command holds the tokens and saves
// them as soon as Redis answers again, for at most redisSaveWait, and says
// so once on stderr; a second stop signal gives up (interrupts.holding).
// When it gives up, it exits 4 (Redis unreachable), naming Redis, never
// its password, and what was lost.

// redisSaveWait is how long a command holds new tokens that Redis could
// not take, waiting for it to answer again. A variable for the tests.
var redisSaveWait = 2 * time.Minute

// redisProbeEvery is how often the held tokens' store is asked whether it
// answers again; each probe is bounded by redisProbeTimeout.
const (
	redisProbeEvery   = time.Second
	redisProbeTimeout = 5 * time.Second
)

// settleRedisSave settles a failed save (err, a *authloop.SaveError) of
// s, a session on the profile's Redis store at url: while Redis cannot be
// reached, it waits for it (holdForRedis), then closes s, which saves the
// tokens again. It returns nil when they were saved, otherwise what was
// lost with a hint about Redis: exit 4 when it could still not be reached,
// 1 for another refusal (a lease passed to another holder, credentials).
func (a *app) settleRedisSave(s *authloop.Session, err error, url, profile, done, lost string) error {
	if redisDown(err) {
		a.holdForRedis(s, url, lost)
	}
	cerr := s.Close()
	if cerr == nil {
		return nil // saved
	}
	hint := "then sign in again: " + loginHint(profile) + " (the refresh token kept in Redis was rotated away at the server)"
	switch lost {
	case lostAccessToken:
		hint = "the refresh token kept in Redis still works: the next command refreshes again"
	case "the sign-in is lost":
		hint = "then sign in again: " + loginHint(profile)
	}
	if redisDown(cerr) {
		why := netProblem(cerr)
		if why == "" {
			why = "no answer"
		}
		return &cliError{code: exitUnreachable,
			err:  messageError{done + ", but Redis at " + url + " could not be reached within " + roundDuration(redisSaveWait) + " to keep the new tokens (" + why + "): " + lost, cerr},
			hint: "check that Redis is running and reachable there; " + hint}
	}
	code, redisHint := exitFailure, "check Redis at "+url
	if ce := explainRedis(cerr, profile); ce != nil {
		code, redisHint = ce.code, ce.hint
	}
	msg := done + ", but the tokens could not be kept in Redis at " + url + " (" + storeCause(cerr) + "): " + lost
	return &cliError{code: code, err: messageError{msg, cerr}, hint: redisHint + "; " + hint}
}

// redisDown reports whether err says that the profile's Redis could not
// be reached, or answered that it cannot serve now (an outage that
// passes), as explainRedis tells it.
func redisDown(err error) bool {
	ce := explainRedis(err, "")
	return ce != nil && ce.code == exitUnreachable
}

// holdForRedis waits until the Redis store of s answers again, or
// redisSaveWait has passed, saying once that the new tokens are held
// meanwhile and what stopping now loses. A first stop signal does not end
// the wait (the run stops after the save, as it does after a token request
// already sent); a second one ends the run (interrupts.holding).
func (a *app) holdForRedis(s *authloop.Session, url, lost string) {
	u := a.ui
	u.printf("%s Redis at %s cannot be reached to keep the new tokens: they are held in this process, and saved as soon as Redis answers again (waiting at most %s); stopping authloop before then (a second Ctrl+C) loses them: %s",
		u.yellow("authloop:"), url, roundDuration(redisSaveWait), lost)
	a.intr.hold("the new tokens were still waiting for Redis at " + url + ": " + lost)
	defer a.intr.hold("")
	probe := redisProbe(s)
	deadline := time.Now().Add(redisSaveWait)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		time.Sleep(min(redisProbeEvery, left))
		ctx, cancel := context.WithTimeout(context.Background(), min(redisProbeTimeout, max(time.Until(deadline), time.Second)))
		err := probe(ctx)
		cancel()
		if err == nil || !redisDown(err) {
			return // Redis answers: the save is tried again (Close)
		}
	}
}

// redisProbe returns a function that asks s's Redis store whether it
// answers: a read of s's record, made on the Redis store itself, beneath
// the command's wrappers (a read through clearCorrupt would clear a record
// it cannot read).
func redisProbe(s *authloop.Session) func(context.Context) error {
	st := s.Store()
	for unwrapped := false; !unwrapped; {
		switch w := st.(type) {
		case guardedStore:
			st = w.Store
		case leaseStore:
			st = w.Store
		case *clearCorrupt:
			st = w.Store
		default: // the *redisStore itself, or a store this list does not know
			unwrapped = true
		}
	}
	return func(ctx context.Context) error {
		_, err := st.Load(ctx, s.Key())
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
}
