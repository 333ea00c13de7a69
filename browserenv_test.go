package authloop

import (
	"context"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// $BROWSER set says a browser can open even without a display (a person
// over SSH with a forwarding helper): the automatic mode then signs in
// through the browser, not the device flow the server also offers.
func TestLoginAutoWithBROWSERSetChoosesTheBrowser(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	cfg := deviceConfig(srv)
	cfg.LoginMode = LoginAuto
	cfg.Browser = nil
	for _, c := range []struct {
		browser    string
		wantDevice bool
	}{
		{"true", false},
		{"", true}, // without $BROWSER: the device flow, where the system has no display
	} {
		t.Setenv("BROWSER", c.browser)
		if c.browser == "" && browserLikely() {
			continue // a system that always has a browser (macOS, Windows)
		}
		ep, forced, err := cfg.chooseDevice(context.Background())
		if err != nil || forced {
			t.Fatalf("BROWSER=%q: chooseDevice: %q, forced %v, %v", c.browser, ep, forced, err)
		}
		if (ep != "") != c.wantDevice {
			t.Errorf("BROWSER=%q: device endpoint %q, want the device flow: %v", c.browser, ep, c.wantDevice)
		}
	}
}
