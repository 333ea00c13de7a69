package authloop

import (
	"syscall"
	"time"
)

// wallNano returns the wall-clock time in nanoseconds since the Unix epoch,
// to the microsecond. On linux/amd64 syscall.Gettimeofday is one vDSO call
// (no system call), where time.Now makes two: the wall clock and the
// monotonic clock, which Token does not need (the monotonic clock stops
// while a laptop sleeps, so expiry is judged on the wall clock anyway).
// Where the clock source is slow (a virtual machine's), that halves the
// cost of Token's fast path. It errs late, never early: the end of the
// microsecond gettimeofday names.
func wallNano() int64 {
	var tv syscall.Timeval
	if err := syscall.Gettimeofday(&tv); err != nil {
		return time.Now().UnixNano()
	}
	// The true time lies within the microsecond from tv: its end is
	// returned, so that a token is never judged further from its expiry
	// than it is (a caller that read a finer clock just before Token
	// never gets a token inside the margin it was promised).
	return tv.Nano() + 999
}
