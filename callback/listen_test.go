package callback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestListenDefaults(t *testing.T) {
	r, err := Listen(Config{State: testState})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tcp := r.Addr().(*net.TCPAddr)
	if !tcp.IP.Equal(net.IPv4(127, 0, 0, 1)) || tcp.Port == 0 {
		t.Fatalf("Addr = %v, want 127.0.0.1 with a port", tcp)
	}
	want := "http://127.0.0.1:" + strconv.Itoa(tcp.Port) + DefaultPath
	if got := r.RedirectURI(); got != want {
		t.Fatalf("RedirectURI = %q, want %q", got, want)
	}
	if r.timeout != DefaultTimeout || r.appName != DefaultAppName {
		t.Fatalf("defaults not applied: timeout %v, app %q", r.timeout, r.appName)
	}
	if r.timeout <= 0 { // a negative Timeout is the one way to wait without end
		t.Fatalf("with the zero Config, Wait waits without end (timeout %v)", r.timeout)
	}
}

func TestListenCustomPath(t *testing.T) {
	r, err := Listen(Config{State: testState, Path: "/oauth/done"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !strings.HasSuffix(r.RedirectURI(), "/oauth/done") {
		t.Fatalf("RedirectURI = %q", r.RedirectURI())
	}
}

func TestListenIPv6(t *testing.T) {
	for _, addr := range []string{"[::1]:0", "[::1]", "::1"} {
		r, err := Listen(Config{State: testState, Addr: addr})
		if err != nil {
			if errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) {
				t.Skipf("no IPv6 loopback here: %v", err)
			}
			t.Fatalf("%s: %v", addr, err)
		}
		port := r.Addr().(*net.TCPAddr).Port
		if want := fmt.Sprintf("http://[::1]:%d/callback", port); r.RedirectURI() != want {
			t.Errorf("%s: RedirectURI = %q, want %q", addr, r.RedirectURI(), want)
		}
		r.Close()
	}
}

func TestListenLocalhost(t *testing.T) {
	r, err := Listen(Config{State: testState, Addr: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tcp := r.Addr().(*net.TCPAddr)
	if !tcp.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("bound %v, want 127.0.0.1", tcp.IP)
	}
	if want := fmt.Sprintf("http://localhost:%d/callback", tcp.Port); r.RedirectURI() != want {
		t.Fatalf("RedirectURI = %q, want %q", r.RedirectURI(), want)
	}
	if r.hostHeader != fmt.Sprintf("localhost:%d", tcp.Port) {
		t.Fatalf("accepted Host %q", r.hostHeader)
	}
}

func TestListenFixedPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	_, err = Listen(Config{State: testState, Addr: "127.0.0.1:" + strconv.Itoa(port)})
	if err == nil {
		t.Fatal("Listen on a busy port succeeded")
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("errors.Is(err, EADDRINUSE) = false for %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"callback: ", strconv.Itoa(port), "port 0"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

func TestListenFixedPort(t *testing.T) {
	// Find a free port, release it, and ask for it; retry if another process grabs it meanwhile.
	for attempt := 0; attempt < 5; attempt++ {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		r, err := Listen(Config{State: testState, Addr: "127.0.0.1:" + strconv.Itoa(port)})
		if errors.Is(err, syscall.EADDRINUSE) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if want := fmt.Sprintf("http://127.0.0.1:%d/callback", port); r.RedirectURI() != want {
			t.Fatalf("RedirectURI = %q, want %q", r.RedirectURI(), want)
		}
		return
	}
	t.Skip("could not find a free port")
}

func TestListenRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0", "0.0.0.0:8080", ":8080", "[::]:0", "::", "192.168.1.10:0", "10.0.0.1", "example.com:80", "myhost"} {
		_, err := Listen(Config{State: testState, Addr: addr})
		if err == nil {
			t.Errorf("Listen(%q) succeeded", addr)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "callback: ") || !strings.Contains(msg, "loopback") || !strings.Contains(msg, "127.0.0.1") {
			t.Errorf("Listen(%q): unclear error %q", addr, msg)
		}
	}
}

// The refusal of a non-loopback Config.Addr names what it was given: an
// empty host or an unspecified address means every interface.
func TestListenRefusalNamesTheHost(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          `non-loopback empty host (it means every interface) ""`,
		"0.0.0.0:8080":   `non-loopback address (it means every interface) "0.0.0.0"`,
		"192.168.1.10:0": `non-loopback address "192.168.1.10"`,
		"example.com:80": `non-loopback host name "example.com"`,
	} {
		_, err := Listen(Config{State: testState, Addr: addr})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Listen(%q) = %v, want it to name the %s", addr, err, want)
		}
	}
}

// Port 65535, the highest, is a valid port: Listen binds it, or says that it
// is in use, never that it is invalid.
func TestListenHighestPort(t *testing.T) {
	r, err := Listen(Config{State: testState, Addr: "127.0.0.1:65535"})
	if err != nil {
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("Listen(127.0.0.1:65535): %v", err)
		}
		return
	}
	r.Close()
}

// The receiver's server bounds every phase of a connection, so that a
// client that connects and then sends (or reads) nothing cannot hold it: each
// timeout is set, and none is longer than a minute. (Seen from outside this
// takes at least ReadHeaderTimeout of real time to show.)
func TestListenBoundsSlowConnections(t *testing.T) {
	r, err := Listen(Config{State: testState})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": r.srv.ReadHeaderTimeout,
		"ReadTimeout":       r.srv.ReadTimeout,
		"WriteTimeout":      r.srv.WriteTimeout,
		"IdleTimeout":       r.srv.IdleTimeout,
	} {
		if d <= 0 || d > time.Minute {
			t.Errorf("%s = %v, want a bound of at most a minute", name, d)
		}
	}
}

func TestListenRefusesBadAddr(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:http", "127.0.0.1:70000", "127.0.0.1:-1", "[::1"} {
		if _, err := Listen(Config{State: testState, Addr: addr}); err == nil || !strings.HasPrefix(err.Error(), "callback: ") {
			t.Errorf("Listen(%q) = %v, want a callback: error", addr, err)
		}
	}
}

func TestListenRequiresState(t *testing.T) {
	_, err := Listen(Config{})
	if err == nil || !strings.Contains(err.Error(), "State") {
		t.Fatalf("Listen without State = %v", err)
	}
}

func TestListenBadPath(t *testing.T) {
	for _, p := range []string{"callback", "/cb?x=1", "/cb#frag"} {
		if _, err := Listen(Config{State: testState, Path: p}); err == nil || !strings.HasPrefix(err.Error(), "callback: ") {
			t.Errorf("Path %q: err = %v", p, err)
		}
	}
}

// TestNetworkRoundTrip goes through a real socket: a refused request, then the
// valid response, then Wait, and checks that nothing listens afterwards.
func TestNetworkRoundTrip(t *testing.T) {
	r, err := Listen(Config{State: testState})
	if err != nil {
		t.Fatal(err)
	}
	c := testClient(t)
	res, err := c.Get(r.RedirectURI() + "?" + q("state", "wrong", "code", "x"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("wrong state: status %d", res.StatusCode)
	}

	res, err = c.Get(r.RedirectURI() + "?" + q("state", testState, "code", "the-code", "iss", "https://as.example"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(page), "signed in") {
		t.Fatalf("status %d, page %s", res.StatusCode, page)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := r.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != "the-code" || resp.Issuer != "https://as.example" || resp.Method != "GET" {
		t.Fatalf("resp = %+v", resp)
	}
	if conn, err := net.Dial("tcp", r.Addr().String()); err == nil {
		conn.Close()
		t.Fatal("the port still accepts connections after Wait")
	}
}

func TestNetworkFormPost(t *testing.T) {
	r, err := Listen(Config{State: testState})
	if err != nil {
		t.Fatal(err)
	}
	res, err := testClient(t).Post(r.RedirectURI(), "application/x-www-form-urlencoded",
		strings.NewReader(q("state", testState, "code", "posted")))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	resp, err := r.Wait(context.Background())
	if err != nil || resp.Code != "posted" || resp.Method != "POST" {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
}

func TestNetworkBadHost(t *testing.T) {
	r, err := Listen(Config{State: testState})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	req, _ := http.NewRequest("GET", r.RedirectURI()+"?"+q("state", testState, "code", "c"), nil)
	req.Host = "evil.example:" + strconv.Itoa(r.Addr().(*net.TCPAddr).Port)
	res, err := testClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || ended(r) {
		t.Fatalf("status %d, ended %v", res.StatusCode, ended(r))
	}
}
