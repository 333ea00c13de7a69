//go:build !(linux && amd64)

package authloop

import "time"

// wallNano returns the wall-clock time in nanoseconds since the Unix epoch.
// (On linux/amd64 a cheaper read is used; see wallclock_linux_amd64.go.)
func wallNano() int64 { return time.Now().UnixNano() }
