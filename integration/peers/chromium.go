package peers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath finds the Chromium binary: $CHROMIUM, /usr/bin/chromium, or
// chromium / chromium-browser / google-chrome on PATH.
func ChromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("%w: $CHROMIUM: %v", errUnavailable, err)
		}
		return p, nil
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: no Chromium (install the Debian package chromium, or set $CHROMIUM)", errUnavailable)
}

// Chromium is one headless Chromium with an empty profile, driven by
// chromedp. Stop ends it.
type Chromium struct {
	ctx         context.Context // the tab's
	cancelAlloc context.CancelFunc
	cancelTab   context.CancelFunc
}

// StartChromium starts headless Chromium with the flags a closed network
// needs (no background networking, no component updates) and the given
// empty profile directory.
func StartChromium(userDataDir string) (*Chromium, error) {
	path, err := ChromiumPath()
	if err != nil {
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(userDataDir),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.WindowSize(900, 700),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	c := &Chromium{ctx: tabCtx, cancelAlloc: cancelAlloc, cancelTab: cancelTab}
	// Start the browser now, so that a failure shows here. The first Do
	// binds the browser's life to its context: no timeout on this one.
	if err := chromedp.Do(tabCtx); err != nil {
		c.Stop()
		return nil, fmt.Errorf("start Chromium (%s): %w", path, err)
	}
	return c, nil
}

// Stop closes the browser gracefully (10 s at most) and waits for its
// process to end.
func (c *Chromium) Stop() {
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	_ = chromedp.Cancel(ctx)
	c.cancelTab()
	c.cancelAlloc()
}

// Do runs chromedp actions in the browser's tab, bounded by timeout.
func (c *Chromium) Do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Screenshot captures the viewport as PNG.
func (c *Chromium) Screenshot(timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

// Location returns the tab's URL.
func (c *Chromium) Location(timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Location())
}

// Person is what a person does in the browser once authloop opened the
// authorization URL in it: given the browser, sign in and consent.
type Person func(c *Chromium) error

// Opener returns an authloop.Browser that navigates this Chromium to the
// authorization URL and then lets person act in a goroutine, as a person
// would while the program waits; Wait returns what person returned.
func (c *Chromium) Opener(person Person) (open func(ctx context.Context, url string) error, wait func() error) {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		err error
	)
	open = func(_ context.Context, url string) error {
		if err := c.Do(30*time.Second, chromedp.Navigate(url)); err != nil {
			return fmt.Errorf("chromium: open the authorization URL: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := person(c)
			mu.Lock()
			err = e
			mu.Unlock()
		}()
		return nil
	}
	wait = func() error {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return err
	}
	return open, wait
}

// WaitLocation waits until the tab's URL satisfies ok; what describes
// the page waited for, in errors.
func (c *Chromium) WaitLocation(timeout time.Duration, what string, ok func(url string) bool) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		loc, err := c.Location(5 * time.Second)
		if err != nil {
			return loc, err
		}
		if ok(loc) {
			return loc, nil
		}
		if time.Now().After(deadline) {
			return loc, errors.New("chromium: still not on " + what + " after " + timeout.String() + "; the page is " + redactURLString(loc))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func redactURLString(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i] + "?…"
	}
	return s
}
