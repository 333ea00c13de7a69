package authloop

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// A session with Config.DPoP set to DPoPOff on a record whose tokens are
// bound to a key (another process, or an earlier run, signed in with
// DPoP): it cannot prove the key, so, as DPoPOff promises, it does not use
// them and signs in again (ErrLoginRequired when it may not). It never
// sends the bound access token as Bearer, nor presents the bound refresh
// token without a proof.
func TestDPoPOffSessionDoesNotUseBoundTokens(t *testing.T) {
	f := newDPoPFixture(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	a := f.session(f.config())
	if _, err := a.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	quiet := f.config()
	quiet.DPoP, quiet.Interactive = DPoPOff, false
	q := f.session(quiet)
	if tok, err := q.Token(context.Background()); !errors.Is(err, ErrLoginRequired) {
		t.Errorf("Token of a DPoPOff session on a DPoP record: %v (type %q); want ErrLoginRequired", err, tok.TokenType)
	}
	cfg := f.config()
	cfg.DPoP = DPoPOff
	b := f.session(cfg)
	if status, _ := f.resource(b, http.MethodGet, ""); status != http.StatusOK {
		t.Errorf("resource through the DPoPOff session: HTTP %d; want 200 after a bearer sign-in", status)
	}
	for _, r := range f.proxy.requests("/resource") {
		if !strings.HasPrefix(r.authorization, "Bearer ") || r.dpop != "" {
			continue
		}
		if tok := strings.TrimPrefix(r.authorization, "Bearer "); f.srv.TokenBinding(tok) != "" {
			t.Error("a DPoP-bound access token went as Bearer")
		}
	}
	if n := len(tokenRequests(f.srv, "refresh_token")); n != 0 {
		t.Errorf("%d refresh requests presented the bound refresh token without a proof; want none", n)
	}
	if n := len(tokenRequests(f.srv, "authorization_code")); n != 2 {
		t.Errorf("%d sign-ins; want the DPoP one and the bearer one", n)
	}
}
