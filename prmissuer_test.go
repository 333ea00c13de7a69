package authloop

import (
	"context"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// Protected resource metadata whose authorization_servers list begins with
// an empty entry (RFC 9728 requires issuer URLs; a sloppy server writes "")
// still leads to the first real authorization server: the sign-in goes
// there.
func TestResourceMetadataWithAnEmptyFirstServerUsesTheNextOne(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	rs := prmServer(t, []string{"", srv.Issuer()})
	b := &approvingBrowser{}
	defer b.wg.Wait()
	s, err := NewSession(resourceConfig(srv, rs.URL+"/mcp", b.open), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Login(context.Background()); err != nil {
		t.Fatalf("sign-in through metadata listing \"\" first: %v", err)
	}
	if n := srv.Count("token"); n != 1 {
		t.Fatalf("%d token requests at %s, want the code exchange there", n, srv.Issuer())
	}
}
