package oauthtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
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

// NewServer starts the server on a loopback port; its metadata names the
// endpoints, and its protected resource refuses a request without a token
// with a challenge that points to the resource's metadata (RFC 9728).
func ExampleNewServer() {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()

	resp, err := http.Get(srv.MetadataURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	var meta struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	err = json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("issuer:", meta.Issuer == srv.Issuer())
	fmt.Println("token endpoint:", strings.TrimPrefix(meta.TokenEndpoint, srv.URL))

	resp, err = http.Get(srv.ResourceEndpoint())
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	fmt.Println(strings.ReplaceAll(resp.Header.Get("WWW-Authenticate"), srv.URL, "http://127.0.0.1:PORT"))
	// Output:
	// issuer: true
	// token endpoint: /token
	// 401 Unauthorized
	// Bearer resource_metadata="http://127.0.0.1:PORT/.well-known/oauth-protected-resource/resource"
}

// With an issuer path, as a multi-tenant server has, the endpoints live
// under it and the metadata is served at the RFC 8414 path-inserted URL.
func ExampleServer_Issuer() {
	srv := oauthtest.NewServer(oauthtest.Config{IssuerPath: "/tenant/a"})
	defer srv.Close()

	fmt.Println(strings.TrimPrefix(srv.Issuer(), srv.URL))
	fmt.Println(strings.TrimPrefix(srv.TokenEndpoint(), srv.URL))
	fmt.Println(strings.TrimPrefix(srv.MetadataURL(), srv.URL))
	// Output:
	// /tenant/a
	// /tenant/a/token
	// /.well-known/oauth-authorization-server/tenant/a
}

// A token request by a confidential client (client_credentials, with
// golang.org/x/oauth2/clientcredentials), the token used at the protected
// resource, and the server's log of what it saw, which holds no secret.
func ExampleServer_TokenEndpoint() {
	srv := oauthtest.NewServer(oauthtest.Config{
		Clients: []oauthtest.Client{{ID: "svc", Secret: "svc-secret"}}, // client_secret_basic
	})
	defer srv.Close()

	cc := clientcredentials.Config{
		ClientID:     "svc",
		ClientSecret: "svc-secret",
		TokenURL:     srv.TokenEndpoint(),
		Scopes:       []string{"read"},
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	ctx := context.Background()
	ts := cc.TokenSource(ctx) // reuses the token until it expires
	tok, err := ts.Token()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.Type(), "token, valid:", srv.ValidAccessToken(tok.AccessToken))

	resp, err := oauth2.NewClient(ctx, ts).Get(srv.ResourceEndpoint())
	if err != nil {
		fmt.Println(err)
		return
	}
	var me map[string]any
	err = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, me["sub"], me["scope"])

	for _, r := range srv.Requests() {
		fmt.Println(r.Method, r.Endpoint, r.ClientID, r.Status)
	}
	// Output:
	// Bearer token, valid: true
	// 200 svc read
	// POST token svc 200
	// GET resource svc 200
}

// One FakeClock drives the server and the code under test: access tokens
// expire when the clock is advanced past their lifetime, and timers set on
// the clock fire then, without a test that sleeps.
func ExampleFakeClock() {
	clock := oauthtest.NewFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	srv := oauthtest.NewServer(oauthtest.Config{
		Clock:          clock,
		AccessTokenTTL: time.Hour,
		Clients:        []oauthtest.Client{{ID: "svc", Secret: "svc-secret"}},
	})
	defer srv.Close()

	cc := clientcredentials.Config{ClientID: "svc", ClientSecret: "svc-secret", TokenURL: srv.TokenEndpoint(), AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}

	fired := make(chan time.Time, 1)
	clock.AfterFunc(time.Hour, func() { fired <- clock.Now() })
	next, _ := clock.NextTimer()
	fmt.Println("next timer in", next)

	clock.Advance(59 * time.Minute)
	fmt.Println(clock.Now().Format(time.Kitchen), "valid:", srv.ValidAccessToken(tok.AccessToken))
	clock.Advance(time.Minute)
	fmt.Println("timer fired at", (<-fired).Format(time.Kitchen))
	fmt.Println(clock.Now().Format(time.Kitchen), "valid:", srv.ValidAccessToken(tok.AccessToken))
	// Output:
	// next timer in 1h0m0s
	// 12:59PM valid: true
	// timer fired at 1:00PM
	// 1:00PM valid: false
}
