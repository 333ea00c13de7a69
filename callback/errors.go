package callback

import (
	"errors"
	"fmt"
	"time"
)

// ErrMalformedResponse is wrapped by the error Wait returns when a response
// with the right state carries neither a code nor an error parameter.
var ErrMalformedResponse = errors.New("callback: malformed authorization response")

// ErrClosed is wrapped by the error Wait returns when Close was called
// before an authorization response arrived, and when Wait is called on a
// receiver that was already closed or already waited on.
var ErrClosed = errors.New("callback: receiver closed")

// TimeoutError is returned by Wait when no valid authorization response
// arrived within Config.Timeout.
type TimeoutError struct {
	// Waited is how long Wait waited (the configured timeout).
	Waited time.Duration
	// Path is the callback path that was waited on.
	Path string
	// RedirectURI is the full redirect URI that was waited on.
	RedirectURI string
}

// Error says how long the receiver waited, for which path, and what to do.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("callback: no authorization response arrived at %s (path %s) within %s: "+
		"finish signing in within the time limit and check that the browser reached this redirect URI "+
		"(the redirect URI registered with the provider must match it), then try again",
		e.RedirectURI, e.Path, e.Waited)
}

// Timeout reports true, so that callers that test for a Timeout() method
// (as net.Error does) treat it as a timeout.
func (e *TimeoutError) Timeout() bool { return true }
