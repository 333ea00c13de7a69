package authloop

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// Another process logs out (its Logout, authloop logout): the key is
// deleted with the record, and the next sign-in makes another, in every
// process, not only the one that logged out. A session that learns of the
// logout at its next refresh, or signs in without having looked, must not
// bring the old key back into the store with its new sign-in.
func TestDPoPLogoutElsewhereEndsTheKeyHereToo(t *testing.T) {
	for _, learn := range []string{"refresh", "login"} {
		t.Run(learn, func(t *testing.T) {
			f := newDPoPFixture(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
			cfg := f.config()
			cfg.Interactive = false // the refresh reports the logout instead of signing in
			a := f.session(cfg)
			if _, err := a.Login(context.Background()); err != nil {
				t.Fatal(err)
			}
			old := a.DPoPThumbprint()
			b := f.session(f.config())
			if err := b.Logout(context.Background()); err != nil {
				t.Fatal(err)
			}
			if learn == "refresh" {
				if _, err := a.Refresh(context.Background()); !errors.Is(err, ErrLoginRequired) {
					t.Fatalf("refresh after the logout elsewhere: %v; want ErrLoginRequired", err)
				}
			}
			tok, err := a.Login(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			now := a.DPoPThumbprint()
			if now == "" || now == old {
				t.Errorf("the sign-in after another process's logout proves with the old key (%v)", now == old)
			}
			if bound := f.srv.TokenBinding(tok.AccessToken); bound != now {
				t.Errorf("the new token is bound to %q; the session proves with %q", bound, now)
			}
			if status, _ := f.resource(a, http.MethodGet, ""); status != http.StatusOK {
				t.Errorf("resource: HTTP %d", status)
			}
		})
	}
}
