package authloop

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// A token response of exactly maxTokenResponse bytes is read whole and
// used; one byte more is refused as too large (not read in part and
// misreported as broken JSON).
func TestTokenResponseOfMaxSizeAccepted(t *testing.T) {
	j := `{"access_token":"big-access","token_type":"Bearer","expires_in":3600,"refresh_token":"big-refresh"}`
	for _, size := range []int{maxTokenResponse, maxTokenResponse + 1} {
		t.Run(map[bool]string{true: "max", false: "max+1"}[size == maxTokenResponse], func(t *testing.T) {
			f := newFixture(t, oauthtest.Config{}, true)
			body := strings.Repeat(" ", size-len(j)) + j // the object's end is the last byte
			f.cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.URL.Path != "/token" {
					return http.DefaultTransport.RoundTrip(r)
				}
				return &http.Response{
					StatusCode: http.StatusOK,
					Header:     http.Header{"Content-Type": {"application/json"}},
					Body:       io.NopCloser(strings.NewReader(body)),
					Request:    r,
				}, nil
			})}
			f.cfg.MaxRetries = NoRetries
			s := f.session()
			tok, err := s.Refresh(context.Background())
			if size == maxTokenResponse {
				if err != nil || tok.AccessToken != "big-access" {
					t.Fatalf("a response of %d bytes: %v, %v; want its token", size, tok, err)
				}
				return
			}
			var te *TokenResponseError
			if !errors.As(err, &te) || !strings.Contains(te.Problem, "larger than") {
				t.Fatalf("a response of %d bytes: %v; want a *TokenResponseError saying it is too large", size, err)
			}
		})
	}
}
