package authloop

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// bodyServer answers its first request 401 (invalid_token) and the others
// 200, and keeps the body of each.
func bodyServer(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var bodies []string
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		first := len(bodies) == 1
		mu.Unlock()
		if first {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rs.Close)
	return rs, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), bodies...)
	}
}

// A POST refused with a 401 is sent again after the refresh with its whole
// body when the body can be replayed (GetBody); one whose body cannot be
// replayed is not sent again: the caller sees the 401.
func TestTransportRetryReplaysTheBody(t *testing.T) {
	for _, replayable := range []bool{true, false} {
		t.Run(map[bool]string{true: "replayable", false: "one-shot"}[replayable], func(t *testing.T) {
			f := newFixture(t, oauthtest.Config{}, true)
			s := f.session()
			rs, bodies := bodyServer(t)
			var body io.Reader = strings.NewReader(`{"q":"payload"}`)
			if !replayable {
				body = io.MultiReader(body) // no GetBody for it
			}
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, rs.URL+"/x", body)
			resp, err := s.Client(context.Background()).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := bodies()
			if replayable {
				if resp.StatusCode != http.StatusOK || len(got) != 2 || got[1] != `{"q":"payload"}` {
					t.Fatalf("status %d, bodies %q; want 200 after a retry with the whole body", resp.StatusCode, got)
				}
				return
			}
			if resp.StatusCode != http.StatusUnauthorized || len(got) != 1 {
				t.Fatalf("status %d, bodies %q; want the 401, and no retry", resp.StatusCode, got)
			}
		})
	}
}

// closeCounter is a request body that counts its Close calls.
type closeCounter struct {
	io.Reader
	closed atomic.Int32
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

// A request the Transport sends nothing for (the session is closed) has
// its body closed all the same, as http.RoundTripper requires, in either
// mode.
func TestTransportClosesTheBodyOfARequestItCannotSend(t *testing.T) {
	for _, cd := range []bool{false, true} {
		f := newFixture(t, oauthtest.Config{}, true)
		s := f.session()
		s.Close()
		body := &closeCounter{Reader: strings.NewReader("payload")}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, f.srv.ResourceEndpoint(), body)
		_, err := (&Transport{Session: s, ChallengeDriven: cd}).RoundTrip(req)
		if !errors.Is(err, ErrSessionClosed) {
			t.Fatalf("ChallengeDriven %v: %v, want ErrSessionClosed", cd, err)
		}
		if n := body.closed.Load(); n != 1 {
			t.Errorf("ChallengeDriven %v: the body closed %d times, want once", cd, n)
		}
	}
}
