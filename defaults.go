// The Config's defaults: what each field left zero means, read through one
// accessor per field, so that no other code repeats a default.

package authloop

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/authloop/authloop/callback"
	"github.com/authloop/authloop/store"
)

// Defaults and special values of the Session settings in Config.
const (
	// DefaultRefreshBuffer is how long before expiry a token is refreshed
	// when Config.RefreshBuffer is 0.
	DefaultRefreshBuffer = 5 * time.Minute
	// NoRefreshBuffer, as Config.RefreshBuffer, refreshes only at expiry.
	NoRefreshBuffer time.Duration = -1
	// DefaultMaxRetries is the number of retries of a transient failure
	// when Config.MaxRetries is 0.
	DefaultMaxRetries = 3
	// NoRetries, as Config.MaxRetries, makes every failure final at once.
	NoRetries = -1

	// defaultRefreshTimeout bounds a refresh when Config.RefreshTimeout
	// is 0.
	defaultRefreshTimeout = time.Minute
	// backoffBase and backoffCap are the first and the longest wait
	// between the retries of a refresh (refreshWithRetry).
	backoffBase = 500 * time.Millisecond
	backoffCap  = 10 * time.Second
)

// clock is Config.Clock, or the system clock.
func (c *Config) clock() Clock {
	if c.Clock != nil {
		return c.Clock
	}
	return systemClock{}
}

// now is the clock's time.
func (c *Config) now() time.Time { return c.clock().Now() }

// defaultHTTPClient is used when Config.HTTPClient is nil. It does not
// follow redirects: a token endpoint that redirects a POST is misconfigured,
// and following would resend the grant elsewhere.
var defaultHTTPClient = &http.Client{
	Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// httpClient is Config.HTTPClient, or defaultHTTPClient.
func (c *Config) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return defaultHTTPClient
}

// refreshBuffer is Config.RefreshBuffer: DefaultRefreshBuffer when 0,
// none when negative (NoRefreshBuffer).
func (c *Config) refreshBuffer() time.Duration {
	switch {
	case c.RefreshBuffer == 0:
		return DefaultRefreshBuffer
	case c.RefreshBuffer < 0:
		return 0
	}
	return c.RefreshBuffer
}

// maxRetries is Config.MaxRetries: DefaultMaxRetries when 0, none when
// negative (NoRetries).
func (c *Config) maxRetries() int {
	switch {
	case c.MaxRetries == 0:
		return DefaultMaxRetries
	case c.MaxRetries < 0:
		return 0
	}
	return c.MaxRetries
}

// refreshTimeout is Config.RefreshTimeout, or defaultRefreshTimeout when
// it is not positive.
func (c *Config) refreshTimeout() time.Duration {
	if c.RefreshTimeout <= 0 {
		return defaultRefreshTimeout
	}
	return c.RefreshTimeout
}

// loginTimeout is Config.LoginTimeout, or callback.DefaultTimeout when it
// is not positive: how long a browser sign-in may take. (The device flow,
// bounded by its code's expiry, applies Config.LoginTimeout only when set.)
func (c *Config) loginTimeout() time.Duration {
	if c.LoginTimeout <= 0 {
		return callback.DefaultTimeout
	}
	return c.LoginTimeout
}

// sessionStore is Config.Store, or a new memory store when it is nil:
// NewSession calls it once.
func (c *Config) sessionStore() store.Store {
	if c.Store != nil {
		return c.Store
	}
	return store.NewMemory()
}

// clientName is the name a dynamic registration gives the client:
// Config.ClientName, else Config.AppName, else "authloop".
func (c *Config) clientName() string {
	switch {
	case c.ClientName != "":
		return c.ClientName
	case c.AppName != "":
		return c.AppName
	}
	return "authloop"
}

// stderr is where Config.Prompt's lines go when it is nil (a variable, so
// tests can catch them).
var stderr = os.Stderr

// prompt is Config.Prompt, or stderr.
func (c *Config) prompt() io.Writer {
	if c.Prompt != nil {
		return c.Prompt
	}
	return stderr
}

// logger is Config.Logger, or a logger that discards everything.
func (c *Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return discardLogger
}

var discardLogger = slog.New(slog.DiscardHandler)
