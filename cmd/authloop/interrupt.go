package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/store"
)

// stopSignals ask authloop to stop: Ctrl+C (SIGINT), SIGTERM (kill's
// default, a service manager) and SIGHUP (the terminal went away).
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// catchSIGPIPE catches SIGPIPE once per process (see interruptible).
var catchSIGPIPE sync.Once

// saveBound is how long a second stop signal still waits for a save under
// way (a file store's takes milliseconds; a keyring may be slower).
const saveBound = 10 * time.Second

// interrupts handles the stop signals of one run, from the first
// interruptible call until release.
//
// The first signal cancels the commands' contexts: a login stops waiting
// for the person, a refresh stops waiting — but a refresh request already
// sent runs on in the library until its answer is read and saved (the
// server may have rotated the refresh token in it; Session.Close waits for
// that), and the run ends after it. A second signal ends the run at once,
// abandoning an answer still awaited, unless a save is under way: that
// one is waited for, up to saveBound. Later signals do the same. SIGKILL
// ends the process at once and may lose a rotated refresh token
// (docs/RELIABILITY.md). The run then ends as the first signal would have
// had it (dieOf).
type interrupts struct {
	mu      sync.Mutex
	ch      chan os.Signal
	done    chan struct{}
	cancels []context.CancelFunc
	first   os.Signal // nil: no stop signal yet
	count   int
	note    string        // what became of the work under way, for the stop message
	saving  int           // saves under way
	saveErr error         // the last save's outcome
	idle    chan struct{} // closed when saving drops to 0, after a second signal
	holding string        // new tokens waiting for their store to answer: what a second signal loses
}

// hold says what a second stop signal loses while new tokens wait for
// their store to answer again (holdForRedis); "" when none wait.
func (in *interrupts) hold(what string) {
	in.mu.Lock()
	in.holding = what
	in.mu.Unlock()
}

// interruptible returns ctx, cancelled by the first stop signal. Commands
// call it before they wait for the network or the person; the fast path
// of `authloop token` never does, so that it starts no signal handling
// (and the threads it costs) at all.
func (a *app) interruptible(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	in := &a.intr
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.first != nil {
		cancel()
		return ctx
	}
	in.cancels = append(in.cancels, cancel)
	if in.ch == nil {
		var sigs []os.Signal
		for _, s := range stopSignals {
			// A signal ignored at the start (nohup, a background job)
			// stays ignored: Notify would turn it back on.
			if !signal.Ignored(s) {
				sigs = append(sigs, s)
			}
		}
		in.ch, in.done = make(chan os.Signal, 4), make(chan struct{})
		signal.Notify(in.ch, sigs...)
		catchSIGPIPE.Do(func() {
			// Once the reader of stderr is gone (kubectl or git, stopped
			// by the same Ctrl+C), a message written there would end the
			// process with SIGPIPE before the save; caught, it makes the
			// write fail instead. It stays caught until the process exits.
			signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
		})
		go a.handleSignals(in.ch, in.done)
	}
	return ctx
}

func (a *app) handleSignals(ch <-chan os.Signal, done <-chan struct{}) {
	in := &a.intr
	for {
		var sig os.Signal
		select {
		case sig = <-ch:
		case <-done:
			return
		}
		in.mu.Lock()
		in.count++
		n := in.count
		if n == 1 {
			in.first = sig
			for _, c := range in.cancels {
				c()
			}
		}
		in.mu.Unlock()
		if n == 1 {
			a.ui.printf("%s %s: stopping; a token request already sent, if any, is answered and its tokens saved first (a second signal stops without waiting for an answer)", a.ui.yellow("authloop:"), signalName(sig))
			continue
		}
		a.stopNow(done)
	}
}

// stopNow ends the run after a second stop signal: at once, or once the
// saves under way are done (up to saveBound).
func (a *app) stopNow(done <-chan struct{}) {
	in := &a.intr
	in.mu.Lock()
	first, saving, holding := in.first, in.saving, in.holding
	if saving > 0 && in.idle == nil {
		in.idle = make(chan struct{})
	}
	idle := in.idle
	in.mu.Unlock()
	if saving > 0 {
		a.ui.printf("%s waiting for the save under way (at most %s)", a.ui.yellow("authloop:"), saveBound)
		select {
		case <-idle:
		case <-done:
			return // the run ended by itself
		case <-time.After(saveBound):
			a.ui.printf("%s the save did not finish within %s: the new tokens may be lost, and the next command may ask for a new login", a.ui.red("authloop:"), saveBound)
		}
		in.mu.Lock()
		if in.saveErr == nil && in.saving == 0 {
			holding = "" // the tokens held were saved by the save waited for
		}
		in.mu.Unlock()
	}
	select {
	case <-done:
		return // the run is ending by itself, with its message
	default:
	}
	a.ui.stopSpinner()
	switch {
	case holding != "":
		a.ui.printf("%s stopped by %s, again: %s", a.ui.red("authloop:"), signalName(first), holding)
	case saving == 0:
		a.ui.printf("%s stopped by %s, again, before the work under way had finished: a refresh still waiting for the server's answer was abandoned; if the server had already rotated the refresh token in it, the next command may ask for a new login",
			a.ui.red("authloop:"), signalName(first))
	default:
		a.ui.printf("%s stopped by %s, after the save", a.ui.red("authloop:"), signalName(first))
	}
	dieOf(first)
}

// beginSave and endSave bracket a save to the store; while the run is
// stopping, a save says so.
func (in *interrupts) beginSave(u *ui) {
	in.mu.Lock()
	in.saving++
	stopping := in.first != nil
	in.mu.Unlock()
	if stopping {
		u.printf("%s saving the new tokens before stopping", u.yellow("authloop:"))
	}
}

func (in *interrupts) endSave(err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.saveErr = err
	in.saving--
	if in.saving == 0 && in.idle != nil {
		close(in.idle)
		in.idle = nil
	}
}

// release stops the signal handling of the run (every command has
// returned, each session closed) and returns the first stop signal, if
// any, with what became of the work under way.
func (in *interrupts) release() (os.Signal, string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ch != nil {
		signal.Stop(in.ch)
		close(in.done)
		in.ch = nil
	}
	for _, c := range in.cancels {
		c()
	}
	in.cancels = nil
	return in.first, in.note
}

// stopped reports whether a stop signal came.
func (in *interrupts) stopped() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.first != nil
}

// guardedStore is a run's store: the run knows of its saves (see
// interrupts).
type guardedStore struct {
	store.Store
	in *interrupts
	ui *ui
}

func (g guardedStore) Save(ctx context.Context, rec *store.Record) (uint64, error) {
	g.in.beginSave(g.ui)
	gen, err := g.Store.Save(ctx, rec)
	g.in.endSave(err)
	return gen, err
}

// closeSession closes s, which waits for a refresh under way to be
// answered and saved, and, when the run is being stopped, notes whether
// the token changed meanwhile. before is the token s held at the start.
func (a *app) closeSession(s *authloop.Session, before *oauth2.Token) {
	_ = s.Close()
	if !a.intr.stopped() {
		return
	}
	after := s.Cached()
	if after == nil || (before != nil && after.AccessToken == before.AccessToken) {
		return
	}
	in := &a.intr
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.saveErr != nil {
		in.note = "the refresh already sent to the server was answered first, but saving its new tokens failed (" + in.saveErr.Error() + "); the next command may ask for a new login"
	} else {
		in.note = "the refresh already sent to the server was answered first, and its new tokens saved"
	}
}

// signalName is how a message names sig.
func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "Ctrl+C (SIGINT)"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return sig.String()
}

// stopCode is the exit status of a run stopped by sig: 128 + its number,
// as a shell reports a process the signal ended (130 for SIGINT, 143 for
// SIGTERM, 129 for SIGHUP).
func stopCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitFailure
}

// dieOf ends the process as sig would have, now that nothing is left to
// save: with the default action restored, it sends sig to itself, so that
// the parent sees a process ended by sig (a shell then stops a loop or a
// script, as it does for Ctrl+C). Where a process cannot signal itself
// (Windows), it exits with stopCode(sig).
func dieOf(sig os.Signal) {
	signal.Reset(sig)
	if p, err := os.FindProcess(os.Getpid()); err == nil && p.Signal(sig) == nil {
		time.Sleep(time.Second) // the signal is on its way
	}
	os.Exit(stopCode(sig))
}
