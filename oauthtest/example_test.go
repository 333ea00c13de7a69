package oauthtest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/authloop/authloop/oauthtest"
	"golang.org/x/oauth2"
)

// Example runs a whole login against the test server with
// golang.org/x/oauth2: a loopback redirect receiver, Browse in place of the
// user's browser, the code exchange with PKCE, and a call to the protected
// resource.
func Example() {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()

	// The application's redirect receiver.
	codes := make(chan string, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		codes <- r.FormValue("code")
		fmt.Fprintln(w, "You can close this window.")
	}))
	defer cb.Close()

	cfg := oauth2.Config{
		ClientID:    srv.ClientID(),
		Endpoint:    srv.Endpoint(),
		RedirectURL: cb.URL + "/callback",
		Scopes:      []string{"read", "offline_access"},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("some-state", oauth2.S256ChallengeOption(verifier))

	ctx := context.Background()
	if _, _, err := oauthtest.Browse(ctx, nil, authURL); err != nil {
		fmt.Println(err)
		return
	}
	tok, err := cfg.Exchange(ctx, <-codes, oauth2.VerifierOption(verifier))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("valid:", tok.Valid(), "refresh token:", tok.RefreshToken != "")

	resp, err := cfg.Client(ctx, tok).Get(srv.ResourceEndpoint())
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("resource:", resp.Status)
	// Output:
	// valid: true refresh token: true
	// resource: 200 OK
}

// ExampleServer_FailNext makes the token endpoint fail twice with 503
// before it answers normally, to test a client's retries.
func ExampleServer_FailNext() {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	srv.FailNext(2, oauthtest.Fault{Kind: oauthtest.FaultUnavailable, RetryAfter: "1"})

	for range 3 {
		resp, err := http.PostForm(srv.TokenEndpoint(), map[string][]string{
			"grant_type": {"refresh_token"}, "refresh_token": {"unknown"}, "client_id": {srv.ClientID()},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 503
	// 503
	// 400
}
