//go:build unix

package redistest

import (
	"os"
	"syscall"
)

// The signals that stop, continue and end the server.
var (
	sigStop os.Signal = syscall.SIGSTOP
	sigCont os.Signal = syscall.SIGCONT
	sigTerm os.Signal = syscall.SIGTERM
)
