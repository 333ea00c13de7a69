package integration_test

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/integration/peers"
)

// startChromium starts a headless Chromium with an empty profile for one
// test; without the program the test skips, except in CI.
func startChromium(t *testing.T) *peers.Chromium {
	t.Helper()
	if _, err := peers.ChromiumPath(); err != nil {
		need(t, "Chromium", err)
	}
	c, err := peers.StartChromium(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

func isCallback(u string) bool {
	return strings.HasPrefix(u, "http://127.0.0.1:") && strings.Contains(u, "/callback?")
}

// The whole login as a person does it: authloop opens the authorization
// URL in Chromium (Config.Browser); the person types a login and password
// into oidc-provider's sign-in form, clicks, confirms on the consent page;
// the provider redirects to authloop's loopback listener, whose success
// page the browser shows; Login returns the tokens.
func TestBrowserLoginOIDCProvider(t *testing.T) {
	oidcServer.start(t)
	c := startChromium(t)
	f := newFixture(t, oidcServer)
	var shot []byte
	person := func(c *peers.Chromium) error {
		// The sign-in form of devInteractions.
		if err := c.Do(30*time.Second,
			chromedp.WaitVisible(chromedp.CSS(`input[name="login"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name="login"]`), "alice"),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "correct horse"),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		); err != nil {
			return err
		}
		// The consent page, same URL, another form.
		if err := c.Do(30*time.Second,
			chromedp.WaitVisible(chromedp.CSS(`form input[name="prompt"][value="consent"] ~ button[type="submit"]`)),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		); err != nil {
			return err
		}
		if _, err := c.WaitLocation(30*time.Second, "authloop's callback", isCallback); err != nil {
			return err
		}
		if err := c.Do(10*time.Second, chromedp.WaitVisible(chromedp.CSS(`body`))); err != nil {
			return err
		}
		var err error
		shot, err = c.Screenshot(10 * time.Second)
		return err
	}
	tok := loginInChromium(t, c, f, person)
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	mustUserinfo(t, f, tok.AccessToken)
	saveScreenshot(t, "chromium-oidc-provider-success.png", shot)
}

// Hydra's login and consent are our auto-accepting app, so the browser
// only follows redirects: Chromium must get from the authorization URL to
// authloop's listener on its own.
func TestBrowserLoginHydra(t *testing.T) {
	hydraServer.start(t)
	c := startChromium(t)
	f := newFixture(t, hydraServer)
	person := func(c *peers.Chromium) error {
		_, err := c.WaitLocation(30*time.Second, "authloop's callback", isCallback)
		return err
	}
	tok := loginInChromium(t, c, f, person)
	mustUserinfo(t, f, tok.AccessToken)
	if hydra.Logins() == 0 || hydra.Consents() == 0 {
		t.Errorf("Hydra's login app saw %d logins and %d consents; want both", hydra.Logins(), hydra.Consents())
	}
}

// saveScreenshot checks that shot is a PNG of a sensible size, and writes
// it to docs/screenshots when -update-screenshots is given; otherwise into
// the test's temporary directory, named in the log.
func saveScreenshot(t *testing.T, name string, shot []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
		t.Fatalf("screenshot is %v; too small to show a page", b)
	}
	dir := t.TempDir()
	if *updateScreenshots {
		dir = filepath.Join("..", "docs", "screenshots")
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of authloop's success page in Chromium: %s", path)
}

// loginInChromium runs authloop.Login with Chromium as the browser, where
// person does what the person would on the server's pages.
func loginInChromium(t *testing.T, c *peers.Chromium, f *fixture, person peers.Person) *oauth2.Token {
	t.Helper()
	open, wait := c.Opener(person)
	cfg := *f.cfg
	cfg.Browser = open
	tok, err := authloop.Login(t.Context(), &cfg)
	if werr := wait(); werr != nil {
		t.Fatalf("the person in Chromium: %v (Login: %v)", werr, err)
	}
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	return tok
}
