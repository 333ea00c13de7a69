package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// hostileServer is an authorization server whose issuer is its own URL
// and which forwards every request to an oauthtest server behind it
// (started with OmitIssuerInResponse, so that the authorization response
// names no other issuer), rewriting that server's URL to its own in the
// answers; a test can make it misbehave, path by path (on).
type hostileServer struct {
	*httptest.Server
	back     *oauthtest.Server
	override atomic.Value // func(http.ResponseWriter, *http.Request) bool
}

func newHostileServer(t *testing.T, cfg oauthtest.Config) *hostileServer {
	cfg.OmitIssuerInResponse = true
	h := &hostileServer{back: oauthtest.NewServer(cfg)}
	t.Cleanup(h.back.Close)
	h.on(func(http.ResponseWriter, *http.Request) bool { return false })
	target, _ := url.Parse(h.back.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if !strings.Contains(resp.Header.Get("Content-Type"), "json") {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte(h.back.URL), []byte(h.URL))
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	h.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.override.Load().(func(http.ResponseWriter, *http.Request) bool)(w, r) {
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	h.Start() // after h.Server is set: the handler reads h.URL
	t.Cleanup(h.Server.Close)
	return h
}

// on makes f answer the requests it returns true for; the others go to
// the oauthtest server.
func (h *hostileServer) on(f func(http.ResponseWriter, *http.Request) bool) { h.override.Store(f) }

// refuseRevocation makes the revocation endpoint answer with the OAuth
// error code itself, as servers do that do not follow RFC 7009 §2.2's
// "200 for an invalid token".
func (h *hostileServer) refuseRevocation(code string) {
	h.on(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/revoke" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"`+code+`"}`)
		return true
	})
}

// hangOn makes every request whose path contains part wait, unanswered,
// until the client goes away.
func (h *hostileServer) hangOn(part string) {
	h.on(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, part) {
			return false
		}
		<-r.Context().Done()
		return true
	})
}

// logout, with a server that accepts the metadata request and never
// answers, still ends (the lookup is bounded), deletes the tokens and
// says that the grant may live on. Was: it waited forever (the lookup
// used http.DefaultClient with no deadline); the test's two-minute limit
// killed it.
func TestE2ELogoutMetadataHangs(t *testing.T) {
	h := newHostileServer(t, oauthtest.Config{})
	c := newCLI(t)
	c.loginFront(h)
	h.hangOn("/.well-known/")
	r := c.run("", "logout", "--profile", "p")
	if r.code != exitOK && r.code != exitFailure {
		t.Fatalf("exit %d, want 0 or 1 (the run was killed: it hung)\n%v", r.code, r)
	}
	if !strings.Contains(r.stderr, "may live on") {
		t.Errorf("logout does not say that the grant may live on:\n%v", r)
	}
	if n := len(recordFiles(t, c)); n != 0 {
		t.Errorf("%d record files left, want 0", n)
	}
}

// login --resource, with a resource that accepts the metadata request and
// never answers, gives up (exit 4, try again later) instead of waiting
// forever: the lookup used http.DefaultClient with no deadline.
func TestE2ELoginResourceMetadataHangs(t *testing.T) {
	h := newHostileServer(t, oauthtest.Config{})
	h.hangOn("/.well-known/")
	c := newCLI(t)
	r := c.run("", "login", "--profile", "p", "--resource", h.URL+"/mcp", "--client-id", "c", "--no-browser", "--store", "file")
	if r.code != exitUnreachable {
		t.Fatalf("exit %d, want %d (-1: the run was killed, it hung)\n%v", r.code, exitUnreachable, r)
	}
	twoLines(t, r.stderr, []string{"did not answer in time"}, "try again later")
}

// A token endpoint that answers a proxy's HTML page: refresh says so
// (exit 4) and backs off; the next run, which finds the wait in the
// record, says that an earlier request failed, not that the server asked
// another process to wait (the server asked nothing, and the earlier run
// was the person's own).
func TestE2ERefreshAfterHTMLAnswerSaysWhy(t *testing.T) {
	h := newHostileServer(t, oauthtest.Config{})
	c := newCLI(t)
	c.loginFront(h)
	h.on(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/token" {
			return false
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html><body>Bad gateway</body></html>")
		return true
	})
	first := c.run("", "refresh", "--profile", "p")
	if first.code != exitUnreachable {
		t.Fatalf("first refresh: exit %d, want %d\n%v", first.code, exitUnreachable, first)
	}
	twoLines(t, first.stderr, []string{"not an OAuth answer"}, "try again later")
	second := c.run("", "refresh", "--profile", "p")
	if second.code != exitUnreachable {
		t.Fatalf("second refresh: exit %d, want %d\n%v", second.code, exitUnreachable, second)
	}
	twoLines(t, second.stderr, []string{"earlier token request", "failed"}, "try again later")
	if strings.Contains(second.stderr, "asked") {
		t.Errorf("the second refresh says a server asked for the wait:\n%v", second)
	}
}
