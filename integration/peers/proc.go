package peers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// process is a peer running as a child process in its own process group,
// so that stopping it also stops whatever it started.
type process struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser // held open; node's server exits when it closes
	out   *syncBuffer
	done  chan struct{} // closed when the process has exited
	err   error         // Wait's result, valid after done
	once  sync.Once
}

// startProcess starts cmd in a new process group with its output captured.
// The child is also asked to die with the thread that started it
// (Pdeathsig), a second line of defence if the test binary is killed.
func startProcess(name string, cmd *exec.Cmd) (*process, error) {
	p := &process{name: name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop ends the process group: SIGTERM, then SIGKILL after grace. It waits
// for the process to be reaped, and is safe to call more than once.
func (p *process) stop(grace time.Duration) {
	p.once.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = p.stdin.Close()
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
		// Whatever is left in the group goes now, the leader included.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	})
}

// output returns what the process wrote so far.
func (p *process) output() string { return p.out.String() }

// waitFor polls check until it succeeds, the process exits or ctx ends.
func (p *process) waitFor(ctx context.Context, what string, check func(context.Context) error) error {
	var last error
	for {
		if err := check(ctx); err == nil {
			return nil
		} else {
			last = err
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before %s (%v); its output:\n%s", p.name, what, p.err, tail(p.output(), 4000))
		case <-ctx.Done():
			return fmt.Errorf("%s: no %s after waiting (%v, last: %v); its output:\n%s", p.name, what, ctx.Err(), last, tail(p.output(), 4000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// syncBuffer is a bytes.Buffer safe for the writes of a child's output
// and the reads of a test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. They are free
// when returned; a peer that then fails to bind one is restarted by the
// caller on new ports.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// errUnavailable marks a peer that cannot run on this machine at all (a
// missing program), as opposed to one that failed.
var errUnavailable = errors.New("peer unavailable")

// IsUnavailable reports whether err says a peer's program is missing.
func IsUnavailable(err error) bool { return errors.Is(err, errUnavailable) }
