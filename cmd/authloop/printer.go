package main

import (
	"fmt"
	"io"
	"sync"
)

// printer writes the demo's story: numbered steps, indented details and,
// on a terminal, one live status line (a countdown) that the next line
// replaces. It is safe for concurrent use: the Session's hooks print from
// its own goroutines.
type printer struct {
	mu   sync.Mutex
	w    io.Writer
	tty  bool // w is a terminal: live status lines are allowed
	live bool // a status line is on screen, without its newline
	step int
}

func newPrinter(w io.Writer) *printer {
	return &printer{w: w, tty: isTerminal(w)}
}

// say prints the next numbered step.
func (p *printer) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	p.step++
	fmt.Fprintf(p.w, "%2d. %s\n", p.step, fmt.Sprintf(format, args...))
}

// detail prints an indented line under the last step.
func (p *printer) detail(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, "    %s\n", fmt.Sprintf(format, args...))
}

// plain prints a line as it is (headings, blank lines).
func (p *printer) plain(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// status shows a live line on a terminal, replacing the previous one; it
// prints nothing elsewhere (a log file wants no countdown).
func (p *printer) status(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		return
	}
	fmt.Fprintf(p.w, "\r\033[K    %s", fmt.Sprintf(format, args...))
	p.live = true
}

// clear removes the live line, if any.
func (p *printer) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

func (p *printer) clearLocked() {
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
}
