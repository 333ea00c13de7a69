package authloop

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/register"
	"github.com/authloop/authloop/store"
)

// dcrFixture is a server without a client for authloop, a store shared by
// the sessions of a test (as processes share a file store), and a person
// who signs in with the browser.
type dcrFixture struct {
	t   *testing.T
	srv *oauthtest.Server
	st  store.Store

	mu      sync.Mutex
	urls    []string // the authorization URLs opened, in order
	refused []string // the pages of refused authorization requests
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func newDCRFixture(t *testing.T, sc oauthtest.Config) *dcrFixture {
	f := &dcrFixture{t: t, srv: oauthtest.NewServer(sc), st: store.NewMemory()}
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.wg.Wait)
	return f
}

// config names only the issuer: the client is registered dynamically.
func (f *dcrFixture) config() *Config {
	return &Config{
		OAuth2:       &oauth2.Config{Scopes: []string{"openid", "offline_access"}},
		Issuer:       f.srv.Issuer(),
		Store:        f.st,
		Interactive:  true,
		Browser:      f.open,
		Prompt:       discardWriter{},
		LoginTimeout: time.Minute,
	}
}

// session starts a session on the fixture's store; edits change its
// configuration first.
func (f *dcrFixture) session(edits ...func(*Config)) *Session {
	f.t.Helper()
	cfg := f.config()
	for _, edit := range edits {
		edit(cfg)
	}
	s, err := NewSession(cfg, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { s.Close() })
	return s
}

// open follows the authorization URL as a person who approves; when the
// server answers with an error page instead of sending the browser back
// (a redirect URI it does not accept), the person gives up, and the login
// ends at once instead of at its timeout.
func (f *dcrFixture) open(ctx context.Context, u string) error {
	f.mu.Lock()
	f.urls = append(f.urls, u)
	cancel := f.cancel
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		status, body, _ := oauthtest.Browse(context.WithoutCancel(ctx), nil, u)
		if status != 200 {
			f.mu.Lock()
			f.refused = append(f.refused, string(body))
			f.mu.Unlock()
			cancel()
		}
	}()
	return nil
}

// login signs in with s (Session.Login), and fails the test if the server
// refused the authorization request or the login failed.
func (f *dcrFixture) login(s *Session) *oauth2.Token {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f.mu.Lock()
	f.cancel = cancel
	f.mu.Unlock()
	tok, err := s.Login(ctx)
	f.mu.Lock()
	refused := slices.Clone(f.refused)
	f.mu.Unlock()
	if len(refused) > 0 {
		f.t.Fatalf("the authorization server refused the sign-in: %.300s", refused[len(refused)-1])
	}
	if err != nil {
		f.t.Fatalf("login: %v", err)
	}
	return tok
}

// redirectURI is the redirect URI of the last authorization request.
func (f *dcrFixture) redirectURI() string {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.urls) == 0 {
		f.t.Fatal("no authorization request was made")
	}
	u, err := url.Parse(f.urls[len(f.urls)-1])
	if err != nil {
		f.t.Fatal(err)
	}
	return u.Query().Get("redirect_uri")
}

// kept is the registration in s's record.
func (f *dcrFixture) kept(s *Session) *store.Client {
	f.t.Helper()
	rec, err := f.st.Load(context.Background(), s.Key())
	if err != nil {
		f.t.Fatal(err)
	}
	if rec.Client == nil {
		f.t.Fatal("the record keeps no client")
	}
	return rec.Client
}

// registeredRedirects are the redirect URIs of a kept registration, as the
// server's registration response listed them.
func registeredRedirects(t *testing.T, c *store.Client) []string {
	t.Helper()
	var m struct {
		RedirectURIs []string `json:"redirect_uris"`
	}
	if err := json.Unmarshal(c.Metadata, &m); err != nil {
		t.Fatal(err)
	}
	return m.RedirectURIs
}

// wantRegisteredFor checks that the record's registration, and the client
// at the server, name exactly the redirect URI the last login used.
func (f *dcrFixture) wantRegisteredFor(s *Session) *store.Client {
	f.t.Helper()
	c := f.kept(s)
	want := []string{f.redirectURI()}
	if got := registeredRedirects(f.t, c); !slices.Equal(got, want) {
		f.t.Errorf("the kept registration's redirect URIs %q, want exactly %q", got, want)
	}
	sc, ok := f.srv.Client(c.ClientID)
	if !ok {
		f.t.Fatalf("the server does not know the kept client %s", c.ClientID)
	}
	if !slices.Equal(sc.RedirectURIs, want) {
		f.t.Errorf("the server's client %s has redirect URIs %q, want exactly %q", c.ClientID, sc.RedirectURIs, want)
	}
	return c
}

// occupy listens on the port of redirectURI until the test ends (or it
// closes the listener), as another program would.
func occupy(t *testing.T, redirectURI string) net.Listener {
	t.Helper()
	u, err := url.Parse(redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", u.Host)
	if err != nil {
		t.Fatalf("occupying %s: %v", u.Host, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func portOf(t *testing.T, redirectURI string) int {
	t.Helper()
	u, err := url.Parse(redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(u.Port())
	return p
}

// A dynamic registration names the exact redirect URI the login uses
// (port included), so the login succeeds at a server that compares redirect
// URIs exactly, as well as at one that accepts any loopback port.
func TestDynamicRegistrationExactRedirectURI(t *testing.T) {
	for _, exact := range []bool{false, true} {
		name := "any-port"
		if exact {
			name = "exact"
		}
		t.Run(name, func(t *testing.T) {
			f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: exact})
			s := f.session()
			tok := f.login(s)
			if !f.srv.ValidAccessToken(tok.AccessToken) {
				t.Fatal("the server does not know the access token")
			}
			if portOf(t, f.redirectURI()) == 0 {
				t.Fatalf("redirect URI %q has no port", f.redirectURI())
			}
			f.wantRegisteredFor(s)
			if n := f.srv.Count("register"); n != 1 {
				t.Fatalf("%d registrations, want 1", n)
			}
			if _, err := s.Refresh(context.Background()); err != nil {
				t.Fatalf("refresh with the registered client: %v", err)
			}
		})
	}
}

// A later login, in this process or another one sharing the store, listens
// on the registered port again: no new registration.
func TestDynamicRegistrationReusesPort(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true})
	s1 := f.session()
	f.login(s1)
	first := f.redirectURI()
	c1 := f.kept(s1)

	f.login(s1)
	if got := f.redirectURI(); got != first {
		t.Fatalf("the second login used %q, want the registered %q", got, first)
	}
	s2 := f.session()
	f.login(s2)
	if got := f.redirectURI(); got != first {
		t.Fatalf("another session's login used %q, want the registered %q", got, first)
	}
	if n := f.srv.Count("register"); n != 1 {
		t.Fatalf("%d registrations, want 1", n)
	}
	if c := f.kept(s2); c.ClientID != c1.ClientID {
		t.Fatalf("the record's client changed from %s to %s", c1.ClientID, c.ClientID)
	}
}

// When another program holds the registered port, the login listens on
// another one and registers it: a new registration where the server offers
// no way to update one, an RFC 7592 update of the same client where it
// does. Either way the record keeps one registration: the one that works.
func TestDynamicRegistrationPortTaken(t *testing.T) {
	forEachRegistrationKind(t, func(t *testing.T, managed bool) {
		f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true, RegistrationManagement: managed})
		s := f.session()
		f.login(s)
		first := f.redirectURI()
		c1 := f.kept(s)
		occupy(t, first)

		tok := f.login(s)
		second := f.redirectURI()
		if second == first {
			t.Fatalf("the login used the occupied %q", first)
		}
		c2 := f.wantRegisteredFor(s)
		if !f.srv.ValidAccessToken(tok.AccessToken) {
			t.Fatal("the server does not know the access token")
		}
		if managed {
			if c2.ClientID != c1.ClientID || f.srv.Count("register") != 1 || f.srv.Count("client_configuration") != 1 {
				t.Fatalf("client %s -> %s, %d registrations, %d updates; want the same client updated once",
					c1.ClientID, c2.ClientID, f.srv.Count("register"), f.srv.Count("client_configuration"))
			}
			if c2.RegistrationAccessToken == c1.RegistrationAccessToken {
				t.Fatal("the record keeps the registration access token the update rotated away")
			}
		} else if c2.ClientID == c1.ClientID || f.srv.Count("register") != 2 {
			t.Fatalf("client %s -> %s, %d registrations; want a second registration", c1.ClientID, c2.ClientID, f.srv.Count("register"))
		}
		if _, err := s.Refresh(context.Background()); err != nil {
			t.Fatalf("refresh after the new registration: %v", err)
		}
	})
}

// The server refuses to move the kept registration to the new redirect URI
// (RFC 7592 update answered invalid_redirect_uri): a new registration, not
// a failed login.
func TestDynamicRegistrationUpdateRefused(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true, RegistrationManagement: true})
	s := f.session()
	f.login(s)
	c1 := f.kept(s)
	occupy(t, f.redirectURI())
	f.srv.DenyRegistration("invalid_redirect_uri", "redirect URIs cannot change")

	f.login(s)
	c2 := f.wantRegisteredFor(s)
	if c2.ClientID == c1.ClientID || f.srv.Count("client_configuration") != 1 || f.srv.Count("register") != 2 {
		t.Fatalf("client %s -> %s, %d updates, %d registrations; want the refused update, then a new registration",
			c1.ClientID, c2.ClientID, f.srv.Count("client_configuration"), f.srv.Count("register"))
	}
}

// A kept registration whose redirect URI the server would refuse (one
// without a port, as authloop registered before, at a server that compares
// exactly) is registered again with the exact URI, not reused for a login
// that cannot succeed.
func TestDynamicRegistrationPortlessKeptRegisteredAgain(t *testing.T) {
	forEachRegistrationKind(t, func(t *testing.T, managed bool) {
		f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true, RegistrationManagement: managed})
		md, err := discovery.AuthServer(context.Background(), nil, f.srv.Issuer())
		if err != nil {
			t.Fatal(err)
		}
		old, err := register.Dynamic(context.Background(), nil, md, register.Request{RedirectURIs: []string{register.DefaultRedirectURI}})
		if err != nil {
			t.Fatal(err)
		}
		s := f.session()
		if _, err := f.st.Save(context.Background(), &store.Record{Key: s.Key(), Client: old}); err != nil {
			t.Fatal(err)
		}
		s = f.session() // reads the record
		f.login(s)
		c := f.wantRegisteredFor(s)
		if managed != (c.ClientID == old.ClientID) {
			t.Fatalf("client %s -> %s (RFC 7592: %v)", old.ClientID, c.ClientID, managed)
		}
	})
}

// A session that only refreshes needs no redirect URI: it neither listens
// nor registers, even when the registered port is taken.
func TestDynamicRegistrationRefreshOnly(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true})
	s1 := f.session()
	f.login(s1)
	occupy(t, f.redirectURI())
	s1.Close()

	s2 := f.session()
	if _, err := s2.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.srv.Count("register") != 1 || f.srv.Count("authorize") != 1 {
		t.Fatalf("%d registrations, %d authorization requests; want the first login's only", f.srv.Count("register"), f.srv.Count("authorize"))
	}
}

// A registration made by one session's login (its port was taken) is the
// one every session sharing the record refreshes with afterwards: none
// presents the new refresh token as the old client, which would be refused
// and cost the shared grant.
func TestDynamicReregistrationSharedBySessions(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true})
	s1 := f.session()
	f.login(s1)
	// Holds the first registration; never signs in, so that only a refresh
	// with the record's client can keep it going.
	s2 := f.session(func(c *Config) { c.Interactive = false })
	occupy(t, f.redirectURI())
	f.login(s1) // registers again
	c := f.kept(s1)

	// The first refresh adopts the token s1 saved; the second presents its
	// refresh token.
	var tok *oauth2.Token
	for i := range 2 {
		var err error
		if tok, err = s2.Refresh(context.Background()); err != nil {
			t.Fatalf("the other session's refresh %d: %v", i+1, err)
		}
	}
	if c2 := f.kept(s2); c2.ClientID != c.ClientID {
		t.Fatalf("the record's client went from %s back to %s", c.ClientID, c2.ClientID)
	}
	if _, err := s1.Refresh(context.Background()); err != nil {
		t.Fatalf("refresh with the record's token after the other session's: %v", err)
	}
	if !f.srv.ValidAccessToken(tok.AccessToken) {
		t.Fatal("the server does not know the refreshed access token")
	}
}

// A configured redirect URL keeps its fixed port: the registration names
// exactly it.
func TestDynamicRegistrationFixedRedirectURL(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true})
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fixed := "http://" + ln.Addr().String() + "/callback"
	ln.Close()
	cfg := f.config()
	cfg.OAuth2.RedirectURL = fixed
	s, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f.login(s)
	if got := f.redirectURI(); got != fixed {
		t.Fatalf("redirect URI %q, want the configured %q", got, fixed)
	}
	f.wantRegisteredFor(s)
}

// A registration updated (RFC 7592) for a login that then fails is in the
// record at once: the next login, in any process, listens where the server
// now expects it, and the record never names a redirect URI or a
// registration access token the server has dropped.
func TestDynamicRegistrationUpdateKeptWhenLoginFails(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true, RegistrationManagement: true})
	s := f.session()
	f.login(s)
	first := f.redirectURI()
	ln := occupy(t, first)

	f.srv.DenyNext("access_denied", "the person said no")
	if _, err := s.Login(context.Background()); err == nil {
		t.Fatal("the refused login succeeded")
	}
	second := f.redirectURI()
	ln.Close() // the first port is free again
	c := f.kept(s)
	if got := registeredRedirects(t, c); !slices.Equal(got, []string{second}) {
		t.Fatalf("the record's registration names %q; the server has %q since the update", got, second)
	}

	s2 := f.session()
	f.login(s2)
	if got := f.redirectURI(); got != second {
		t.Fatalf("the next login used %q, want %q, where the registration now is", got, second)
	}
	if f.srv.Count("register") != 1 || f.srv.Count("client_configuration") != 1 {
		t.Fatalf("%d registrations, %d updates; want 1 and 1", f.srv.Count("register"), f.srv.Count("client_configuration"))
	}
}

// A session whose record keeps a refresh token but no registration to
// present it as (lost, or its secret expired) needs a login: its refresh
// registers nothing, sends nothing, and leaves the record's token alone.
func TestDynamicRegistrationNoKeptClientRefresh(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{})
	s1 := f.session()
	tok := f.login(s1)
	ctx := context.Background()
	rec, err := f.st.Load(ctx, s1.Key())
	if err != nil {
		t.Fatal(err)
	}
	rec.Client = nil
	if _, err := f.st.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	s1.Close()

	s2 := f.session(func(c *Config) { c.Interactive = false })
	tokens := f.srv.Count("token")
	if _, err := s2.Refresh(ctx); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("got %v, want login required", err)
	}
	if f.srv.Count("register") != 1 || f.srv.Count("token") != tokens {
		t.Fatalf("%d registrations, %d token requests since; want none", f.srv.Count("register")-1, f.srv.Count("token")-tokens)
	}
	if rec, err := f.st.Load(ctx, s2.Key()); err != nil || rec.Token == nil || rec.Token.RefreshToken != tok.RefreshToken {
		t.Fatalf("the record's refresh token was dropped: %v %v", rec, err)
	}
}

// The device flow, which uses no redirect URI, still gets a registered
// client.
func TestDynamicRegistrationDeviceFlow(t *testing.T) {
	fastDevicePolls(t)
	f := newDCRFixture(t, oauthtest.Config{DeviceAutoApprovePolls: 1})
	s := f.session(func(c *Config) { c.LoginMode = LoginDevice; c.OnDeviceCode = func(*oauth2.DeviceAuthResponse) {} })
	tok := f.login(s)
	if !f.srv.ValidAccessToken(tok.AccessToken) || f.srv.Count("register") != 1 || f.srv.Count("authorize") != 0 {
		t.Fatalf("token valid %v, %d registrations, %d authorization requests", f.srv.ValidAccessToken(tok.AccessToken), f.srv.Count("register"), f.srv.Count("authorize"))
	}
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// forEachRegistrationKind runs test against a server that can update a
// registration (RFC 7592) and one that cannot, where a new registration
// is the way out.
func forEachRegistrationKind(t *testing.T, test func(t *testing.T, managed bool)) {
	for _, managed := range []bool{false, true} {
		name := "new-registration"
		if managed {
			name = "rfc7592-update"
		}
		t.Run(name, func(t *testing.T) { test(t, managed) })
	}
}
