package authloop

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// A refreshed token that has expired by the time its answer is handed out
// (the machine slept while it was on the wire) is never handed out: the
// session refreshes again, and after four such answers in a row it gives
// up with an error that points at the system clock, instead of refreshing
// without end.
func TestRefreshedTokensExpiredOnArrivalAreNotHandedOut(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	var answers atomic.Int32
	f.cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil && r.URL.Path == "/token" && answers.Add(1) <= 10 {
			f.clock.Jump(2 * time.Hour) // the answer arrives after its token's expiry
		}
		return resp, err
	})}
	// No timer: it would fire at the jump and race the caller's refresh
	// (a second flight of four, when it ended before Token came).
	f.cfg.DisableAutoRefresh = true
	s := f.session()
	f.clock.Jump(2 * time.Hour)
	tok, err := s.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "system clock") {
		t.Fatalf("Token: %v, %v; want an error naming the system clock", tok, err)
	}
	if n := f.refreshes(); n != 4 {
		t.Fatalf("%d refreshes, want 4 (one, and three more)", n)
	}
}
