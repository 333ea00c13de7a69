package authloop

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// proxyMode is what the fault proxy does with one connection.
type proxyMode int

const (
	// proxyNormal relays both ways.
	proxyNormal proxyMode = iota
	// proxyStall relays the request, waits for the whole response, sends
	// its headers and half its body, then nothing until the client leaves.
	// The server has processed the request: a rotated refresh token is in
	// the part that never arrives.
	proxyStall
	// proxyCloseAfterHeaders relays the request, waits for the whole
	// response, sends its headers and closes the connection.
	proxyCloseAfterHeaders
	// proxyBlackHole accepts the connection and reads what comes, never
	// forwarding it or answering; the server never sees the request.
	proxyBlackHole
	// proxyTrickle relays the request, waits for the whole response and
	// sends it one byte per faultProxy.trickle.
	proxyTrickle
	// proxyTLSFail answers the client's TLS ClientHello with a fatal
	// handshake_failure alert, so the handshake fails; nothing reaches the
	// server. Only on a TLS proxy.
	proxyTLSFail
)

func (m proxyMode) String() string {
	return [...]string{"normal", "stall mid-response", "close after headers", "black hole", "slow trickle", "TLS handshake failure"}[m]
}

// faultProxy is a loopback TCP proxy in front of a server that fails
// connections on demand: each accepted connection takes the next mode
// queued by FailNext, or the default mode. With TLS it terminates TLS
// itself (a certificate for 127.0.0.1 that only the test's clients trust)
// and speaks plain HTTP to the server behind it.
type faultProxy struct {
	t        *testing.T
	ln       net.Listener
	upstream string
	tls      *tls.Config // nil: plain TCP
	trickle  time.Duration

	mu     sync.Mutex
	queue  []proxyMode
	def    proxyMode
	conns  map[net.Conn]struct{}
	seen   []proxyMode // the mode each accepted connection got, in order
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup

	// spoiling receives a value (without blocking) each time a stall or a
	// trickle starts, once the server has answered in full: from then on
	// only the client's timeout ends the connection.
	spoiling chan proxyMode
}

// newFaultProxy starts a proxy on 127.0.0.1 in front of upstream
// (host:port). tlsCert, when set, makes it a TLS endpoint.
func newFaultProxy(t *testing.T, upstream string, tlsCert *tls.Certificate) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{t: t, ln: ln, upstream: upstream, trickle: 50 * time.Millisecond, conns: map[net.Conn]struct{}{}, done: make(chan struct{}), spoiling: make(chan proxyMode, 64)}
	if tlsCert != nil {
		p.tls = &tls.Config{Certificates: []tls.Certificate{*tlsCert}, MinVersion: tls.VersionTLS12}
	}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// URL is the proxy's base URL: http://127.0.0.1:PORT or https://...
func (p *faultProxy) URL() string {
	if p.tls != nil {
		return "https://" + p.ln.Addr().String()
	}
	return "http://" + p.ln.Addr().String()
}

// FailNext makes the next n connections meet mode m; calls append.
func (p *faultProxy) FailNext(n int, m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.queue = append(p.queue, m)
	}
}

// SetDefault sets the mode of connections that find the queue empty.
func (p *faultProxy) SetDefault(m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.def = m
}

// Pending is the number of queued faults not yet used.
func (p *faultProxy) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// Seen returns the mode each connection got so far.
func (p *faultProxy) Seen() []proxyMode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]proxyMode(nil), p.seen...)
}

// Close stops accepting, closes every connection and waits for the
// proxy's goroutines.
func (p *faultProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *faultProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *faultProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *faultProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.mu.Lock()
		mode := p.def
		if len(p.queue) > 0 {
			mode, p.queue = p.queue[0], p.queue[1:]
		}
		p.seen = append(p.seen, mode)
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.handle(c, mode)
		}()
	}
}

func (p *faultProxy) handle(raw net.Conn, mode proxyMode) {
	var c net.Conn = raw
	if p.tls != nil {
		if mode == proxyTLSFail {
			// Read (part of) the ClientHello, answer with an alert
			// record: level fatal (2), handshake_failure (40).
			_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 512)
			_, _ = raw.Read(buf)
			_, _ = raw.Write([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28})
			return
		}
		tc := tls.Server(raw, p.tls)
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			return
		}
		_ = tc.SetDeadline(time.Time{})
		c = tc
	}
	if mode == proxyBlackHole {
		p.drain(c)
		return
	}
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	if mode == proxyNormal {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(up, c)
			if cw, ok := up.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
		}()
		_, _ = io.Copy(c, up)
		return
	}
	// The faults that lose the response: relay one request, wait until
	// the server has answered in full (so it has processed the request),
	// then spoil the answer.
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	req.Close = true
	if err := req.Write(up); err != nil {
		return
	}
	resp, err := http.ReadResponse(bufio.NewReader(up), req)
	if err != nil {
		return
	}
	var whole bytes.Buffer
	err = resp.Write(&whole)
	resp.Body.Close()
	if err != nil {
		return
	}
	b := whole.Bytes()
	head := bytes.Index(b, []byte("\r\n\r\n")) + 4
	if mode == proxyStall || mode == proxyTrickle {
		select {
		case p.spoiling <- mode:
		default:
		}
	}
	switch mode {
	case proxyStall:
		half := head + (len(b)-head)/2
		if _, err := c.Write(b[:half]); err != nil {
			return
		}
		p.drain(c)
	case proxyCloseAfterHeaders:
		_, _ = c.Write(b[:head])
	case proxyTrickle:
		t := time.NewTicker(p.trickle)
		defer t.Stop()
		for i := range b {
			select {
			case <-t.C:
			case <-p.done:
				return
			}
			if _, err := c.Write(b[i : i+1]); err != nil {
				return
			}
		}
	}
}

// drain reads from c until the client goes away or the proxy closes.
func (p *faultProxy) drain(c net.Conn) {
	_, _ = io.Copy(io.Discard, c)
}

// testCert returns a self-signed certificate for 127.0.0.1 and a pool
// that trusts it, for a TLS faultProxy.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "authloop fault proxy"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// hostOf returns the host:port of a base URL.
func hostOf(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	if i := strings.IndexByte(u, '/'); i >= 0 {
		u = u[:i]
	}
	return u
}
