package callback

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The security suite's attacks on the loopback listener
// (docs/SECURITY.md), performed over the network against a real Listen.

// attackListener starts a receiver for the test and returns it with its
// port.
func attackListener(t *testing.T) (*Receiver, int) {
	t.Helper()
	r, err := Listen(Config{State: testState})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, r.Addr().(*net.TCPAddr).Port
}

// send makes one request to the listener (Host as given, "" for the
// listener's own) and returns the status, headers and body.
func send(t *testing.T, r *Receiver, method, query, host, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.RedirectURI()+"?"+query, rd)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := testClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// Login CSRF: a page the person visits posts the attacker's own code to
// the listener, guessing or omitting the state. Nothing but the exact
// state is accepted, and the wait goes on until the real response comes.
func TestAttackForgedState(t *testing.T) {
	r, _ := attackListener(t)
	forged := []string{
		q("code", "attacker-code"),
		q("code", "attacker-code", "state", ""),
		q("code", "attacker-code", "state", "guess"),
		q("code", "attacker-code", "state", testState[:len(testState)-1]),
		q("code", "attacker-code", "state", testState+"x"),
		q("code", "attacker-code", "state", strings.ToUpper(testState)),
		q("code", "attacker-code", "state", " "+testState),
		q("code", "attacker-code", "state", testState, "state", "guess"),
		q("code", "attacker-code", "state", "guess", "state", testState),
		q("error", "access_denied", "state", "guess"),
		"code=attacker-code&state=" + url.QueryEscape(testState) + "%00",
		"code=attacker-code&STATE=" + url.QueryEscape(testState),
	}
	for _, query := range forged {
		for _, method := range []string{"GET", "POST"} {
			var status int
			if method == "GET" {
				status, _, _ = send(t, r, method, query, "", "")
			} else {
				status, _, _ = send(t, r, method, "", "", query)
			}
			if status != http.StatusBadRequest {
				t.Errorf("%s %s: status %d, want 400", method, query, status)
			}
			if ended(r) {
				t.Fatalf("%s %s ended the wait", method, query)
			}
		}
	}
	// The state in the query of a POST whose form has none does not count.
	if status, _, _ := send(t, r, "POST", q("state", testState), "", q("code", "attacker-code")); status != http.StatusBadRequest || ended(r) {
		t.Fatalf("state in a POST's query: status %d, ended %v", status, ended(r))
	}
	if status, _, _ := send(t, r, "GET", q("code", "real-code", "state", testState), "", ""); status != http.StatusOK {
		t.Fatalf("the real response: status %d", status)
	}
	resp, err := r.Wait(context.Background())
	if err != nil || resp.Code != "real-code" {
		t.Fatalf("Wait: %+v, %v", resp, err)
	}
}

// Open redirect: whatever the request, the listener answers with a page of
// its own and never sends the browser anywhere (no Location, no Refresh,
// no meta refresh, no script), so it cannot be used to bounce a person to
// an attacker's site from a trusted-looking http://127.0.0.1 URL.
func TestAttackOpenRedirect(t *testing.T) {
	evil := "https://evil.example/phish"
	queries := []string{
		q("redirect_uri", evil),
		q("next", evil, "state", testState),
		q("return_to", evil, "continue", evil, "url", evil, "state", "guess", "code", "c"),
		q("error", "access_denied", "error_uri", evil, "state", "guess"),
		q("redirect", "//evil.example", "location", "/\\evil.example"),
	}
	paths := []string{"/callback", "//evil.example/", "/callback/../", "/\\evil.example", "/callback/", "/"}
	r, port := attackListener(t)
	check := func(what string, status int, h http.Header, body string) {
		t.Helper()
		if status >= 300 && status < 400 || h.Get("Location") != "" || h.Get("Refresh") != "" {
			t.Errorf("%s: redirects: %d Location=%q Refresh=%q", what, status, h.Get("Location"), h.Get("Refresh"))
		}
		lb := strings.ToLower(body)
		for _, bad := range []string{"http-equiv", "<script", "window.location", "document.location"} {
			if strings.Contains(lb, bad) {
				t.Errorf("%s: page contains %q", what, bad)
			}
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("%s: no restrictive Content-Security-Policy: %q", what, h.Get("Content-Security-Policy"))
		}
	}
	for _, p := range paths {
		for _, query := range queries {
			for _, method := range []string{"GET", "POST", "HEAD", "OPTIONS"} {
				status, h, body := rawRequest(t, port, method, p+"?"+query, "127.0.0.1:"+strconv.Itoa(port))
				check(method+" "+p+"?"+query, status, h, body)
			}
		}
	}
	// The valid responses, success and error alike, redirect nowhere either.
	status, h, body := send(t, r, "GET", q("code", "c", "state", testState, "redirect_uri", evil, "next", evil), "", "")
	check("valid response", status, h, body)
	r2, _ := attackListener(t)
	status, h, body = send(t, r2, "GET", q("error", "access_denied", "error_uri", evil, "state", testState, "next", evil), "", "")
	check("valid error response", status, h, body)
}

// rawRequest writes one HTTP/1.1 request by hand (so that paths such as
// //evil.example/ reach the server as written) and reads the answer.
func rawRequest(t *testing.T, port int, method, target, host string) (int, http.Header, string) {
	t.Helper()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", method, target, host)
	res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// Markup and script in error_description and error_uri: the authorization
// server (or anyone who can reach the listener with the right state, such
// as a malicious server in a mix-up) controls them; the error page escapes
// them and links only http(s) URIs.
func TestAttackErrorDescriptionMarkup(t *testing.T) {
	payloads := []string{
		`<script>alert(document.domain)</script>`,
		`<img src=x onerror=alert(1)>`,
		`"><svg onload=alert(1)>`,
		`</title><script>alert(1)</script>`,
		`<a href="javascript:alert(1)">click</a>`,
		`<meta http-equiv="refresh" content="0;url=https://evil.example">`,
		`<iframe src="https://evil.example"></iframe>`,
		"<scr\x00ipt>alert(1)</script>",
		`{{.ErrorURI}} ${alert(1)}`,
	}
	uris := []string{"javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>", " javascript:alert(1)", "vbscript:msgbox(1)", `https://evil.example/"><script>alert(1)</script>`}
	tagsOf := func(body string) map[string]int {
		m := map[string]int{}
		for _, sm := range tagRE.FindAllStringSubmatch(body, -1) {
			m[strings.ToLower(sm[1])]++
		}
		return m
	}
	// The tags of an error page with a harmless description and a link.
	r0, _ := attackListener(t)
	_, _, plain := send(t, r0, "GET", q("error", "access_denied", "error_description", "plain", "error_uri", "https://as.example/help", "state", testState), "", "")
	baseline := tagsOf(plain)
	if baseline["a"] != 1 || len(hrefRE.FindAllString(plain, -1)) != 1 || handlerRE.MatchString(`<img src=x onerror=alert(1)>`) == false {
		t.Fatalf("the page checks do not see the harmless page's link:\n%s", plain)
	}
	for i, p := range payloads {
		r, _ := attackListener(t)
		uri := uris[i%len(uris)]
		status, h, body := send(t, r, "GET", q("error", "access_denied", "error_description", p, "error_uri", uri, "state", testState), "", "")
		if status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
		for tag, n := range tagsOf(body) {
			if n > baseline[tag] {
				t.Errorf("payload %q, uri %q: the page has %d <%s> tags, the harmless page %d:\n%s", p, uri, n, tag, baseline[tag], body)
			}
		}
		if m := handlerRE.FindString(body); m != "" {
			t.Errorf("payload %q: an event handler attribute in the page: %q", p, m)
		}
		for _, sm := range hrefRE.FindAllStringSubmatch(body, -1) {
			if !strings.HasPrefix(sm[1], "https://") && !strings.HasPrefix(sm[1], "http://") {
				t.Errorf("uri %q: a link to %q", uri, sm[1])
			}
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("protective headers missing: %v", h)
		}
		resp, err := r.Wait(context.Background())
		if resp == nil || err == nil {
			t.Fatalf("Wait: %+v, %v", resp, err)
		}
	}
}

var (
	tagRE     = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9]*)`)
	handlerRE = regexp.MustCompile(`(?i)<[a-z][^>]*\son[a-z]+\s*=`)
	hrefRE    = regexp.MustCompile(`(?i)\b(?:href|src|action)\s*=\s*"([^"]*)"`)
)

// DNS rebinding: a web page whose name the attacker points at 127.0.0.1
// reaches the listener with its own name in Host. Every Host but the
// listener's exact address is refused, and does not end the wait.
func TestAttackDNSRebinding(t *testing.T) {
	r, port := attackListener(t)
	p := strconv.Itoa(port)
	hosts := []string{
		"attacker.example:" + p,
		"attacker.example",
		"127.0.0.1.attacker.example:" + p,
		"127.0.0.1." + ":" + p,
		"localhost:" + p,
		"LOCALHOST:" + p,
		"[::1]:" + p,
		"[::ffff:127.0.0.1]:" + p,
		"127.1:" + p,
		"2130706433:" + p,
		"0x7f000001:" + p,
		"127.0.0.1",
		"127.0.0.1:" + strconv.Itoa(port+1),
		"127.0.0.1:0" + p,
	}
	good := q("code", "c", "state", testState)
	for _, host := range hosts {
		status, _, _ := rawRequest(t, port, "GET", "/callback?"+good, host)
		if status != http.StatusBadRequest {
			t.Errorf("Host %q: status %d, want 400", host, status)
		}
		if ended(r) {
			t.Fatalf("Host %q ended the wait", host)
		}
	}
	// An absolute-form request target names the host in the request line,
	// which then replaces Host: refused as well.
	status, _, _ := rawRequest(t, port, "GET", "http://attacker.example:"+p+"/callback?"+good, "127.0.0.1:"+p)
	if status != http.StatusBadRequest || ended(r) {
		t.Errorf("absolute-form target: status %d, ended %v", status, ended(r))
	}
	// The listener's own address works.
	if status, _, _ := rawRequest(t, port, "GET", "/callback?"+good, "127.0.0.1:"+p); status != http.StatusOK {
		t.Fatalf("own Host: status %d", status)
	}
}

// A bind to anything but loopback is refused, including this machine's own
// non-loopback addresses; what Listen binds is always a loopback address.
func TestAttackNonLoopbackBind(t *testing.T) {
	addrs := []string{"0.0.0.0:0", "[::]:0", ":0", "0:0", "0.0.0.0", "[::ffff:0.0.0.0]:0", "localhost.attacker.example:0", "127.0.0.1.nip.io:0", "[fe80::1%lo]:0"}
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ifaddrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() {
			continue
		}
		addrs = append(addrs, net.JoinHostPort(ipn.IP.String(), "0"))
	}
	for _, addr := range addrs {
		r, err := Listen(Config{State: testState, Addr: addr})
		if err == nil {
			r.Close()
			t.Errorf("Listen(%q) succeeded, bound to %v", addr, r.Addr())
		}
	}
	for _, addr := range []string{"", "127.0.0.1:0", "localhost:0"} {
		r, err := Listen(Config{State: testState, Addr: addr})
		if err != nil {
			t.Fatalf("Listen(%q): %v", addr, err)
		}
		ip := r.Addr().(*net.TCPAddr).IP
		r.Close()
		if !ip.IsLoopback() {
			t.Errorf("Listen(%q) bound %v", addr, ip)
		}
	}
}
