package authloop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// Real providers differ; the session behaves the same against each.
func TestSessionProviderQuirks(t *testing.T) {
	cases := []struct {
		name string
		cfg  oauthtest.Config
		// check runs after one refresh of an expired token.
		check func(t *testing.T, f *fixture, tok *oauth2.Token)
	}{
		{"expires_in as a string", oauthtest.Config{ExpiresInAsString: true}, func(t *testing.T, f *fixture, tok *oauth2.Token) {
			if got := tok.Expiry.Sub(f.clock.Now()); got < 59*time.Minute || got > time.Hour {
				t.Fatalf("lifetime %v, want 1h", got)
			}
		}},
		{"no expires_in (lifetime unknown)", oauthtest.Config{OmitExpiresIn: true}, func(t *testing.T, f *fixture, tok *oauth2.Token) {
			if !tok.Expiry.IsZero() {
				t.Fatalf("expiry %v invented for an opaque token without expires_in", tok.Expiry)
			}
		}},
		{"no expires_in, JWT exp as a hint", oauthtest.Config{OmitExpiresIn: true, JWTAccessTokens: true}, func(t *testing.T, f *fixture, tok *oauth2.Token) {
			if got := tok.Expiry.Sub(f.clock.Now()); got < 59*time.Minute || got > time.Hour+time.Second {
				t.Fatalf("expiry from exp: %v from now, want about 1h", got)
			}
		}},
		{"lowercase token_type", oauthtest.Config{TokenType: "bearer"}, func(t *testing.T, f *fixture, tok *oauth2.Token) {
			if tok.Type() != "Bearer" {
				t.Fatalf("type %q", tok.Type())
			}
		}},
		{"refresh token with its own expiry", oauthtest.Config{RefreshTokenTTL: 24 * time.Hour, RefreshTokenExpiresInField: "refresh_expires_in"}, func(t *testing.T, f *fixture, tok *oauth2.Token) {
			exp, ok := tok.Extra(RefreshExpiryKey).(time.Time)
			if !ok || exp.Sub(f.clock.Now()) <= 0 || exp.Sub(f.clock.Now()) > 24*time.Hour {
				t.Fatalf("refresh expiry %v", tok.Extra(RefreshExpiryKey))
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.cfg, true)
			s := f.session()
			tok, err := s.Refresh(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, f, tok)
		})
	}
}

// GitHub answers token errors with HTTP 200: invalid_grant is still final.
func TestSessionErrorWithStatus200(t *testing.T) {
	f := newFixture(t, oauthtest.Config{ErrorsWithStatus200: true}, true)
	s := f.session()
	f.srv.RevokeAll()
	f.clock.Jump(2 * time.Hour)
	_, err := s.Token(context.Background())
	var oe *OAuthError
	if !errors.Is(err, ErrLoginRequired) || !errors.As(err, &oe) || oe.StatusCode != 200 {
		t.Fatalf("got %v, want login required from an HTTP 200 invalid_grant", err)
	}
}

// A proxy's HTML 502 is transient: retried, then recovered.
func TestSessionHTML502FromProxy(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	s := f.session()
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultHTML})
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatalf("HTML 502 not retried: %v", err)
	}
}

// The refresh request carries the resource (RFC 8707) and no scope.
func TestSessionRefreshSendsResource(t *testing.T) {
	f := newFixture(t, oauthtest.Config{JWTAccessTokens: true}, true)
	f.cfg.Resource = "https://mcp.example.com/mcp"
	tok, err := Login(context.Background(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.tok = tok
	s := f.session()
	tok, err = s.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !audienceContains(jwtClaims(t, tok.AccessToken)["aud"], f.cfg.Resource) {
		t.Fatal("refreshed token lost the resource audience")
	}
	form := f.cfg.refreshForm(tok)
	if form.Get("resource") != f.cfg.Resource || form.Has("scope") {
		t.Fatalf("refresh form %v", form)
	}
}

// Nothing leaks: no token, code or secret in the debug log, in errors, or
// in the %v of a session, its config or a stored token.
func TestNothingLeaks(t *testing.T) {
	var logBuf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logBuf, &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFixture(t, oauthtest.Config{}, true)
	f.srv.AddClient(oauthtest.Client{ID: "conf", Secret: "CLIENT-SECRET-XYZ", AuthMethod: "client_secret_basic"})
	f.cfg.OAuth2.ClientID = "conf"
	f.cfg.OAuth2.ClientSecret = "CLIENT-SECRET-XYZ"
	f.cfg.OAuth2.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	f.cfg.Logger = logger
	tok, err := Login(context.Background(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.tok = tok
	secrets := []string{tok.AccessToken, tok.RefreshToken, "CLIENT-SECRET-XYZ"}
	s := f.session()
	var errs []error
	f.srv.FailNext(2, oauthtest.Fault{Kind: oauthtest.FaultHTML})
	tok2, err := s.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, tok2.AccessToken, tok2.RefreshToken)
	f.srv.RevokeAll()
	f.clock.Jump(2 * time.Hour)
	_, err = s.Token(context.Background())
	errs = append(errs, err)

	slog.New(slog.NewTextHandler(lockedWriter{&logBuf, &mu}, nil)).Info("values", "session", s, "config", *f.cfg)
	mu.Lock()
	texts := []string{logBuf.String(), fmt.Sprintf("%v %+v %#v", s, s, s), fmt.Sprintf("%v %+v %#v", f.cfg, *f.cfg, *f.cfg)}
	mu.Unlock()
	for _, e := range errs {
		texts = append(texts, e.Error(), fmt.Sprintf("%+v", e))
	}
	if !strings.Contains(texts[0], "refresh attempt failed") {
		t.Fatalf("the debug log did not record the attempts:\n%s", texts[0])
	}
	for _, text := range texts {
		for _, sec := range secrets {
			if sec != "" && strings.Contains(text, sec) {
				t.Fatalf("secret %s leaked into: %.300s", Fingerprint(sec), text)
			}
		}
	}
}

type lockedWriter struct {
	buf *bytes.Buffer
	mu  *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
