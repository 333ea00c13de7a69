//go:build unix

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// started is a run of the built binary that the test watches line by line.
type started struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string // stderr, line by line
	exited chan struct{}
	err    error // cmd.Wait's, once exited

	mu     sync.Mutex
	stderr strings.Builder
}

// start runs authloop with args in the background; with "--" first, the
// rest is the whole command line.
func (c *cli) start(t *testing.T, args ...string) *started {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	if len(args) > 0 && args[0] == "--" {
		cmd = exec.Command(args[1], args[2:]...)
	}
	cmd.Env = c.env
	cmd.Stdout = io.Discard
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &started{t: t, cmd: cmd, lines: make(chan string, 100), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.mu.Lock()
			r.stderr.WriteString(sc.Text() + "\n")
			r.mu.Unlock()
			r.lines <- sc.Text()
		}
		close(r.lines)
		r.err = cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-r.exited
	})
	return r
}

func (r *started) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stderr.String()
}

// waitLine waits for a stderr line that contains s.
func (r *started) waitLine(s string) {
	r.t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				<-r.exited
				r.t.Fatalf("exited (%v) without a line containing %q:\n%s", r.err, s, r.output())
			}
			if strings.Contains(line, s) {
				return
			}
		case <-deadline:
			r.t.Fatalf("no line containing %q within a minute:\n%s", s, r.output())
		}
	}
}

// running fails the test if the process has exited.
func (r *started) running(when string) {
	r.t.Helper()
	select {
	case <-r.exited:
		r.t.Fatalf("exited %s: %v\n%s", when, r.err, r.output())
	default:
	}
}

// wait waits for the process to exit and returns how it ended.
func (r *started) wait() syscall.WaitStatus {
	r.t.Helper()
	select {
	case <-r.exited:
	case <-time.After(time.Minute):
		r.t.Fatalf("still running after a minute:\n%s", r.output())
	}
	for range r.lines {
	}
	ee, ok := r.err.(*exec.ExitError)
	if r.err != nil && !ok {
		r.t.Fatal(r.err)
	}
	if !ok {
		return 0
	}
	return ee.Sys().(syscall.WaitStatus)
}

// wantKilledBy fails unless ws says the process ended by sig.
func (r *started) wantKilledBy(ws syscall.WaitStatus, sig syscall.Signal) {
	r.t.Helper()
	if !ws.Signaled() || ws.Signal() != sig {
		r.t.Fatalf("ended with %v, want by %v (a shell shows %d):\n%s", describeStatus(ws), sig, 128+int(sig), r.output())
	}
}

func describeStatus(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exit %d", ws.ExitStatus())
}

// signalFixture is a signed-in profile "p" against a rotating server that
// detects reuse, with the next token request held once the server has
// acted on it.
type signalFixture struct {
	t        *testing.T
	srv      *oauthtest.Server
	c        *cli
	oldRT    string
	release  chan struct{}
	held     chan struct{}
	released sync.Once
}

func newSignalFixture(t *testing.T) *signalFixture {
	t.Helper()
	f := &signalFixture{t: t, srv: oauthtest.NewServer(oauthtest.Config{}), c: newCLI(t),
		release: make(chan struct{}), held: make(chan struct{})}
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.free) // before the server's Close
	f.c.mustLogin(f.srv, "p")
	f.c.agePastHalfLife(t, "p") // so that `token --min-valid 2h` refreshes
	f.oldRT = readRecordTokens(t, f.c).RefreshToken
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultHoldAnswer, Release: f.release, Held: f.held})
	return f
}

func (f *signalFixture) free() { f.released.Do(func() { close(f.release) }) }

// waitHeld waits until the server has rotated and holds its answer.
func (f *signalFixture) waitHeld(r *started) {
	f.t.Helper()
	select {
	case <-f.held:
	case <-r.exited:
		f.t.Fatalf("exited before its refresh request reached the server: %v\n%s", r.err, r.output())
	case <-time.After(time.Minute):
		f.t.Fatalf("no refresh request reached the server:\n%s", r.output())
	}
}

// wantSaved checks that the store holds the rotated refresh token and that
// it works: a stale one would be refused as reused (exit 3).
func (f *signalFixture) wantSaved() {
	f.t.Helper()
	if rt := readRecordTokens(f.t, f.c).RefreshToken; rt == "" || rt == f.oldRT {
		f.t.Fatal("the store does not hold the rotated refresh token")
	}
	if r := f.c.run("", "refresh", "--profile", "p"); r.code != 0 {
		f.t.Fatalf("refresh with the saved refresh token: %v", r)
	}
	for _, r := range f.srv.Requests() {
		if r.Endpoint == "token" && r.Error != "" {
			f.t.Fatalf("the server refused a token request (%s)", r.Error)
		}
	}
}

var sigName = map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM", syscall.SIGHUP: "SIGHUP"}

// A stop signal after the refresh request went out (the server has
// rotated, the answer is on its way): the process waits for the answer,
// saves it, says so and ends by the signal. For `refresh`, and for a
// `token` that has to refresh (--min-valid beyond the token's hour).
func TestE2ESignalDuringRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	commands := map[string][]string{
		"refresh": {"refresh", "--profile", "p"},
		"token":   {"token", "--profile", "p", "--min-valid", "2h"},
	}
	for _, name := range []string{"refresh", "token"} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
			t.Run(name+"/"+sigName[sig], func(t *testing.T) {
				f := newSignalFixture(t)
				r := f.c.start(t, commands[name]...)
				f.waitHeld(r)
				if err := r.cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				r.waitLine("stopping")
				r.running("while the server held the answer")
				f.free()
				r.wantKilledBy(r.wait(), sig)
				if out := r.output(); !strings.Contains(out, "answered first, and its new tokens saved") {
					t.Errorf("no word of the saved refresh:\n%s", out)
				}
				f.wantSaved()
				t.Logf("stderr:\n%s", r.output())
			})
		}
	}
}

// A second Ctrl+C while the new tokens are being saved waits for the save
// (the test holds the store's save lock meanwhile), then ends the run.
func TestE2ESecondSignalDuringSave(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	f := newSignalFixture(t)
	r := f.c.start(t, "refresh", "--profile", "p")
	f.waitHeld(r)
	unlock := holdStoreLock(t, f.c, "save")
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	r.waitLine("stopping")
	f.free()
	r.waitLine("saving the new tokens") // the answer is in; the save waits for the lock
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	r.waitLine("waiting for the save under way")
	_ = r.cmd.Process.Signal(syscall.SIGINT) // a third changes nothing
	r.running("during the save")
	unlock()
	r.wantKilledBy(r.wait(), syscall.SIGINT)
	f.wantSaved()
}

// A second Ctrl+C while the answer is still awaited ends the run at once:
// the person insisted. The answer is abandoned; at a server with strict
// rotation the next command is told to log in again.
func TestE2ESecondSignalAbandonsAwaitedAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	f := newSignalFixture(t)
	r := f.c.start(t, "refresh", "--profile", "p")
	f.waitHeld(r)
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	r.waitLine("stopping")
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	r.wantKilledBy(r.wait(), syscall.SIGINT) // while the server still holds the answer
	if out := r.output(); !strings.Contains(out, "was abandoned") {
		t.Errorf("no word of the abandoned refresh:\n%s", out)
	}
	f.free()
	if rt := readRecordTokens(t, f.c).RefreshToken; rt != f.oldRT {
		t.Fatal("the store changed although the answer was abandoned")
	}
	if res := f.c.run("", "refresh", "--profile", "p"); res.code != exitLoginRequired {
		t.Fatalf("after the abandoned rotation: %v; want exit 3 (login required)", res)
	}
}

// With stderr's reader gone (kubectl or git, stopped by the same Ctrl+C),
// the messages written while stopping ("saving the new tokens") cannot
// end the process with SIGPIPE before the save.
func TestE2ESignalWithStderrClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	f := newSignalFixture(t)
	cmd := exec.Command(binPath, "token", "--profile", "p", "--min-valid", "2h")
	cmd.Env = f.c.env
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-f.held:
	case err := <-exited:
		t.Fatalf("exited before the refresh: %v", err)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	sc := bufio.NewScanner(pr)
	for sc.Scan() && !strings.Contains(sc.Text(), "stopping") {
	}
	pr.Close() // nobody reads stderr any more
	f.free()
	select {
	case err = <-exited:
	case <-time.After(time.Minute):
		t.Fatal("still running after a minute")
	}
	ee, _ := err.(*exec.ExitError)
	if ee == nil || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
		t.Fatalf("ended with %v, want by SIGINT", err)
	}
	f.wantSaved()
}

// Started with SIGHUP ignored (nohup), authloop leaves it ignored: a
// hang-up neither stops the refresh nor changes its outcome.
func TestE2ESignalIgnoredStaysIgnored(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	f := newSignalFixture(t)
	r := f.c.start(t, "--", sh, "-c", `trap '' HUP; exec "$0" "$@"`, binPath, "refresh", "--profile", "p")
	f.waitHeld(r)
	_ = r.cmd.Process.Signal(syscall.SIGHUP)
	_ = r.cmd.Process.Signal(syscall.SIGHUP)
	f.free()
	if ws := r.wait(); ws.Signaled() || ws.ExitStatus() != 0 {
		t.Fatalf("ended with %v, want exit 0 (SIGHUP ignored):\n%s", describeStatus(ws), r.output())
	}
	if strings.Contains(r.output(), "stopping") {
		t.Errorf("an ignored SIGHUP stopped the run:\n%s", r.output())
	}
	f.wantSaved()
}
