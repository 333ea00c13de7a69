package authloop

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// confidentialOnly rewrites the authorization server's metadata to list
// only client_secret_basic, so that dynamic registration registers a
// client with a secret.
type confidentialOnly struct{ base http.RoundTripper }

func (c confidentialOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err != nil || !strings.Contains(r.URL.Path, "/.well-known/") {
		return resp, err
	}
	return editJSON(resp, func(m map[string]any) bool {
		if m["token_endpoint"] == nil {
			return false
		}
		m["token_endpoint_auth_methods_supported"] = []string{"client_secret_basic"}
		return true
	})
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The client secret and the registration access token of a dynamic
// registration appear in no log line, no error and no page the person
// sees, through registrations, RFC 7592 updates (granted and refused),
// refused logins and refused refreshes.
func TestAttackRegistrationSecretsNeverShown(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true, RegistrationManagement: true})
	var logs syncBuffer
	var prompt syncBuffer
	cfgEdit := func(c *Config) {
		c.HTTPClient = &http.Client{Transport: confidentialOnly{http.DefaultTransport}}
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Prompt = &prompt
	}
	s := f.session(cfgEdit)
	f.login(s)
	var secrets []string
	note := func(c *store.Client) {
		for _, v := range []string{c.ClientSecret, c.RegistrationAccessToken} {
			if v != "" {
				secrets = append(secrets, v)
			}
		}
	}
	c1 := f.kept(s)
	if c1.ClientSecret == "" || c1.RegistrationAccessToken == "" {
		t.Fatalf("the test needs a registration with a secret and a registration access token: %v", c1)
	}
	note(c1)

	var errs []string
	// The port is taken: an RFC 7592 update.
	ln := occupy(t, f.redirectURI())
	f.login(s)
	note(f.kept(s))
	ln.Close()
	// Taken again, and the update is refused: a new registration, and the
	// person cancels.
	occupy(t, f.redirectURI())
	f.srv.DenyRegistration("invalid_redirect_uri", "redirect URIs cannot change")
	f.srv.DenyNext("access_denied", "no")
	if _, err := s.Login(context.Background()); err != nil {
		errs = append(errs, err.Error())
	}
	note(f.kept(s))
	// Every registration refused: the login cannot start.
	occupy(t, f.redirectURI())
	f.srv.DenyRegistration("invalid_redirect_uri", "no")
	f.srv.DenyRegistration("invalid_client_metadata", "no")
	if _, err := s.Login(context.Background()); err != nil {
		errs = append(errs, err.Error())
	}
	// A refresh refused as invalid_client.
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "invalid_client"})
	if _, err := s.Refresh(context.Background()); err != nil {
		errs = append(errs, err.Error())
	}
	f.mu.Lock()
	pages := strings.Join(f.refused, "\n")
	f.mu.Unlock()
	shown := map[string]string{"log": logs.String(), "prompt": prompt.String(), "errors": strings.Join(errs, "\n"), "pages": pages}
	for what, text := range shown {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("a client secret or registration access token (%.4s…) appears in the %s:\n%s", secret, what, text)
			}
		}
	}
	if testing.Verbose() {
		t.Logf("errors:\n%s", strings.Join(errs, "\n"))
	}
}
