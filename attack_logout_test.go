package authloop

import (
	"context"
	"errors"
	"testing"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// Adversarial tests of issue 12, situation 6 (Logout).

// Logout in one process while another process (a long-running program
// sharing the store) still holds the grant in memory. The person logged
// out: the other process's next refresh must not write tokens of that
// grant back into the store, where every later process (authloop token,
// status) would find them and carry on as if signed in. With a revocation
// endpoint, the refresh is refused and what it writes back is the revoked
// access token; without one, the grant lives on at the server (Logout said
// so) but the store must still stay empty.
func TestAttackLogoutNotUndoneByAnotherProcess(t *testing.T) {
	for _, revocation := range []bool{true, false} {
		name := "revocation"
		if !revocation {
			name = "no-revocation-endpoint"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, oauthtest.Config{}, true)
			if !revocation {
				f.cfg.Issuer = "" // nothing to discover a revocation endpoint from
				f.cfg.RequireIssuer = false
			}
			st := fileStore(t, t.TempDir())
			a := f.sessionWith(st, f.tok)
			other := f.sessionWith(st, nil) // another process on the same store
			if other.Cached() == nil {
				t.Fatal("the other process did not read the record")
			}
			if err := a.Logout(context.Background()); err != nil {
				t.Fatal(err)
			}

			// The other process refreshes (its timer, a 401, Refresh).
			_, err := other.Refresh(context.Background())
			if err == nil || !errors.Is(err, ErrLoginRequired) {
				t.Errorf("the other process's refresh after the logout: %v, want login required", err)
			}
			rec, lerr := st.Load(context.Background(), a.Key())
			switch {
			case errors.Is(lerr, store.ErrNotFound):
			case lerr != nil:
				t.Fatal(lerr)
			case rec.Token != nil:
				t.Errorf("after the logout, the store holds tokens again (refresh token %v, written back by another process)", rec.Token.RefreshToken != "")
			}
			later, nerr := NewSession(&Config{OAuth2: f.cfg.OAuth2, Issuer: f.cfg.Issuer, Store: st, Clock: f.clock, DisableAutoRefresh: true}, nil)
			if nerr != nil {
				t.Fatal(nerr)
			}
			defer later.Close()
			if tok := later.Cached(); tok != nil {
				t.Errorf("a process started after the logout finds a token (valid at the server: %v)", f.srv.ValidAccessToken(tok.AccessToken))
			}
		})
	}
}
