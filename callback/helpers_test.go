package callback

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testState = "Zm9vYmFyLXN0YXRlLTEyMzQ1Njc4OTA"
	testHost  = "127.0.0.1:5555"
)

// newHandlerReceiver returns a receiver that is not bound to any port, for
// calling its handler directly.
func newHandlerReceiver(t testing.TB, cfg Config) *Receiver {
	t.Helper()
	if cfg.State == "" {
		cfg.State = testState
	}
	if err := checkConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return newReceiver(cfg, "127.0.0.1", 5555)
}

// serve sends one request to r's handler and returns the recorded answer.
func serve(r *Receiver, method, target, body, contentType string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	req.Host = testHost
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	r.serveHTTP(w, req)
	return w
}

func get(r *Receiver, query string) *httptest.ResponseRecorder {
	return serve(r, http.MethodGet, "/callback?"+query, "", "")
}

func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

// waitNow calls Wait with a context that is already cancelled: it returns the
// response if one has been delivered, and a context error otherwise. It never
// depends on timing.
func waitNow(t *testing.T, r *Receiver) (*Response, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return r.Wait(ctx)
}

// ended reports whether a valid response has been delivered, without consuming it.
func ended(r *Receiver) bool { return r.isComplete() }

// testClient does not keep connections alive, so nothing lingers for goleak.
func testClient(t *testing.T) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
