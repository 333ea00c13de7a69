package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// helloSource is the baseline: the smallest Go program that prints a line.
const helloSource = `package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
`

// BenchmarkTokenProcess runs `authloop token` with a valid stored token as
// a whole process (no network request: the server is stopped first) and a
// hello-world Go binary, alternately, in the same run. It reports each
// one's median wall time per run, the ratio of the medians and the median
// of the per-pair ratios (token/hello; the target is at most 2).
//
// Two builds of the command are measured: "release", built as
// docs/BENCHMARKS.md and the README's install line build it
// (CGO_ENABLED=0, statically linked), and "cgo", as a plain `go install`
// builds it where a C compiler is present (net and os/user through cgo,
// dynamically linked). The hello-world binary is the same for both.
//
// With AUTHLOOP_BENCH_DIR set, the binaries and the configuration are left
// there, for hyperfine (see docs/BENCHMARKS.md).
func BenchmarkTokenProcess(b *testing.B) {
	c := newCLI(b)
	srv := oauthtest.NewServer(oauthtest.Config{AccessTokenTTL: 24 * time.Hour})
	c.mustLogin(srv, "bench")
	srv.Close()

	hello := filepath.Join(c.dir, "hello")
	src := filepath.Join(c.dir, "hello-src")
	if err := os.MkdirAll(src, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(helloSource), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.26\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	goBuild(b, src, hello, "CGO_ENABLED=0")
	// Without a C compiler there is no cgo build (a plain go install then
	// builds as the release does): only its sub-benchmark is skipped.
	withCgo := filepath.Join(c.dir, "authloop-cgo")
	cgoErr := tryBuild(".", withCgo, "CGO_ENABLED=1")
	bins := map[string]string{binPath: "authloop", hello: "hello"}
	if cgoErr == nil {
		bins[withCgo] = "authloop-cgo"
	}
	if dir := os.Getenv("AUTHLOOP_BENCH_DIR"); dir != "" {
		keep(b, c, dir, bins)
	}

	runOnce := func(path string, args ...string) time.Duration {
		cmd := exec.Command(path, args...)
		cmd.Env = c.env
		start := time.Now()
		if out, err := cmd.Output(); err != nil || len(out) == 0 {
			b.Fatalf("%s %v: %v", path, args, err)
		}
		return time.Since(start)
	}
	for _, build := range []struct{ name, path string }{{"release", binPath}, {"cgo", withCgo}} {
		b.Run(build.name, func(b *testing.B) {
			if build.path == withCgo && cgoErr != nil {
				b.Skipf("no cgo build (no C compiler?): %v", cgoErr)
			}
			for range 10 { // warm the page cache
				runOnce(hello)
				runOnce(build.path, "token", "--profile", "bench")
			}
			var th, tt []time.Duration
			var ratios []float64
			for b.Loop() {
				h := runOnce(hello)
				t := runOnce(build.path, "token", "--profile", "bench")
				th, tt = append(th, h), append(tt, t)
				ratios = append(ratios, float64(t)/float64(h))
			}
			// Medians: a shared machine's load spikes hit single runs, and
			// each pair runs back to back, so both see the same load.
			mh, mt := median(th), median(tt)
			b.ReportMetric(float64(mh.Nanoseconds()), "hello-ns/op")
			b.ReportMetric(float64(mt.Nanoseconds()), "token-ns/op")
			b.ReportMetric(float64(mt)/float64(mh), "ratio")
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "pair-ratio")
		})
	}
}

// goBuild builds the package in dir into out with the given environment
// additions.
func goBuild(b *testing.B, dir, out string, env ...string) {
	if err := tryBuild(dir, out, env...); err != nil {
		b.Fatal(err)
	}
}

// tryBuild is goBuild returning the failure.
func tryBuild(dir, out string, env ...string) error {
	build := exec.Command("go", "build", "-o", out, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), env...)
	if msg, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", out, err, msg)
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// keep copies the binaries (path to name) and the configuration to dir,
// for hyperfine.
func keep(b *testing.B, c *cli, dir string, bins map[string]string) {
	for from, name := range bins {
		data, err := os.ReadFile(from)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(c.dir, "config"), dir).CombinedOutput(); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
}
