// Opening the authorization URL: the Browser type, the system browser
// ($BROWSER, then the platform's opener) and NoBrowser.

package authloop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/cli/browser"
)

// Browser opens url so that the person can sign in. It returns an error
// when it cannot; Login then prints the URL for the person to open by hand
// and keeps waiting for the redirect.
type Browser func(ctx context.Context, url string) error

// NoBrowser opens nothing and returns ErrNoBrowser, so Login only prints the
// authorization URL, without reporting a failure to open a browser (an
// opener that returns ErrNoBrowser itself, unwrapped, is taken as the same
// choice). Use it for SSH sessions, containers and scripts.
func NoBrowser(context.Context, string) error { return ErrNoBrowser }

// SystemBrowser opens url in the person's browser. It honours $BROWSER (a
// list of commands separated by ':', where %s stands for the URL, as
// sensible-browser and xdg-open read it); otherwise it asks the desktop
// through github.com/cli/browser. On a Unix machine without a display it
// does not try (a text-mode www-browser would take over the terminal) and
// returns an error wrapping ErrNoBrowser.
func SystemBrowser(ctx context.Context, url string) error {
	if list := os.Getenv("BROWSER"); list != "" {
		return openFromEnv(ctx, list, url)
	}
	if hasNoDisplay() {
		return fmt.Errorf("%w: no graphical display ($DISPLAY and $WAYLAND_DISPLAY are empty) and $BROWSER is not set", ErrNoBrowser)
	}
	if err := browser.OpenURL(url); err != nil {
		return fmt.Errorf("%w: %v", ErrNoBrowser, err)
	}
	return nil
}

func hasNoDisplay() bool {
	switch runtime.GOOS {
	case "windows", "darwin", "ios", "android":
		return false
	}
	return os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == ""
}

// openFromEnv tries each command of $BROWSER in turn. A command that is
// still running after a moment counts as a browser that opened; one that
// fails at once lets the next one try.
func openFromEnv(ctx context.Context, list, url string) error {
	var errs []error
	for _, entry := range strings.Split(list, string(os.PathListSeparator)) {
		fields := strings.Fields(entry)
		if len(fields) == 0 {
			continue
		}
		args := fields[1:]
		replaced := false
		for i, a := range args {
			if strings.Contains(a, "%s") {
				args[i] = strings.ReplaceAll(a, "%s", url)
				replaced = true
			}
		}
		if !replaced {
			args = append(args, url)
		}
		cmd := exec.Command(fields[0], args...)
		if err := cmd.Start(); err != nil {
			errs = append(errs, fmt.Errorf("$BROWSER command %q: %w", fields[0], err))
			continue
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err == nil {
				return nil
			}
			errs = append(errs, fmt.Errorf("$BROWSER command %q: %w", fields[0], err))
		case <-time.After(2 * time.Second):
			return nil // still running: a browser that stays open
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("%w: %w", ErrNoBrowser, errors.Join(errs...))
}
