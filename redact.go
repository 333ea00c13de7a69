// Printing without secrets: String, GoString and LogValue of Config and
// Session, and Fingerprint.

package authloop

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/authloop/authloop/internal/urlrule"
)

// Fingerprint returns a short, stable name for a secret (a token, a code):
// "sha256:" and the first 8 hex digits of its SHA-256. It lets logs and
// summaries tell two tokens apart, and match one across processes, without
// revealing either. The empty string gives "none".
func Fingerprint(secret string) string {
	return urlrule.Fingerprint(secret)
}

// String describes the configuration without its secret: the client id,
// the endpoints, and whether a client secret is set.
func (c Config) String() string {
	if c.OAuth2 == nil {
		return "authloop.Config{OAuth2: nil}"
	}
	secret := "none"
	if c.OAuth2.ClientSecret != "" {
		secret = "set"
	}
	return fmt.Sprintf("authloop.Config{client %q, secret %s, token endpoint %s, issuer %q, resource %q}",
		c.OAuth2.ClientID, secret, urlrule.RedactURL(c.OAuth2.Endpoint.TokenURL), c.Issuer, c.Resource)
}

// GoString is String, so that %#v reveals no secret either.
func (c Config) GoString() string { return c.String() }

// String describes the session's state with fingerprints, never a token.
func (s *Session) String() string {
	st := s.cur.Load()
	if st == nil || st.tok == nil {
		return "authloop.Session{no token}"
	}
	exp := "unknown expiry"
	if !st.tok.Expiry.IsZero() {
		exp = "expires " + st.tok.Expiry.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("authloop.Session{access %s, %s, refresh %s}", Fingerprint(st.tok.AccessToken), exp, Fingerprint(st.tok.RefreshToken))
}

// GoString is String, so that %#v reveals no token either.
func (s *Session) GoString() string { return s.String() }

// LogValue makes a Session safe to hand to log/slog.
func (s *Session) LogValue() slog.Value { return slog.StringValue(s.String()) }

// LogValue makes a Config safe to hand to log/slog.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
