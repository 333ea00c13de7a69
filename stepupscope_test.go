package authloop

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// A step-up's sign-in asks for the scopes the session's token was granted
// as well as the challenged one, even granted scopes this session never
// asked for itself (its token came from another program's sign-in): the
// new token must not lose what the old one could do.
func TestStepUpKeepsTheTokensGrantedScopes(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	wider, oc := *f.cfg, *f.cfg.OAuth2
	oc.Scopes = []string{"openid", "offline_access", "read"}
	wider.OAuth2 = &oc
	tok, err := Login(context.Background(), &wider)
	if err != nil {
		t.Fatal(err)
	}
	f.tok = tok
	f.cfg.Interactive = true
	s := f.session()
	f.b.mu.Lock()
	before := len(f.b.urls)
	f.b.mu.Unlock()

	req, _ := http.NewRequest(http.MethodGet, f.srv.ResourceEndpoint(), nil)
	s.Cached().SetAuthHeader(req)
	if err := s.Authorize(context.Background(), req, insufficientScope("write")); err != nil {
		t.Fatalf("step-up: %v", err)
	}
	f.b.mu.Lock()
	urls := slices.Clone(f.b.urls[before:])
	f.b.mu.Unlock()
	if len(urls) != 1 {
		t.Fatalf("%d sign-ins for the step-up, want 1", len(urls))
	}
	u, err := url.Parse(urls[0])
	if err != nil {
		t.Fatal(err)
	}
	sc := strings.Fields(u.Query().Get("scope"))
	if !slices.Contains(sc, "read") || !slices.Contains(sc, "write") {
		t.Fatalf("the step-up asked for scope %q; want the granted read kept and write added", sc)
	}
}
