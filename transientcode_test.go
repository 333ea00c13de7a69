package authloop

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// An OAuth error answered with 5xx or 429 is retried even when its code is
// one authloop does not know (servers invent their own): the status says
// the failure is the server's, or a rate limit, not the grant's.
func TestUnknownOAuthErrorCodeRetriedOn5xxAnd429(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusTooManyRequests} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			f := newFixture(t, oauthtest.Config{}, true)
			f.cfg.MaxRetries = 1
			var failed atomic.Int32
			f.cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.URL.Path == "/token" && failed.Add(1) == 1 {
					return &http.Response{
						StatusCode: status,
						Header:     http.Header{"Content-Type": {"application/json"}},
						Body:       io.NopCloser(strings.NewReader(`{"error":"backend_overloaded","error_description":"try again"}`)),
						Request:    r,
					}, nil
				}
				return http.DefaultTransport.RoundTrip(r)
			})}
			s := f.session()
			tok, err := s.Refresh(context.Background())
			if err != nil {
				t.Fatalf("Refresh after one %d with an unknown code: %v; want it retried", status, err)
			}
			if !f.srv.ValidAccessToken(tok.AccessToken) {
				t.Fatal("the server does not know the refreshed access token")
			}
			if n := failed.Load(); n != 2 {
				t.Fatalf("%d token requests, want 2 (the failed one, and its retry)", n)
			}
		})
	}
}
