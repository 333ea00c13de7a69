package integration_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/authloop/authloop/integration/peers"
)

// The peers, started once for the whole run by TestMain and stopped after
// it, whatever the tests did.
var (
	hydra    *peers.Hydra
	hydraErr error
	oidc     *peers.OIDCProvider
	oidcErr  error

	// transport carries every request of the tests (authloop's included);
	// its idle connections are closed before the leak check.
	transport = http.DefaultTransport.(*http.Transport).Clone()

	updateScreenshots = flag.Bool("update-screenshots", false, "write the Chromium screenshots into ../docs/screenshots")
)

func TestMain(m *testing.M) {
	if c := os.Getenv(childEnv); c != "" {
		os.Exit(childMain(c)) // a re-executed test binary: see processes_test.go
	}
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		start := time.Now()
		bin, err := peers.BuildHydra(ctx, ".")
		if err != nil {
			hydraErr = err
			return
		}
		built := time.Since(start)
		hydra, hydraErr = peers.StartHydra(ctx, peers.HydraOptions{Binary: bin})
		if hydraErr == nil {
			fmt.Fprintf(os.Stderr, "integration: Hydra %s ready at %s (build check %v, start %v)\n",
				peers.HydraVersion, hydra.PublicURL, built.Round(time.Millisecond), (time.Since(start) - built).Round(time.Millisecond))
		}
	}()
	go func() {
		defer wg.Done()
		start := time.Now()
		oidc, oidcErr = peers.StartOIDCProvider(ctx, peers.OIDCProviderOptions{Dir: filepath.Join(".", "oidc")})
		if oidcErr == nil {
			fmt.Fprintf(os.Stderr, "integration: oidc-provider %s ready at %s (%v)\n", oidc.Version, oidc.Issuer, time.Since(start).Round(time.Millisecond))
		}
	}()
	wg.Wait()
	defer func() { // also when a test panics out of m.Run
		hydra.Stop()
		oidc.Stop()
	}()
	for _, e := range []struct {
		name string
		err  error
	}{{"Hydra", hydraErr}, {"oidc-provider", oidcErr}} {
		if e.err != nil {
			fmt.Fprintf(os.Stderr, "integration: %s did not start: %v\n", e.name, e.err)
		}
	}

	code := m.Run()

	hydra.Stop()
	oidc.Stop()
	transport.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreCurrent()); err != nil {
			fmt.Fprintf(os.Stderr, "integration: goroutines left behind: %v\n", err)
			return 1
		}
	}
	return code
}

// inCI reports whether the run is CI's, where a missing peer is a failure,
// not a reason to skip.
func inCI() bool { return os.Getenv("CI") != "" }

// need stops the test when a peer is not there: a skip on a developer's
// machine that lacks the program, a failure in CI or when the peer broke.
func need(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if peers.IsUnavailable(err) && !inCI() {
		t.Skipf("%s is not available here (CI would fail): %v", name, err)
	}
	t.Fatalf("%s is needed and did not start: %v", name, err)
}
