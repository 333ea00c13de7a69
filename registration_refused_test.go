package authloop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/register"
	"github.com/authloop/authloop/store"
)

// A refresh refused with invalid_client for a registered client does not
// say the grant is dead (the server may refuse only the credentials: a
// secret another process's update rotated): the record keeps its refresh
// token, and a session sharing it goes on refreshing. The refused session
// sends no more requests as that client: it needs a login, which
// registers anew.
func TestDynamicRegistrationRefusedKeepsRecordToken(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true})
	a := f.session()
	f.login(a)
	ctx := context.Background()
	rec, err := f.st.Load(ctx, a.Key())
	if err != nil {
		t.Fatal(err)
	}
	rt := rec.Token.RefreshToken

	b := f.session(func(c *Config) { c.Interactive = false })
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "invalid_client"})
	if _, err := b.Refresh(ctx); !errors.Is(err, ErrLoginRequired) || !strings.Contains(err.Error(), "client this session registered") {
		t.Fatalf("refused with invalid_client: got %v, want login required naming the registered client", err)
	}
	if rec, err := f.st.Load(ctx, a.Key()); err != nil || rec.Token == nil || rec.Token.RefreshToken != rt || rec.Client == nil {
		t.Fatalf("the record lost its refresh token or its registration after invalid_client: %v %v", rec, err)
	}
	tokens := f.srv.Count("token")
	if _, err := b.Refresh(ctx); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("again: got %v, want login required", err)
	}
	if n := f.srv.Count("token") - tokens; n != 0 {
		t.Fatalf("the refused session sent %d more token request(s) as the refused client", n)
	}

	// Another session sharing the record refreshes with it.
	if _, err := a.Refresh(ctx); err != nil {
		t.Fatalf("another session's refresh after the refusal: %v", err)
	}

	// An interactive session refused so signs in again with a new
	// registration: one sign-in.
	c := f.session()
	signIns := f.srv.Count("authorize")
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "invalid_client"})
	tok, err := c.Refresh(ctx)
	if err != nil {
		t.Fatalf("an interactive session refused with invalid_client: %v", err)
	}
	if n := f.srv.Count("authorize") - signIns; n != 1 || f.srv.Count("register") != 2 {
		t.Fatalf("%d sign-ins, %d registrations; want one sign-in with a new registration", n, f.srv.Count("register"))
	}
	if !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatal("the server does not know the new access token")
	}
	if _, err := c.Refresh(ctx); err != nil {
		t.Fatalf("refresh with the new registration: %v", err)
	}
}

// refreshGate holds the first refresh_token request until release is
// closed, and says so on held.
type refreshGate struct {
	base          http.RoundTripper
	once          sync.Once
	held, release chan struct{}
}

func (g *refreshGate) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/token") && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, _ := url.ParseQuery(string(body)); form.Get("grant_type") == "refresh_token" {
			first := false
			g.once.Do(func() { first = true })
			if first {
				close(g.held)
				<-g.release
			}
		}
	}
	return g.base.RoundTrip(r)
}

// A refresh sent with the client secret the record held is refused with
// invalid_client because another process (one that does not take the
// record's lock: an older version, say) updated the registration and got a
// new secret meanwhile, and wrote it into the record: the refresh is sent
// once more with the record's registration, and succeeds.
func TestRefreshRetriedWithUpdatedRegistration(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true, RegistrationManagement: true})
	rot := newSecretRotator()
	gate := &refreshGate{base: rot, held: make(chan struct{}), release: make(chan struct{})}
	withRT := func(c *Config) { c.HTTPClient = &http.Client{Transport: gate} }
	a := f.session(withRT)
	f.login(a)
	c1 := f.kept(a)
	if c1.ClientSecret == "" || c1.RegistrationAccessToken == "" {
		t.Fatalf("the test needs a confidential client with RFC 7592 management: %v", c1)
	}
	b := f.session(withRT, func(c *Config) { c.Interactive = false })

	refreshed := make(chan error, 1)
	go func() {
		_, err := b.Refresh(context.Background())
		refreshed <- err
	}()
	<-gate.held // b's refresh is on its way, with the old secret

	ctx := context.Background()
	md, err := discovery.AuthServer(ctx, nil, f.srv.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := register.Update(ctx, &http.Client{Transport: rot}, md, c1, register.Request{ClientName: "authloop", RedirectURIs: registeredRedirects(t, c1)})
	if err != nil {
		t.Fatal(err)
	}
	if nc.ClientSecret == c1.ClientSecret {
		t.Fatal("the test needs the update to rotate the secret")
	}
	rec, err := f.st.Load(ctx, a.Key())
	if err != nil {
		t.Fatal(err)
	}
	rec.Client = nc
	if _, err := f.st.Save(ctx, rec); err != nil { // without the lock b holds
		t.Fatal(err)
	}
	close(gate.release)

	if err := <-refreshed; err != nil {
		t.Fatalf("the refresh refused for the secret another process rotated: %v", err)
	}
	if c := f.kept(b); c.ClientSecret != nc.ClientSecret {
		t.Fatal("the record no longer holds the updated registration")
	}
	if _, err := a.Refresh(ctx); err != nil {
		t.Fatalf("a refresh with the record after it: %v", err)
	}
}

// A login that registered anew (its port taken) and whose save failed
// holds a token issued to the new client, while the record still holds
// the old client with its older token: the session's refreshes, and the
// retried save, keep the new token with the new client (read beside the
// stale record's client, it would be refused with invalid_grant and the
// new grant lost), and the record gets both once the store works again.
func TestDynamicReregistrationSaveFailed(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true})
	flaky := &flakyStore{Store: f.st}
	f.st = flaky
	s := f.session()
	f.login(s)
	c1 := f.kept(s)
	occupy(t, f.redirectURI())

	flaky.failSaves.Store(2) // the login's save, and its immediate retry
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f.mu.Lock()
	f.cancel = cancel
	f.mu.Unlock()
	tok, err := s.Login(ctx)
	var se *SaveError
	if tok == nil || !errors.As(err, &se) {
		t.Fatalf("the login with a failing store: %v, %v; want its token and a *SaveError", tok, err)
	}
	if f.srv.Count("register") != 2 {
		t.Fatalf("%d registrations; the test needs the login to have registered anew", f.srv.Count("register"))
	}
	if c := f.kept(s); c.ClientID != c1.ClientID {
		t.Fatalf("the record names client %s before the token issued to it was saved", c.ClientID)
	}

	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatalf("refresh after the failed save: %v", err)
	}
	for _, r := range f.srv.Requests() {
		if r.Endpoint == "token" && r.Error != "" {
			t.Errorf("a token request as client %s was refused: %s", r.ClientID, r.Error)
		}
	}
	c2 := f.kept(s)
	if c2.ClientID == c1.ClientID {
		t.Fatalf("the record still names the old client %s beside the new grant", c1.ClientID)
	}
	other := f.session(func(c *Config) { c.Interactive = false })
	if _, err := other.Refresh(context.Background()); err != nil {
		t.Fatalf("another session's refresh with the record: %v", err)
	}
}

// A refresh refused with invalid_client while the record, read again,
// holds another grant with another registration (a process that does not
// take the record's lock signed in anew with a new registration): that
// grant is adopted with its registration, and the registration refused is
// the one presented, never the record's.
func TestInvalidClientAdoptsRecordsNewGrant(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true})
	gate := &refreshGate{base: http.DefaultTransport, held: make(chan struct{}), release: make(chan struct{})}
	a := f.session()
	f.login(a)
	b := f.session(func(c *Config) {
		c.Interactive = false
		c.HTTPClient = &http.Client{Transport: gate}
	})

	// Another grant, with another registration, made elsewhere.
	elsewhere := store.NewMemory()
	z := f.session(func(c *Config) { c.Store = elsewhere })
	f.login(z)
	ctx := context.Background()
	zrec, err := elsewhere.Load(ctx, z.Key())
	if err != nil {
		t.Fatal(err)
	}
	if zrec.Client.ClientID == f.kept(a).ClientID {
		t.Fatal("the test needs another registration")
	}

	refreshed := make(chan error, 1)
	go func() {
		_, err := b.Refresh(ctx)
		refreshed <- err
	}()
	<-gate.held
	rec, err := f.st.Load(ctx, a.Key())
	if err != nil {
		t.Fatal(err)
	}
	rec.Token, rec.Client = zrec.Token, zrec.Client
	if _, err := f.st.Save(ctx, rec); err != nil { // without the lock b holds
		t.Fatal(err)
	}
	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "invalid_client"})
	close(gate.release)
	if err := <-refreshed; err != nil {
		t.Fatalf("the refresh refused with invalid_client, the record holding another grant: %v", err)
	}
	if _, err := b.Refresh(ctx); err != nil {
		t.Fatalf("a refresh of the adopted grant as its registration: %v", err)
	}
	if c := f.kept(b); c.ClientID != zrec.Client.ClientID {
		t.Fatalf("the record names %s, want %s", c.ClientID, zrec.Client.ClientID)
	}
}

// A login that registered anew (its port taken) whose code exchange is
// refused with invalid_client blames that new registration, not the kept
// one: it tries once more, and when that sign-in fails too, the session
// still refreshes the grant it had, as the kept client.
func TestDynamicReregistrationRefusedAtExchange(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true})
	var opens atomic.Int32
	s := f.session(func(c *Config) {
		c.Browser = func(ctx context.Context, u string) error {
			if opens.Add(1) == 3 { // the failing login's second try
				f.srv.DenyNext("access_denied", "not now")
			}
			return f.open(ctx, u)
		}
	})
	f.login(s)
	c1 := f.kept(s)
	occupy(t, f.redirectURI())

	f.srv.FailNext(1, oauthtest.Fault{Kind: oauthtest.FaultOAuthError, Code: "invalid_client"}) // the code exchange
	if _, err := s.Login(context.Background()); err == nil {
		t.Fatal("the login succeeded")
	}
	if n := f.srv.Count("authorize"); n != 3 {
		t.Fatalf("%d authorization requests; the test needs the login to have tried twice", n)
	}
	signIns := f.srv.Count("authorize")
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatalf("refresh as the kept client %s after the failed login: %v", c1.ClientID, err)
	}
	if n := f.srv.Count("authorize") - signIns; n != 0 {
		t.Fatalf("the refresh needed %d sign-in(s): the kept client %s was blamed for the new registration's refusal", n, c1.ClientID)
	}
}
