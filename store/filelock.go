package store

import (
	"context"
	"fmt"
	"io/fs"
	"sync"
	"time"
)

// A file lock is two locks taken in order: a one-slot semaphore shared by
// every goroutine of this process that takes the same lock (the OS's
// locks do not all exclude the goroutines of one process, and waiting on a
// channel honours ctx without polling), then the OS's lock, which
// excludes other processes and is released by the OS when its holder dies:
// a byte of the record's one lock file (filelock_fcntl.go), or, where
// that is not built, the flock(2) of a file per lock (filelock_flock.go).

// inProcess maps a lock file's path to the semaphore of this process.
var inProcess sync.Map // string -> chan struct{}

func semaphore(path string) chan struct{} {
	if ch, ok := inProcess.Load(path); ok {
		return ch.(chan struct{})
	}
	ch, _ := inProcess.LoadOrStore(path, make(chan struct{}, 1))
	return ch.(chan struct{})
}

// Poll intervals of a lock held by another process: short at first, so an
// uncontended handover is quick, then longer.
const (
	minPoll = time.Millisecond
	maxPoll = 25 * time.Millisecond
)

// poller paces the polls of a lock held by another process: its waits
// start at minPoll and double up to maxPoll. The zero value is ready; stop
// releases its timer.
type poller struct {
	next  time.Duration
	timer *time.Timer
}

// wait sleeps for the next interval, or returns ctx's error when ctx ends
// first.
func (p *poller) wait(ctx context.Context) error {
	if p.next == 0 {
		p.next = minPoll
	}
	if p.timer == nil {
		p.timer = time.NewTimer(p.next)
	} else {
		p.timer.Reset(p.next)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.timer.C:
	}
	p.next = min(2*p.next, maxPoll)
	return nil
}

func (p *poller) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return fmt.Sprintf("mode %04o", m.Perm())
	default:
		return "a special file, " + m.String()
	}
}
