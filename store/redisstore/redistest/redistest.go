// Package redistest runs a real redis-server for tests, in the spirit of
// net/http/httptest: Start gives a server on a free loopback port, with its
// data in a temporary directory and AOF persistence on, and hands out
// ready clients. The server can be stopped, started again on the same
// port with the same data, restarted, and paused (SIGSTOP) to stand for a
// Redis that hangs.
//
// The redis-server binary is found on $PATH (Debian package
// redis-server), or at $AUTHLOOP_REDIS_SERVER. When it is missing, Start
// fails the test (it never skips): install it, as `make deps` does.
package redistest

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long Start waits for a server to answer.
const startTimeout = 30 * time.Second

// Server is a redis-server process run for a test. Its methods are safe
// for concurrent use.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	addr string
	cfg  Config
	tls  *tls.Config // the clients' TLS settings, with cfg.TLS

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	paused bool
}

// Start runs a redis-server on a free loopback port with its own
// temporary directory, `--save "" --appendonly yes --appendfsync always`
// (every write is in the AOF file on disk before it is answered, so a
// restart loses nothing), and returns once it answers PING. It is stopped
// when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Config{})
}

// Config changes how StartWith runs the server.
type Config struct {
	// User and Password, when both are set, make an ACL user with every
	// right and turn the default user off: a client must authenticate
	// (AUTH user password). Options then holds them.
	User, Password string
	// TLS serves TLS only (no plain port), with a certificate for
	// 127.0.0.1 made for the test; Options then holds a TLS configuration
	// that trusts it, and a client without TLS cannot talk to it.
	TLS bool
}

// StartWith is Start with cfg.
func StartWith(t testing.TB, cfg Config) *Server {
	t.Helper()
	bin := os.Getenv("AUTHLOOP_REDIS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			t.Fatalf("redis-server is not installed, and these tests need a real Redis: install it "+
				"(Debian: apt-get install -y redis-server; `make deps` does), or set AUTHLOOP_REDIS_SERVER to its path: %v", err)
		}
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), cfg: cfg}
	if cfg.TLS {
		var err error
		if s.tls, err = writeCertificate(s.dir); err != nil {
			t.Fatalf("redistest: %v", err)
		}
	}
	t.Cleanup(s.kill)
	var err error
	for range 5 { // another process may take the free port first
		s.addr, err = freePort()
		if err != nil {
			t.Fatal(err)
		}
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatalf("redistest: %v", err)
	return nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("redistest: no free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Dir returns the server's data directory (its AOF files and its log,
// redis.log).
func (s *Server) Dir() string { return s.dir }

// Options returns client options for the server: its address, short
// timeouts (a test should see a stopped or paused server fail fast) and
// ContextTimeoutEnabled.
func (s *Server) Options() *redis.Options {
	o := &redis.Options{
		Addr:                  s.addr,
		DialTimeout:           2 * time.Second,
		ReadTimeout:           2 * time.Second,
		WriteTimeout:          2 * time.Second,
		MaxRetries:            1,
		ContextTimeoutEnabled: true,
		Username:              s.cfg.User,
		Password:              s.cfg.Password,
	}
	if s.tls != nil {
		o.TLSConfig = s.tls.Clone()
	}
	return o
}

// Client returns a new client of the server (Options), closed when the
// test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(s.Options())
	s.t.Cleanup(func() { c.Close() })
	return c
}

// start runs the server on s.addr and waits until it answers.
func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.addr)
	args := []string{"--bind", "127.0.0.1", "--port", port, "--dir", s.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--daemonize", "no", "--logfile", filepath.Join(s.dir, "redis.log"), "--loglevel", "notice"}
	if s.cfg.TLS {
		args[3] = "0" // no plain port
		args = append(args, "--tls-port", port,
			"--tls-cert-file", filepath.Join(s.dir, "cert.pem"), "--tls-key-file", filepath.Join(s.dir, "key.pem"),
			"--tls-ca-cert-file", filepath.Join(s.dir, "cert.pem"), "--tls-auth-clients", "no")
	}
	if s.cfg.User != "" && s.cfg.Password != "" {
		args = append(args, "--user", s.cfg.User, "on", ">"+s.cfg.Password, "~*", "&*", "+@all", "--user", "default", "off")
	}
	cmd := exec.Command(s.bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited, s.paused = cmd, exited, false
	s.mu.Unlock()

	po := s.Options()
	po.MaxRetries, po.DialTimeout = -1, time.Second
	c := redis.NewClient(po)
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited at start: %s%s", s.addr, out.String(), s.logTail())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("redis-server on %s did not answer within %v: %v%s", s.addr, startTimeout, err, s.logTail())
		}
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\nredis.log:\n" + string(b)
}

// Stop shuts the server down as SIGTERM does (Redis flushes its AOF
// file and exits) and waits for it to exit. Clients then get connection
// refused.
func (s *Server) Stop() {
	s.t.Helper()
	s.signal(sigTerm)
}

// Kill ends the server with SIGKILL, as a crash would, and waits for it to
// exit.
func (s *Server) Kill() {
	s.t.Helper()
	s.signal(os.Kill)
}

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	cmd, exited, paused := s.cmd, s.exited, s.paused
	s.paused = false
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	if paused {
		_ = cmd.Process.Signal(sigCont)
	}
	<-exited
}

// kill is Kill for the test's cleanup.
func (s *Server) kill() { s.signal(os.Kill) }

// Start runs the stopped server again on the same port with the same
// data directory, and waits until it answers (it has loaded its AOF).
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: start again: %v", err)
	}
}

// Restart is Stop then Start.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

// Pause stops the server process (SIGSTOP): connections stay open but
// nothing is answered, as with a Redis that hangs. Resume continues it.
func (s *Server) Pause() {
	if sigStop == nil {
		s.t.Fatal("redistest: Pause needs SIGSTOP, which this OS does not have")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && !s.paused {
		_ = s.cmd.Process.Signal(sigStop)
		s.paused = true
	}
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.paused {
		_ = s.cmd.Process.Signal(sigCont)
		s.paused = false
	}
}
