package callback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestResponseBeforeWaitIsKept(t *testing.T) {
	r, err := Listen(Config{State: testState})
	if err != nil {
		t.Fatal(err)
	}
	res, err := testClient(t).Get(r.RedirectURI() + "?" + q("state", testState, "code", "early"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	// Even with a context that is already done, the response that arrived first wins.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := r.Wait(ctx)
	if err != nil || resp.Code != "early" {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
}

func TestWaitContextCanceled(t *testing.T) {
	r, err := Listen(Config{State: testState, Timeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	_, err = r.Wait(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), r.RedirectURI()) || !strings.HasPrefix(err.Error(), "callback: ") {
		t.Fatalf("error %q does not name the redirect URI", err)
	}
	assertClosed(t, r)
}

func TestWaitTimeout(t *testing.T) {
	r, err := Listen(Config{State: testState, Timeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // upper bound only
	defer cancel()
	_, err = r.Wait(ctx)
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want *TimeoutError", err)
	}
	if te.Waited != 20*time.Millisecond || te.Path != DefaultPath || te.RedirectURI != r.RedirectURI() || !te.Timeout() {
		t.Fatalf("TimeoutError = %+v", te)
	}
	var timeout interface{ Timeout() bool }
	if !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Fatal("not recognisable as a timeout")
	}
	assertClosed(t, r)
}

func TestTimeoutErrorMessage(t *testing.T) {
	e := &TimeoutError{Waited: 5 * time.Minute, Path: "/callback", RedirectURI: "http://127.0.0.1:1234/callback"}
	msg := e.Error()
	for _, want := range []string{"callback: ", "5m0s", "/callback", "http://127.0.0.1:1234/callback", "try again"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}

func TestNegativeTimeoutWaitsForContext(t *testing.T) {
	r, err := Listen(Config{State: testState, Timeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	if r.timeout >= 0 {
		t.Fatalf("timeout = %v", r.timeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = r.Wait(ctx)
	var te *TimeoutError
	if errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	r, err := Listen(Config{State: testState})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	assertClosed(t, r)
	if _, err := r.Wait(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait after Close = %v", err)
	}
}

func TestCloseUnblocksWait(t *testing.T) {
	r, err := Listen(Config{State: testState, Timeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := r.Wait(context.Background()); done <- err }()
	r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("err = %v, want ErrClosed", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Wait did not return after Close")
	}
}

func TestWaitTwice(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	get(r, q("code", "c", "state", testState))
	if _, err := waitNow(t, r); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Wait = %v", err)
	}
}

// TestWaitLetsPageReachBrowser checks the graceful part: a response that is
// still being written when Wait returns is delivered completely.
func TestWaitLetsPageReachBrowser(t *testing.T) {
	r, err := Listen(Config{State: testState})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		status int
		page   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		res, err := testClient(t).Get(r.RedirectURI() + "?" + q("state", testState, "code", "c"))
		if err != nil {
			got <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		got <- result{res.StatusCode, string(b), err}
	}()
	if _, err := r.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := <-got
	if res.err != nil || res.status != 200 || !strings.Contains(res.page, "</html>") {
		t.Fatalf("browser got %d, %v, %q", res.status, res.err, res.page)
	}
}

func TestWaitClosesOnPanicInOnRequest(t *testing.T) {
	// A panicking OnRequest is contained by net/http for that request; the
	// receiver keeps serving and Wait still closes everything.
	r, err := Listen(Config{State: testState, OnRequest: func(rq Request) {
		if rq.Outcome == OutcomeNotFound {
			panic("boom")
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := testClient(t)
	if res, err := c.Get("http://" + r.Addr().String() + "/favicon.ico"); err == nil {
		res.Body.Close()
	}
	res, err := c.Get(r.RedirectURI() + "?" + q("state", testState, "code", "c"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if _, err := r.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertClosed(t, r)
}

func assertClosed(t *testing.T, r *Receiver) {
	t.Helper()
	if conn, err := net.Dial("tcp", r.Addr().String()); err == nil {
		conn.Close()
		t.Fatal("the receiver still accepts connections")
	}
	select {
	case <-r.served:
	default:
		t.Fatal("the server goroutine is still running")
	}
}

// The last page gets its grace period even when it is slow to leave: here
// the handler is still busy (in OnRequest) when Wait has the response and
// starts closing the receiver. The handler waits for the shutdown to
// start (the server's RegisterOnShutdown), so that it is busy then
// whatever the machine's speed; in the full tier it stays busy 200 ms
// more, well within shutdownGrace (the fast tier does not wait on the
// real clock: docs/TESTING.md).
func TestWaitGivesSlowLastPageItsGrace(t *testing.T) {
	shuttingDown := make(chan struct{})
	r, err := Listen(Config{State: testState, OnRequest: func(rq Request) {
		if rq.Outcome == OutcomeAccepted {
			<-shuttingDown
			if !testing.Short() {
				time.Sleep(200 * time.Millisecond)
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.srv.RegisterOnShutdown(func() { close(shuttingDown) })
	got := make(chan error, 1)
	go func() {
		res, err := testClient(t).Get(r.RedirectURI() + "?" + q("state", testState, "code", "c"))
		if err == nil {
			var b []byte
			b, err = io.ReadAll(res.Body)
			res.Body.Close()
			if err == nil && (res.StatusCode != 200 || !strings.Contains(string(b), "</html>")) {
				err = fmt.Errorf("status %d, page %q", res.StatusCode, b)
			}
		}
		got <- err
	}()
	if _, err := r.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the browser did not get the page: %v", err)
	}
}

// When Wait returns, the receiver is closed: a connection that is still in
// the middle of sending a request is dropped too (after the grace period
// for the last page), not left to the server's read timeout.
func TestWaitDropsUnfinishedConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the shutdown grace period (2 s)")
	}
	r, err := Listen(Config{State: testState})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /callback HTTP/1.1\r\nHost: "); err != nil { // half a request
		t.Fatal(err)
	}
	res, err := testClient(t).Get(r.RedirectURI() + "?" + q("state", testState, "code", "c"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if _, err := r.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The read returns at once if the receiver closed the connection; the
	// deadline only keeps a failing test from waiting for the server's own
	// ReadHeaderTimeout.
	conn.SetReadDeadline(time.Now().Add(r.srv.ReadHeaderTimeout / 2))
	_, err = conn.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the unfinished connection is still open after Wait returned")
	}
}
