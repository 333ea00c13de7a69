package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// ui writes the lines meant for the person to stderr: messages, the
// authorization URL, and, only when stderr is a terminal, a spinner with the
// elapsed time on a line of its own that any other output first clears.
// Colours are used only on a terminal, and never when NO_COLOR is set
// (https://no-color.org). It is safe for concurrent use.
type ui struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	color bool
	live  bool // the spinner's line is on screen, without a newline
	stop  chan struct{}
	done  chan struct{}
}

func newUI(w io.Writer) *ui {
	tty := isTerminal(w)
	_, noColor := os.LookupEnv("NO_COLOR")
	return &ui{w: w, tty: tty, color: tty && !noColor && os.Getenv("TERM") != "dumb"}
}

// isTerminal reports whether w is a terminal (not a pipe, a file or
// /dev/null).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Write lets the library print its prompt lines through the ui, so they
// never run into the spinner.
func (u *ui) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearLocked()
	return u.w.Write(p)
}

// printf writes a message line.
func (u *ui) printf(format string, args ...any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearLocked()
	fmt.Fprintf(u.w, format+"\n", args...)
}

func (u *ui) paint(code, s string) string {
	if !u.color {
		return s
	}
	return "\033[" + code + "m" + s + "\033[0m"
}

func (u *ui) bold(s string) string   { return u.paint("1", s) }
func (u *ui) red(s string) string    { return u.paint("1;31", s) }
func (u *ui) green(s string) string  { return u.paint("32", s) }
func (u *ui) yellow(s string) string { return u.paint("33", s) }
func (u *ui) dim(s string) string    { return u.paint("2", s) }

// startSpinner shows "⠋ label 0:07" on a terminal until stopSpinner; it
// does nothing when stderr is not a terminal.
func (u *ui) startSpinner(label string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.tty || u.stop != nil {
		return
	}
	u.stop, u.done = make(chan struct{}), make(chan struct{})
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	start := time.Now()
	go func(stop, done chan struct{}) {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			el := time.Since(start).Truncate(time.Second)
			u.mu.Lock()
			fmt.Fprintf(u.w, "\r\033[K%s %s %s", u.paint("36", frames[i%len(frames)]), label,
				u.dim(fmt.Sprintf("%d:%02d  (Ctrl+C to cancel)", int(el.Minutes()), int(el.Seconds())%60)))
			u.live = true
			u.mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}(u.stop, u.done)
}

// stopSpinner removes the spinner and waits for its goroutine.
func (u *ui) stopSpinner() {
	u.mu.Lock()
	stop, done := u.stop, u.done
	u.stop, u.done = nil, nil
	u.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
	u.mu.Lock()
	u.clearLocked()
	u.mu.Unlock()
}

func (u *ui) clearLocked() {
	if u.live {
		fmt.Fprint(u.w, "\r\033[K")
		u.live = false
	}
}

// fail prints an error: one line saying what failed, then what to do.
func (u *ui) fail(err error) {
	u.stopSpinner()
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearLocked()
	fmt.Fprintf(u.w, "%s %s\n", u.red("authloop:"), tidy(err.Error()))
	var ce *cliError
	if errors.As(err, &ce) && ce.hint != "" {
		fmt.Fprintln(u.w, ce.hint)
	}
}

// oneLine keeps a message on one line.
func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}
