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
// cost of Token's fast path. The microsecond truncation is far inside the
// expiry margin.
func wallNano() int64 {
	var tv syscall.Timeval
	if err := syscall.Gettimeofday(&tv); err != nil {
		return time.Now().UnixNano()
	}
	return tv.Nano()
}
