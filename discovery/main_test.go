package discovery

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testClient returns a client that keeps no connections alive, so nothing
// lingers for goleak.
func testClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

// docServer is an httptest server that answers paths from a table and
// records every path requested, in order.
type docServer struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
	// routes maps a request URI (path and query) to a handler.
	routes map[string]http.HandlerFunc
}

func newDocServer(t *testing.T) *docServer {
	t.Helper()
	d := &docServer{routes: map[string]http.HandlerFunc{}}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.paths = append(d.paths, r.URL.RequestURI())
		h := d.routes[r.URL.RequestURI()]
		d.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(d.Close)
	return d
}

// json serves body with status 200 at uri.
func (d *docServer) json(uri, body string) {
	d.handle(uri, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	})
}

func (d *docServer) handle(uri string, h http.HandlerFunc) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.routes[uri] = h
}

func (d *docServer) requested() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.paths...)
}
