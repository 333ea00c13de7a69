package authloop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// Issue 18, attacked from outside: a program's session (Config.Grant).

// Another process deletes the shared record (`authloop logout --profile
// ci`, another instance's Logout, a store that evicts old records): a
// program's session has no person to sign in, and its grant is its way
// back, as it is after its own Logout. It must not be stranded with
// ErrLoginRequired for the rest of its life.
func TestAttack18RecordDeletedElsewhereStrandsGrantSession(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{AccessTokenTTL: time.Hour}, ClientCredentials())
	st := store.NewMemory()
	f.cfg.Store = st
	ctx := context.Background()
	a, b := f.session(), f.session()
	if _, err := a.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, b.Key()); err != nil { // another process's logout
		t.Fatal(err)
	}
	for round := range 3 {
		f.clock.Advance(time.Hour + maxConfigPause)
		tok, err := b.Token(ctx)
		if err != nil {
			t.Fatalf("round %d after the record was deleted elsewhere: %v (a program's session cannot sign in: it is stranded)", round, err)
		}
		if !f.srv.ValidAccessToken(tok.AccessToken) {
			t.Fatalf("round %d: a token the server does not know", round)
		}
	}
}

// A server asks the first grant to wait (429, Retry-After): no record
// exists yet, so the wait must still reach the other processes sharing
// the store, as a refresh's does (keepWait). Otherwise every process of a
// CI fleet starting at once sends its own request into the server's
// rate limit.
func TestAttack18FirstGrantRetryAfterNotShared(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{}, ClientCredentials())
	f.cfg.Store = store.NewMemory()
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultTooManyRequests, RetryAfter: "120"})
	ctx := context.Background()
	var rl *RetryLaterError
	if _, err := f.session().Token(ctx); !errors.As(err, &rl) {
		t.Fatalf("first process: %v, want a *RetryLaterError", err)
	}
	_, err := f.session().Token(ctx) // a second process, within the wait
	if n := f.grants("client_credentials"); n != 1 {
		t.Errorf("%d client_credentials requests within the server's 120 s wait, want 1 (the second process did not honour it; err %v)", n, err)
	}
	if !errors.As(err, &rl) {
		t.Errorf("second process: %v, want the shared *RetryLaterError", err)
	}
}

// Two workloads (two identities) on one store, same client, issuer and
// resource: their JWT bearer grants present different assertions, so
// their tokens are different principals' and must not share a record.
// The same holds for IdentityAssertion: a gateway acting for its
// employees, one session per person, would hand one person's token to
// the next.
func TestAttack18GrantRecordsOfTwoIdentitiesCollide(t *testing.T) {
	w := newWorkloadFixture(t)
	w.cfg.Store = store.NewMemory()
	ctx := context.Background()
	sign := func(sub string) AssertionSource {
		return func(context.Context) (string, error) {
			return w.platform.Sign(w.platform.Claims(sub, w.srv.Issuer(), w.clock.Now(), 10*time.Minute)), nil
		}
	}
	alice := *w.cfg
	alice.Grant = JWTBearer(sign("system:serviceaccount:team-a:runner"))
	var bobAsked atomic.Int32
	bob := *w.cfg
	bobSrc := sign("system:serviceaccount:team-b:runner")
	bob.Grant = JWTBearer(func(ctx context.Context) (string, error) { bobAsked.Add(1); return bobSrc(ctx) })

	as, err := NewSession(&alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer as.Close()
	at, err := as.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := NewSession(&bob, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	bt, err := bs.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bt.AccessToken == at.AccessToken || bobAsked.Load() == 0 {
		t.Errorf("the second workload got the first one's token (record %s), its own assertion read %d times", bs.Key(), bobAsked.Load())
	}

	// Each keeps to its own from then on: after an expiry, a third session
	// for alice (a restart) does not take bob's token, which the record now
	// holds; nor bob alice's.
	w.clock.Advance(time.Hour)
	for _, c := range []struct {
		cfg *Config
		sub string
	}{{&alice, "team-a"}, {&bob, "team-b"}} {
		s, err := NewSession(c.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Token(ctx)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := tok.Extra(grantSubjectKey).(string); !strings.Contains(got, c.sub) {
			t.Errorf("a session for %s got a token of %q", c.sub, got)
		}
	}

	// IdentityAssertion speaks for the person whose ID token it presents:
	// two people, two subjects, though one record key.
	idp := &Config{}
	person := func(name string) Grant {
		return IdentityAssertion(idp, func(context.Context) (string, error) {
			return w.platform.Sign(w.platform.Claims(name, "https://idp", w.clock.Now(), time.Hour)), nil
		})
	}
	sa, _ := person("alice").(subjected).subject(ctx)
	sb, _ := person("bob").(subjected).subject(ctx)
	if sa == "" || sa == sb {
		t.Errorf("IdentityAssertion for alice and bob: subjects %q and %q", sa, sb)
	}
}

// A server that answers the client credentials grant with a refresh
// token (RFC 6749 §4.4.3 says it should not; Keycloak can), and then does
// not let this client use it (unauthorized_client): the grant is the
// program's way back, as after invalid_grant. The session must not end
// in a configuration error, paused and retried forever with the same
// refresh token.
func TestAttack18RefusedRefreshTokenOfAGrantFallsBackToTheGrant(t *testing.T) {
	for _, code := range []string{"unauthorized_client", "unsupported_grant_type"} {
		t.Run(code, func(t *testing.T) {
			var cc, rt atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				w.Header().Set("Content-Type", "application/json")
				switch r.Form.Get("grant_type") {
				case "client_credentials":
					n := cc.Add(1)
					fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-%d"}`, n, n)
				case "refresh_token":
					rt.Add(1)
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprintf(w, `{"error":%q}`, code)
				default:
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
				}
			}))
			defer srv.Close()
			f := newMachineFixture(t, oauthtest.Config{}, ClientCredentials())
			f.cfg.OAuth2.Endpoint.TokenURL = srv.URL + "/token"
			f.cfg.Issuer = srv.URL
			s := f.session()
			ctx := context.Background()
			if _, err := s.Token(ctx); err != nil {
				t.Fatal(err)
			}
			for round := 1; round <= 3; round++ {
				f.clock.Advance(time.Hour + maxConfigPause)
				if _, err := s.Token(ctx); err != nil {
					t.Fatalf("round %d: %v (after %d refreshes refused, %d grants)", round, err, rt.Load(), cc.Load())
				}
			}
			if rt.Load() > 1 {
				t.Errorf("the refused refresh token was presented %d times", rt.Load())
			}
		})
	}
}

// 403 insufficient_scope on a program's session: no person is needed to
// ask for more, the grant can, as Authorize promises for a session that
// can authorize anew. At the very least the Session.Login that the
// error names must ask for the scope.
func TestAttack18GrantSessionStepUp(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{}, ClientCredentials())
	s := f.session()
	ctx := context.Background()
	tok, err := s.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.ResourceEndpoint(), nil)
	tok.SetAuthHeader(req)
	aerr := s.Authorize(ctx, req, insufficientScope("write"))
	if aerr == nil && covers(s.Cached().Extra("scope"), []string{"write"}) {
		return // stepped up with the grant
	}
	// Authorize said to call Login: does it ask for the scope?
	tok, err = s.Login(ctx)
	if err != nil {
		t.Fatalf("Authorize: %v; then Login: %v", aerr, err)
	}
	if !covers(tok.Extra("scope"), []string{"write"}) {
		t.Errorf("Authorize: %v; then Login's grant got scope %q, without the challenged write: a program's session can never step up", aerr, scopeString(tok))
	}
}

// blockingSigner is a client key in a hardware module or a cloud KMS
// whose Sign hangs (the module or the network is stuck) until release.
type blockingSigner struct {
	*ecdsa.PrivateKey
	entered chan struct{}
	release chan struct{}
}

func (b blockingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return b.PrivateKey.Sign(r, d, o)
}

// A ClientKey whose Sign hangs: the grant runs under the record's lock,
// so a hung signer holds it (and the session) forever. Close must still
// return, as it does during a hung token request (it cancels the
// session's context), instead of hanging the program's shutdown.
func TestAttack18HungClientKeySignerHangsClose(t *testing.T) {
	key, client := keyClient(t, "keyed-job")
	f := newMachineFixture(t, oauthtest.Config{Clients: []oauthtest.Client{client}}, ClientCredentials())
	f.cfg.OAuth2.ClientID, f.cfg.OAuth2.ClientSecret = "keyed-job", ""
	hung := blockingSigner{key, make(chan struct{}, 1), make(chan struct{})}
	defer close(hung.release)
	f.cfg.ClientKey = hung
	s := f.session()
	ctx, cancel := context.WithCancel(context.Background())
	tokErr := make(chan error, 1)
	go func() { _, err := s.Token(ctx); tokErr <- err }()
	select {
	case <-hung.entered:
	case err := <-tokErr:
		t.Fatalf("Token returned without asking the client key to sign: %v", err)
	case <-time.After(10 * time.Second): // a watchdog, not a timing assertion
		t.Fatal("the client key was never asked to sign")
	}
	cancel()
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second): // a deadlock watchdog, not a timing assertion
		t.Fatal("Close hangs while the client key's Sign hangs")
	}
}

// NewSession promises a background timer that renews the token before it
// expires (unless Config.DisableAutoRefresh). A program's session holds
// no refresh token, and the timer is armed only for one: an idle program
// (a daemon between jobs, an agent waiting for work) finds its token
// expired and waits for the grant on its next request, the failure the
// lifecycle is meant to hide (and with a server down then, a failed
// request instead of a token renewed earlier).
func TestAttack18GrantSessionRenewedBeforeExpiryWhileIdle(t *testing.T) {
	f := newMachineFixture(t, oauthtest.Config{AccessTokenTTL: time.Hour}, ClientCredentials())
	changed := make(chan *oauth2.Token, 4)
	f.cfg.OnTokenChange = func(_, tok *oauth2.Token) { changed <- tok }
	s := f.session()
	first, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	<-changed
	f.clock.Advance(time.Hour - time.Second) // idle: no call into the refresh window
	select {
	case tok := <-changed:
		if tok == nil || tok.AccessToken == first.AccessToken {
			t.Fatalf("the timer published %v", tok)
		}
	case <-time.After(10 * time.Second): // a watchdog: the timer fired, or never will
		t.Fatalf("no grant before expiry while idle: %d client_credentials requests", f.grants("client_credentials"))
	}
}
