package callback

import (
	"net/http"
	"os"
	"testing"
)

// Throwaway: serves the pages for screenshots. Not committed.
func TestZZServePages(t *testing.T) {
	if os.Getenv("SHOTS") == "" {
		t.Skip()
	}
	mk := func(q string) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			r := newReceiver(Config{State: "s", AppName: "mytool"}, "127.0.0.1", 8123)
			req.Host = "127.0.0.1:8123"
			req.URL.Path = "/callback"
			req.URL.RawQuery = q
			r.serveHTTP(w, req)
		}
	}
	http.Handle("/success", mk("state=s&code=abc"))
	http.Handle("/error", mk("state=s&error=access_denied&error_description=The+user+denied+the+request+for+access+to+the+repository+scopes.&error_uri=https%3A%2F%2Fdocs.example.com%2Foauth%2Ferrors%23access_denied"))
	http.Handle("/wrong", mk("state=x&code=abc"))
	_ = http.ListenAndServe("127.0.0.1:8799", nil)
}
