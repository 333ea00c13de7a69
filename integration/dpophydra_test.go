package integration_test

import (
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/store"
)

// TestDPoPHydraFallsBackToBearer: Hydra v2.3.0 has no DPoP (its metadata
// lists no dpop_signing_alg_values_supported). With Config.DPoP auto the
// session sends no proof; with DPoPOn every token request carries one, which
// Hydra ignores. Either way the session signs in and refreshes without an
// error, as a bearer session: token_type bearer, "Authorization: Bearer"
// at userinfo.
func TestDPoPHydraFallsBackToBearer(t *testing.T) {
	hydraServer.start(t)
	meta := mustMetadata(t, hydra.Issuer)
	if meta.SupportsDPoP("ES256") || strings.Contains(string(meta.Raw), "dpop") {
		t.Fatalf("Hydra's metadata now mentions DPoP: update this test and docs/INTEROP.md")
	}
	for _, mode := range []authloop.DPoPMode{authloop.DPoPAuto, authloop.DPoPOn} {
		// One after the other: Hydra's in-memory SQLite answers two
		// sign-ins at once with 500 now and then.
		t.Run(mode.String(), func(t *testing.T) {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("Hydra's log (tail):\n%s", tail(hydra.Output(), 3000))
				}
			})
			ctx := t.Context()
			client, err := hydra.NewPublicClient(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tap := &dpopTap{tokenURL: meta.TokenEndpoint, next: transport}
			st, err := store.NewFile(filepath.Join(t.TempDir(), "store"))
			if err != nil {
				t.Fatal(err)
			}
			// Only the issuer: the session reads Hydra's metadata, which
			// DPoPAuto consults.
			s, tok := headlessSignIn(ctx, t, &authloop.Config{
				OAuth2:     &oauth2.Config{ClientID: client.ID, Scopes: []string{"openid", "offline_access"}},
				Issuer:     hydra.Issuer,
				DPoP:       mode,
				Store:      st,
				HTTPClient: tapClient(tap),
			})
			toks := []*oauth2.Token{tok}
			for i := range 2 {
				nt, err := s.Refresh(ctx)
				if err != nil {
					t.Fatalf("refresh %d with DPoP %v: %v", i+1, mode, err)
				}
				toks = append(toks, nt)
			}
			for i, tk := range toks {
				if !strings.EqualFold(tk.TokenType, "bearer") {
					t.Errorf("token %d: token_type %q; want bearer", i, tk.TokenType)
				}
			}
			// The session's client sends the token as bearer, and Hydra takes it.
			resp, err := s.Client(ctx).Get(meta.UserinfoEndpoint)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("userinfo through the session's client: %s; want 200", resp.Status)
			}
			if got := tap.schemes(); !slices.Equal(got, []string{"Bearer"}) || tap.otherProofs() != 0 {
				t.Errorf("userinfo went with the Authorization schemes %q and %d DPoP proofs; want [Bearer] and none", got, tap.otherProofs())
			}
			ex := tap.all()
			for i, e := range ex {
				if e.status != http.StatusOK {
					t.Errorf("token request %d (%s) failed: %+v", i+1, e.grant, e)
				}
				if e.proof != (mode == authloop.DPoPOn) {
					t.Errorf("token request %d (%s) with DPoP %v: proof sent %v", i+1, e.grant, mode, e.proof)
				}
			}
			if len(ex) != 3 {
				t.Errorf("%d token requests; want 3 (one code exchange, two refreshes)", len(ex))
			}
			rec, err := st.Load(ctx, s.Key())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("DPoP %v at Hydra: token_type %q as sent, %d token requests (proofs: %v), session key thumbprint %q, key kept in the record: %v",
				mode, ex[0].tokenType, len(ex), mode == authloop.DPoPOn, s.DPoPThumbprint(), len(rec.DPoPKey) > 0)
		})
	}
}
