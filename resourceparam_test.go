package authloop

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// Every token request of a session for a resource carries the resource
// parameter (RFC 8707 §2): the code exchange and each refresh, so that a
// server that issues tokens per resource never hands a refreshed token
// for another audience (or for none).
func TestEveryTokenRequestNamesTheResource(t *testing.T) {
	clock := oauthtest.NewFakeClock(epoch)
	srv := oauthtest.NewServer(oauthtest.Config{Clock: clock})
	defer srv.Close()
	var mu sync.Mutex
	var forms []url.Values
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := testConfig(srv, b.open)
	cfg.Clock = clock
	cfg.Resource = srv.ResourceEndpoint()
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/token" && r.Body != nil {
			body, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				return nil, err
			}
			form, _ := url.ParseQuery(string(body))
			mu.Lock()
			forms = append(forms, form)
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	tok, err := Login(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	clock.Jump(2 * time.Hour)
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	grants := map[string]int{}
	for _, f := range forms {
		g := f.Get("grant_type")
		grants[g]++
		if got := f["resource"]; len(got) != 1 || got[0] != srv.ResourceEndpoint() {
			t.Errorf("%s request: resource %q, want %q", g, got, srv.ResourceEndpoint())
		}
	}
	if grants["authorization_code"] != 1 || grants["refresh_token"] != 1 {
		t.Fatalf("token requests %v, want one code exchange and one refresh", grants)
	}
}
