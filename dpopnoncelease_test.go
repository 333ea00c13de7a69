package authloop

import (
	"context"
	"errors"
	"testing"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// A refresh refused with use_dpop_nonce while the refresh lock's lease was
// lost (a store kept in a server; the first request was slow): the retry
// with the nonce presents the refresh token again, and another holder of
// the lease may be presenting it now, so it is not sent. The session keeps
// its token, and the error says why, as for the first request.
func TestDPoPNonceRetryNotSentAfterTheLeaseIsLost(t *testing.T) {
	f := newDPoPFixture(t, oauthtest.Config{DPoPNonce: true, Scopes: []string{"openid", "offline_access"}})
	st := newLeaseStore()
	f.store = st
	s := f.session(f.config())
	before, err := s.Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.srv.RotateDPoPNonce() // the session's nonce is refused at the next refresh
	st.loseAfterCheck.Store(true)
	_, err = s.Refresh(context.Background())
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Refresh: %v; want an error wrapping store.ErrLeaseLost", err)
	}
	if n := len(tokenRequests(f.srv, "refresh_token")); n != 1 {
		t.Errorf("%d refresh requests; want the one refused for its nonce, and no retry after the lease was lost", n)
	}
	if got := s.Cached(); got == nil || got.AccessToken != before.AccessToken {
		t.Error("the session dropped or replaced its token")
	}
	st.lost.Store(false)
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh with the lease held: %v", err)
	}
}
