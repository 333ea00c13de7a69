package callback

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// shutdownGrace bounds how long Wait lets the last page reach the browser
// before it closes the remaining connections.
const shutdownGrace = 2 * time.Second

// Receiver is a loopback HTTP listener that waits for one authorization
// response. Create it with Listen; call Wait once, or Close.
type Receiver struct {
	// Set by newReceiver, read-only afterwards.
	path        string
	state       string
	appName     string
	timeout     time.Duration
	hostHeader  string // the only Host header accepted, e.g. "127.0.0.1:53124"
	redirectURI string
	success     *template.Template
	failure     *template.Template
	onRequest   func(Request)

	// Set by Listen; nil for a receiver that only handles requests (tests).
	ln  net.Listener
	srv *http.Server

	mu       sync.Mutex
	complete bool         // a valid response has been received
	result   chan outcome // buffered 1: the first valid response waits here

	waited    atomic.Bool
	closeOnce sync.Once
	closed    chan struct{} // closed once the server has stopped
	served    chan struct{} // closed when Serve returns
}

// outcome is what Wait returns.
type outcome struct {
	resp *Response
	err  error
}

// Listen validates cfg, binds the loopback address and starts serving at
// once, so the redirect URI is known before the authorization URL is built
// and a response that arrives before Wait is called is kept.
//
// It fails, with an error starting "callback: " that names the problem and
// the fix, when State is empty, Path does not start with "/", Addr is not a
// loopback address, or the port cannot be bound. For a port in use the error
// wraps the system error, so errors.Is(err, syscall.EADDRINUSE) holds.
func Listen(cfg Config) (*Receiver, error) {
	a, err := parseAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	network := "tcp4"
	if a.ip.To4() == nil {
		network = "tcp6"
	}
	bind := net.JoinHostPort(a.ip.String(), strconv.Itoa(a.port))
	ln, err := net.Listen(network, bind)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("callback: port %d on %s is already in use (another program, or another "+
				"login still waiting, is listening there): stop it, or choose another port, or port 0 to let the "+
				"system pick one if the provider accepts any loopback port: %w", a.port, a.ip, err)
		}
		if errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) {
			return nil, fmt.Errorf("callback: cannot listen on %s: this machine does not offer that loopback "+
				"address (IPv6 disabled?); use 127.0.0.1 instead: %w", bind, err)
		}
		return nil, fmt.Errorf("callback: cannot listen on %s: %w", bind, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	r := newReceiver(cfg, a.redirectHost, port)
	r.ln = ln
	r.srv = &http.Server{
		Handler:           http.HandlerFunc(r.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(r.served)
		_ = r.srv.Serve(ln) // returns http.ErrServerClosed after Shutdown or Close
	}()
	return r, nil
}

// checkConfig validates the fields other than Addr.
func checkConfig(cfg Config) error {
	if cfg.State == "" {
		return errors.New("callback: Config.State is empty: set it to the state value sent in the " +
			"authorization request (a fresh random value per login, for example from crypto/rand.Text())")
	}
	if cfg.Path != "" && !strings.HasPrefix(cfg.Path, "/") {
		return fmt.Errorf("callback: Config.Path %q does not start with \"/\": use a path such as %q", cfg.Path, DefaultPath)
	}
	if strings.ContainsAny(cfg.Path, "?#") {
		return fmt.Errorf("callback: Config.Path %q contains a query or fragment: give only the path, such as %q", cfg.Path, DefaultPath)
	}
	return nil
}

// newReceiver builds a receiver for the given redirect host and port, without
// binding anything: Listen binds, and the tests use it to call the handler
// directly. cfg must have passed checkConfig.
func newReceiver(cfg Config, redirectHost string, port int) *Receiver {
	r := &Receiver{
		path:      cfg.Path,
		state:     cfg.State,
		appName:   cfg.AppName,
		timeout:   cfg.Timeout,
		success:   cfg.SuccessTemplate,
		failure:   cfg.ErrorTemplate,
		onRequest: cfg.OnRequest,
		result:    make(chan outcome, 1),
		closed:    make(chan struct{}),
		served:    make(chan struct{}),
	}
	if r.path == "" {
		r.path = DefaultPath
	}
	if r.appName == "" {
		r.appName = DefaultAppName
	}
	if r.timeout == 0 {
		r.timeout = DefaultTimeout
	}
	if r.success == nil {
		r.success = defaultPages().Lookup("success.html")
	}
	if r.failure == nil {
		r.failure = defaultPages().Lookup("error.html")
	}
	r.hostHeader = net.JoinHostPort(redirectHost, strconv.Itoa(port))
	r.redirectURI = "http://" + r.hostHeader + r.path
	return r
}

// RedirectURI returns the redirect URI to send in the authorization request,
// such as "http://127.0.0.1:53124/callback". Its host is the IP literal
// listened on, or "localhost" when Config.Addr asked for it.
func (r *Receiver) RedirectURI() string { return r.redirectURI }

// Addr returns the address the receiver listens on.
func (r *Receiver) Addr() net.Addr {
	if r.ln == nil {
		return nil
	}
	return r.ln.Addr()
}

// Wait blocks until the first authorization response with the right state
// arrives, ctx is done, or the timeout passes. Call it once.
//
// It returns:
//   - (*Response, nil) for a response with a code;
//   - (*Response, *oautherr.Error) for an error response, Endpoint
//     "authorization"; the Response is returned too so that the caller can
//     check its Issuer (RFC 9207);
//   - (*Response, error wrapping ErrMalformedResponse) for a response with
//     the right state but neither code nor error;
//   - an error wrapping ctx.Err() when ctx is done;
//   - a *TimeoutError when the timeout passes;
//   - an error wrapping ErrClosed when Close was called, or Wait was already
//     called.
//
// Whatever happens, Wait closes the receiver before it returns, after giving
// the last page up to about two seconds to reach the browser.
func (r *Receiver) Wait(ctx context.Context) (*Response, error) {
	if !r.waited.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("%w: Wait was already called on the receiver for %s; a receiver serves one login, "+
			"call Listen again for another", ErrClosed, r.redirectURI)
	}
	defer r.shutdown()

	// A response that is already here wins over a context that is also done.
	select {
	case o := <-r.result:
		return o.resp, o.err
	default:
	}

	var expired <-chan time.Time
	if r.timeout > 0 {
		t := time.NewTimer(r.timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case o := <-r.result:
		return o.resp, o.err
	case <-ctx.Done():
		return nil, fmt.Errorf("callback: stopped waiting for the authorization response at %s: %w", r.redirectURI, ctx.Err())
	case <-expired:
		return nil, &TimeoutError{Waited: r.timeout, Path: r.path, RedirectURI: r.redirectURI}
	case <-r.closed:
		select { // Close may have raced with a response that did arrive.
		case o := <-r.result:
			return o.resp, o.err
		default:
		}
		return nil, fmt.Errorf("%w before an authorization response arrived at %s", ErrClosed, r.redirectURI)
	}
}

// Close stops the receiver at once, closing the listener and every
// connection, and unblocks a Wait in progress. It is idempotent: later calls
// return nil. After Close returns, nothing of the receiver is running.
func (r *Receiver) Close() error {
	var err error
	r.stop(func() { err = r.srv.Close() })
	return err
}

// shutdown stops the receiver gracefully: no new connections, and the
// requests in flight (the page just served) get up to shutdownGrace to finish.
func (r *Receiver) shutdown() {
	r.stop(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := r.srv.Shutdown(ctx); err != nil {
			_ = r.srv.Close() // the grace period passed: drop what is left
		}
	})
}

// stop runs halt once, waits for the server goroutine and marks the receiver closed.
func (r *Receiver) stop(halt func()) {
	r.closeOnce.Do(func() {
		if r.srv != nil {
			halt()
			<-r.served
		}
		close(r.closed)
	})
}
