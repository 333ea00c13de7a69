package authloop

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// A discovered server's response whose iss differs from the issuer of its
// metadata only by a trailing slash (or by the case of its host) is
// refused before the code is redeemed: RFC 9207 §2.4 asks for a simple
// string comparison with the published issuer (the conformance suite's
// auth/iss-normalized). The same iss exactly as published is accepted.
func TestLoginDiscoveredIssuerComparedExactly(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	for _, tc := range []struct {
		name    string
		rewrite func(string) string
		ok      bool
	}{
		{"as published", func(s string) string { return s }, true},
		{"trailing slash", func(s string) string { return s + "/" }, false},
		{"upper-case scheme", func(s string) string { return "HTTP" + s[len("http"):] }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			defer wg.Wait()
			var sent string
			browse := func(ctx context.Context, authURL string) error {
				tr := &http.Transport{}
				client := &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
					q := req.URL.Query()
					if iss := q.Get("iss"); iss != "" {
						sent = tc.rewrite(iss)
						q.Set("iss", sent)
						req.URL.RawQuery = q.Encode()
					}
					return nil
				}}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer tr.CloseIdleConnections()
					_, _, _ = oauthtest.Browse(context.WithoutCancel(ctx), client, authURL)
				}()
				return nil
			}
			cfg := testConfig(srv, browse)
			cfg.OAuth2.Endpoint = oauth2.Endpoint{} // discovered
			tokens := srv.Count("token")
			_, err := Login(context.Background(), cfg)
			wg.Wait()
			if tc.ok {
				if err != nil {
					t.Fatalf("iss %q as published: %v", sent, err)
				}
				return
			}
			var ie *IssuerMismatchError
			if !errors.As(err, &ie) || ie.Got != sent || ie.Want != srv.Issuer() {
				t.Fatalf("iss %q: got %v, want *IssuerMismatchError (want %s)", sent, err, srv.Issuer())
			}
			if srv.Count("token") != tokens {
				t.Error("the code of a refused response was sent to the token endpoint")
			}
		})
	}
}
