package authloop

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// A token endpoint's unusable answer is described with its status and
// media type, or "no content type" when it named none (often the sign of
// a proxy's or gateway's page, not the server's answer).
func TestTokenResponseErrorNamesTheMediaType(t *testing.T) {
	e := &TokenResponseError{StatusCode: 502, ContentType: "text/html", Problem: "not JSON"}
	if msg := e.Error(); !strings.Contains(msg, "HTTP 502 (text/html)") || !strings.Contains(msg, "not JSON") {
		t.Errorf("%q: want the status, the media type and the problem", msg)
	}
	e.ContentType = ""
	if msg := e.Error(); !strings.Contains(msg, "HTTP 502 (no content type)") {
		t.Errorf("%q: want it to say there was no content type", msg)
	}
}

// When the refresh token is refused and the sign-in that follows fails
// too, the error says both: why a sign-in was needed, and how it failed.
func TestFailedReloginSaysWhyItWasNeeded(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	f.cfg.Interactive = true
	s := f.session()
	f.srv.RevokeAll()
	f.srv.DenyNext("access_denied", "the person cancelled")
	f.clock.Jump(2 * time.Hour)
	_, err := s.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refresh token was refused") || !strings.Contains(err.Error(), "the new login failed") || !strings.Contains(err.Error(), "access_denied") {
		t.Fatalf("Token: %v, want the refusal, and the failed sign-in with its cause", err)
	}
}
