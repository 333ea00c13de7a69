package authloop

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// loginBrowsingPrompt signs in through cfg with a browser that fails with
// browserErr, so the login prints the URL; the URL is followed from the
// prompt. It returns what the prompt showed.
func loginBrowsingPrompt(t *testing.T, srv *oauthtest.Server, browserErr error) string {
	t.Helper()
	var wg sync.WaitGroup
	defer wg.Wait()
	pw := &urlWatcher{found: func(u string) {
		wg.Add(1)
		go func() { defer wg.Done(); _, _, _ = oauthtest.Browse(context.Background(), nil, u) }()
	}}
	cfg := testConfig(srv, func(context.Context, string) error { return browserErr })
	cfg.Prompt = pw
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return pw.buf.String()
}

// When the browser cannot be opened, the prompt says why (the detail the
// browser's error gives, or "none configured" when it gives none) before
// the URL to open by hand.
func TestLoginPromptSaysWhyNoBrowserOpened(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: no display to show one on", ErrNoBrowser), "Could not open a browser (no display to show one on)."},
		{fmt.Errorf("%w", ErrNoBrowser), "Could not open a browser (none configured)."},
		{fmt.Errorf("xdg-open: exit status 3"), "Could not open a browser (xdg-open: exit status 3)."},
	} {
		if got := loginBrowsingPrompt(t, srv, c.err); !strings.HasPrefix(got, c.want+"\nOpen this URL to sign in:") {
			t.Errorf("browser error %q: prompt = %q, want it to start with %q and the URL", c.err, got, c.want)
		}
	}
}

// A client that asks for no scope sends no scope parameter (an empty one
// would be a request for no access at all on some servers).
func TestLoginWithoutScopesSendsNoScopeParameter(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := testConfig(srv, b.open)
	cfg.OAuth2.Scopes = nil
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	u, err := url.Parse(b.urls[0])
	b.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := u.Query()["scope"]; ok {
		t.Errorf("authorization request has scope=%q, want no scope parameter", v)
	}
}

// The login's last debug line says whether a refresh token came, without
// the token itself: what tells a person reading the log why the session
// will need a new sign-in at expiry.
func TestLoginDebugLogSaysWhetherARefreshTokenCame(t *testing.T) {
	for _, offline := range []bool{true, false} {
		srv := oauthtest.NewServer(oauthtest.Config{DisableRefreshTokens: !offline})
		b := &approvingBrowser{}
		cfg := testConfig(srv, b.open)
		var logs bytes.Buffer
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		tok, err := Login(context.Background(), cfg)
		b.wg.Wait()
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if (tok.RefreshToken != "") != offline {
			t.Fatalf("server with refresh tokens %v gave refresh token %v", offline, tok.RefreshToken != "")
		}
		var line string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "login complete") {
				line = l
			}
		}
		if want := fmt.Sprintf("refresh_token=%v", offline); !strings.Contains(line, want) {
			t.Errorf("login complete line %q, want %s", line, want)
		}
		if offline && strings.Contains(logs.String(), tok.RefreshToken) {
			t.Error("the debug log holds the refresh token")
		}
	}
}

// The device flow's last debug line says, as the browser login's does,
// whether a refresh token came, and never the token.
func TestDeviceLoginDebugLogSaysWhetherARefreshTokenCame(t *testing.T) {
	fastDevicePolls(t)
	for _, offline := range []bool{true, false} {
		srv := oauthtest.NewServer(oauthtest.Config{DeviceAutoApprovePolls: 1, DisableRefreshTokens: !offline})
		cfg := deviceConfig(srv)
		var logs bytes.Buffer
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		tok, err := Login(context.Background(), cfg)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		var line string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "device login complete") {
				line = l
			}
		}
		if want := fmt.Sprintf("refresh_token=%v", offline); !strings.Contains(line, want) {
			t.Errorf("device login complete line %q, want %s", line, want)
		}
		if offline && strings.Contains(logs.String(), tok.RefreshToken) {
			t.Error("the debug log holds the refresh token")
		}
	}
}
