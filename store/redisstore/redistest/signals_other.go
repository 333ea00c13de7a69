//go:build !unix

package redistest

import "os"

// No SIGSTOP or SIGTERM here: Pause fails the test, and Stop kills.
var (
	sigStop os.Signal
	sigCont os.Signal
	sigTerm = os.Kill
)
