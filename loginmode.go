// The login modes (browser or device flow) and how Login picks one.

package authloop

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// LoginMode chooses how Login signs the person in.
type LoginMode int

const (
	// LoginAuto, the zero value, opens the browser when one can be opened
	// (Config.Browser is set, or the system has a display or $BROWSER);
	// otherwise it runs the device authorization grant when the server
	// offers it (Endpoint.DeviceAuthURL, or device_authorization_endpoint in
	// the issuer's metadata); otherwise the loopback flow, printing the URL
	// for the person to open by hand.
	LoginAuto LoginMode = iota
	// LoginBrowser always runs the authorization code flow through the
	// loopback redirect (RFC 8252), as Login describes.
	LoginBrowser
	// LoginDevice always runs the device authorization grant (RFC 8628):
	// the person approves a short code on any device with a browser.
	LoginDevice
)

// String returns "auto", "browser" or "device".
func (m LoginMode) String() string {
	switch m {
	case LoginAuto:
		return "auto"
	case LoginBrowser:
		return "browser"
	case LoginDevice:
		return "device"
	default:
		return fmt.Sprintf("LoginMode(%d)", int(m))
	}
}

// ParseLoginMode reads "auto" (or ""), "browser" or "device".
func ParseLoginMode(s string) (LoginMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return LoginAuto, nil
	case "browser":
		return LoginBrowser, nil
	case "device":
		return LoginDevice, nil
	}
	return LoginAuto, fmt.Errorf("authloop: unknown login mode %q; use auto, browser or device", s)
}

// chooseDevice decides, for login, whether to run the device flow, and
// returns the device authorization endpoint if so.
func (c *Config) chooseDevice(ctx context.Context) (endpoint string, forced bool, err error) {
	switch c.LoginMode {
	case LoginBrowser:
		return "", false, nil
	case LoginDevice:
		ep, err := c.deviceEndpoint(ctx)
		if err != nil {
			return "", true, fmt.Errorf("%w; use the browser login instead, or set Config.OAuth2.Endpoint.DeviceAuthURL", err)
		}
		return ep, true, nil
	}
	if c.Browser != nil || browserLikely() {
		return "", false, nil
	}
	ep, err := c.deviceEndpoint(ctx)
	if err != nil {
		c.logger().Debug("authloop: no device flow; the loopback flow prints the URL", "reason", err.Error())
		return "", false, nil
	}
	return ep, false, nil
}

// browserLikely reports whether SystemBrowser can probably open a window:
// $BROWSER is set, or the system has a display.
func browserLikely() bool {
	if os.Getenv("BROWSER") != "" {
		return true
	}
	switch runtime.GOOS {
	case "windows", "darwin", "ios", "android":
		return true
	}
	return !hasNoDisplay()
}
