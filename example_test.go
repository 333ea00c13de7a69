package authloop_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// The README's "Use it as a library": a command-line tool's session,
// resumed from the OS keyring or the file store, that signs the person in
// through the browser when it must. TestREADMELibrarySnippet keeps the
// README's snippet identical to this body.
func Example() {
	ctx := context.Background()
	st, which, err := store.Default("") // the OS keyring when one answers, else ~/.config/authloop
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("tokens kept in the %s", which)

	cfg := &authloop.Config{
		OAuth2: &oauth2.Config{
			ClientID: "my-cli",
			Scopes:   []string{"openid", "offline_access"},
		},
		Issuer:      "https://auth.example.com", // endpoints discovered (RFC 8414 / OpenID); iss checked (RFC 9207)
		Store:       st,                         // survives restarts; shared safely by every process
		Interactive: true,                       // may open the browser when the grant is gone
		AppName:     "mytool",
	}
	s, err := authloop.NewSession(cfg, nil) // resumes the saved sign-in, if any
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	client := s.Client(ctx) // an *http.Client: bearer token, refreshed before expiry, retried on 401
	resp, err := client.Get("https://api.example.com/me")
	if err != nil {
		log.Fatal(err) // errors.Is(err, authloop.ErrLoginRequired): the person must sign in again
	}
	defer resp.Body.Close()
	// s.Token(ctx) returns a valid *oauth2.Token; s.TokenSource(ctx) is an oauth2.TokenSource
}

// Login signs the person in once and returns the token. Here the
// authorization server is an oauthtest.Server and the "browser" follows the
// authorization URL with an HTTP client, approving at once.
func ExampleLogin() {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()

	cfg := &authloop.Config{
		OAuth2: &oauth2.Config{
			ClientID: srv.ClientID(),
			Scopes:   []string{"openid", "offline_access"},
		},
		Issuer: srv.Issuer(), // endpoints discovered from its metadata
		Browser: func(ctx context.Context, url string) error {
			_, _, err := oauthtest.Browse(ctx, nil, url) // a person who approves
			return err
		},
		Prompt: io.Discard, // no "Your browser has been opened" line
	}
	tok, err := authloop.Login(context.Background(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("token type:", tok.Type())
	fmt.Println("refresh token:", tok.RefreshToken != "")
	fmt.Println("granted:", tok.Extra("scope"))
	// Output:
	// token type: Bearer
	// refresh token: true
	// granted: openid offline_access
}

// A Session keeps the sign-in in its store: a program started later (here,
// a second session on the same directory) resumes it without a login.
func ExampleNewSession() {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	dir, err := os.MkdirTemp("", "authloop-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	st, err := store.NewFile(filepath.Join(dir, "authloop"))
	if err != nil {
		fmt.Println(err)
		return
	}

	cfg := &authloop.Config{
		OAuth2: &oauth2.Config{
			ClientID: srv.ClientID(),
			Scopes:   []string{"openid", "offline_access"},
		},
		Issuer: srv.Issuer(),
		Store:  st,
		Browser: func(ctx context.Context, url string) error {
			_, _, err := oauthtest.Browse(ctx, nil, url)
			return err
		},
		Prompt: io.Discard,
	}
	ctx := context.Background()
	tok, err := authloop.Login(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	first, err := authloop.NewSession(cfg, tok) // saves tok to st
	if err != nil {
		fmt.Println(err)
		return
	}
	first.Close()

	s, err := authloop.NewSession(cfg, nil) // takes the token saved in st
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	fmt.Println("signed in:", s.Cached() != nil)
	fmt.Println("can refresh:", s.CanRefresh())
	fmt.Println("logins:", srv.Count("authorize"))
	// Output:
	// signed in: true
	// can refresh: true
	// logins: 1
}

// A session that may not open the browser by itself (Interactive false, as
// for a daemon) reports ErrLoginRequired; Session.Login signs in when the
// program decides to.
func ExampleSession_Login() {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()

	s, err := authloop.NewSession(&authloop.Config{
		OAuth2: &oauth2.Config{
			ClientID: srv.ClientID(),
			Scopes:   []string{"openid", "offline_access"},
		},
		Issuer: srv.Issuer(),
		Browser: func(ctx context.Context, url string) error {
			_, _, err := oauthtest.Browse(ctx, nil, url)
			return err
		},
		Prompt: io.Discard,
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	ctx := context.Background()
	_, err = s.Token(ctx)
	fmt.Println("login required:", errors.Is(err, authloop.ErrLoginRequired))
	if _, err := s.Login(ctx); err != nil {
		fmt.Println(err)
		return
	}
	_, err = s.Token(ctx)
	fmt.Println("signed in:", err == nil)
	// Output:
	// login required: true
	// signed in: true
}

// Session.Client sends the session's access token with every request.
func ExampleSession_Client() {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()

	ctx := context.Background()
	s, err := authloop.NewSession(&authloop.Config{
		OAuth2: &oauth2.Config{ClientID: srv.ClientID(), Endpoint: srv.Endpoint()},
		Browser: func(ctx context.Context, url string) error {
			_, _, err := oauthtest.Browse(ctx, nil, url)
			return err
		},
		Prompt: io.Discard,
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	if _, err := s.Login(ctx); err != nil {
		fmt.Println(err)
		return
	}

	resp, err := s.Client(ctx).Get(srv.ResourceEndpoint())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var me struct {
		Sub string `json:"sub"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status)
	fmt.Println("signed in as", me.Sub)
	// Output:
	// 200 OK
	// signed in as alice
}

// Transport puts the session's token on the requests of any http.Client,
// here one with a timeout of its own, over the default transport.
func ExampleTransport() {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()

	ctx := context.Background()
	s, err := authloop.NewSession(&authloop.Config{
		OAuth2: &oauth2.Config{ClientID: srv.ClientID(), Endpoint: srv.Endpoint()},
		Browser: func(ctx context.Context, url string) error {
			_, _, err := oauthtest.Browse(ctx, nil, url)
			return err
		},
		Prompt: io.Discard,
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	if _, err := s.Login(ctx); err != nil {
		fmt.Println(err)
		return
	}

	client := &http.Client{
		Transport: &authloop.Transport{Session: s, Base: http.DefaultTransport},
		Timeout:   10 * time.Second,
	}
	resp, err := client.Get(srv.ResourceEndpoint())
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 200
}

// Session.TokenSource serves code written for golang.org/x/oauth2, such as
// oauth2.NewClient.
func ExampleSession_TokenSource() {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()

	ctx := context.Background()
	s, err := authloop.NewSession(&authloop.Config{
		OAuth2: &oauth2.Config{ClientID: srv.ClientID(), Endpoint: srv.Endpoint()},
		Browser: func(ctx context.Context, url string) error {
			_, _, err := oauthtest.Browse(ctx, nil, url)
			return err
		},
		Prompt: io.Discard,
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	if _, err := s.Login(ctx); err != nil {
		fmt.Println(err)
		return
	}

	ts := s.TokenSource(ctx)
	tok, err := ts.Token()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("valid:", tok.Valid())

	resp, err := oauth2.NewClient(ctx, ts).Get(srv.ResourceEndpoint())
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// valid: true
	// 200 OK
}
