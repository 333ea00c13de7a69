package authloop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// Adversarial tests of issue 12, situation 13 (dynamic registration with
// the exact redirect URI).

// A login whose registered port is taken registers a new client (the
// server offers no RFC 7592 update), and then the person cancels the
// sign-in. The grant the person signed in to before is untouched at the
// server: its refresh token, issued to the first client, must keep
// working, in this session and in any other process sharing the record.
// A record that names the new client beside the old client's refresh
// token makes every refresh present it as the new client: the server
// answers invalid_grant, and the shared grant is dropped.
func TestAttackReregistrationForCancelledLoginKeepsGrant(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true})
	s := f.session()
	tok := f.login(s)
	c1 := f.kept(s)
	occupy(t, f.redirectURI())

	f.srv.DenyNext("access_denied", "the person cancelled")
	if _, err := s.Login(context.Background()); err == nil {
		t.Fatal("the cancelled login succeeded")
	}
	if f.srv.Count("register") != 2 {
		t.Fatalf("%d registrations; the test needs the cancelled login to have registered a second client", f.srv.Count("register"))
	}

	signIns := f.srv.Count("authorize")
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Errorf("this session's refresh after the cancelled login: %v", err)
	}
	if n := f.srv.Count("authorize") - signIns; n != 0 {
		t.Errorf("this session's refresh needed %d new sign-in(s): the grant signed in to before was lost", n)
	}
	// Another process, sharing the record.
	other := f.session(func(c *Config) { c.Interactive = false })
	if _, err := other.Refresh(context.Background()); err != nil {
		t.Errorf("another process's refresh after the cancelled login: %v", err)
	}
	for _, r := range f.srv.Requests() {
		if r.Endpoint == "token" && r.Error == "invalid_grant" {
			t.Errorf("a refresh token issued to client %s was presented as client %s and refused", c1.ClientID, r.ClientID)
		}
	}
	if rec, err := f.st.Load(context.Background(), s.Key()); err != nil || rec.Token == nil || rec.Token.RefreshToken == "" {
		t.Errorf("the record lost its refresh token (first was %.6s…): %v", tok.RefreshToken, err)
	}
}

// While one process's login waits for the person (its registered port was
// taken, so it registered a new client), another process sharing the
// record refreshes: the refresh token in the record was issued to the
// first client and must be presented as that client. Presented as the
// new one, it is refused with invalid_grant and the other process is told
// to log in (exit 3 for `authloop token`), although nothing is wrong with
// its grant.
func TestAttackRefreshDuringReregisteringLogin(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true})
	s := f.session()
	f.login(s)
	occupy(t, f.redirectURI())

	opened := make(chan string, 1)
	a := f.session(func(c *Config) {
		c.Browser = func(ctx context.Context, u string) error {
			opened <- u
			return nil
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := a.Login(context.Background())
		done <- err
	}()
	var u string
	select {
	case u = <-opened:
	case err := <-done:
		t.Fatalf("the login ended before the browser opened: %v", err)
	}
	if f.srv.Count("register") != 2 {
		t.Fatalf("%d registrations; the test needs the login to have registered a second client", f.srv.Count("register"))
	}

	b := f.session(func(c *Config) { c.Interactive = false })
	if _, err := b.Refresh(context.Background()); err != nil {
		t.Errorf("another process's refresh while the login waits for the person: %v", err)
	}

	// The person approves.
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		_, _, _ = oauthtest.Browse(context.Background(), nil, u)
	}()
	if err := <-done; err != nil {
		t.Fatalf("the login: %v", err)
	}
	if _, err := b.Refresh(context.Background()); err != nil {
		t.Errorf("the other process's refresh after the login: %v", err)
	}
}

// foreignConfigEndpoint rewrites the registration_client_uri of every
// registration answer to a URL on another origin, and records (without
// sending them on) the requests that go to that origin: a registration
// response that sends the registration access token elsewhere.
type foreignConfigEndpoint struct {
	base    http.RoundTripper
	foreign string // scheme://host of the other origin

	mu   sync.Mutex
	sent []string // Authorization headers sent to the other origin
}

func (f *foreignConfigEndpoint) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme+"://"+r.URL.Host == f.foreign {
		f.mu.Lock()
		f.sent = append(f.sent, r.Header.Get("Authorization"))
		f.mu.Unlock()
		return &http.Response{StatusCode: 404, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	}
	resp, err := f.base.RoundTrip(r)
	if err != nil || !strings.HasSuffix(r.URL.Path, "/register") || r.Method != http.MethodPost {
		return resp, err
	}
	return editJSON(resp, func(m map[string]any) bool {
		if m["registration_client_uri"] == nil {
			return false
		}
		m["registration_client_uri"] = f.foreign + "/clients/" + fmt.Sprint(m["client_id"])
		return true
	})
}

// A registration response names a client configuration endpoint (RFC
// 7592) on another origin than the authorization server's, or one that is
// plain http on a host that is not loopback: the registration access token
// must never be sent there. An update that cannot be made safely is no
// reason to fail the login: a new registration is.
func TestAttackRegistrationClientURIElsewhere(t *testing.T) {
	for _, foreign := range []string{"https://registrations.attacker.example", "http://registrations.example"} {
		t.Run(foreign, func(t *testing.T) {
			f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true, RegistrationManagement: true})
			rt := &foreignConfigEndpoint{base: http.DefaultTransport, foreign: foreign}
			withRT := func(c *Config) { c.HTTPClient = &http.Client{Transport: rt} }
			s := f.session(withRT)
			f.login(s)
			c1 := f.kept(s)
			if !strings.HasPrefix(c1.RegistrationClientURI, foreign) {
				t.Fatalf("the test's rewrite did not reach the record: %q", c1.RegistrationClientURI)
			}
			occupy(t, f.redirectURI()) // the next login needs another redirect URI
			f.login(s)
			rt.mu.Lock()
			defer rt.mu.Unlock()
			for _, h := range rt.sent {
				if strings.Contains(h, c1.RegistrationAccessToken) {
					t.Fatalf("the registration access token was sent to %s, another origin than the authorization server %s", foreign, f.srv.Issuer())
				}
			}
			if len(rt.sent) > 0 {
				t.Errorf("%d request(s) went to the client configuration endpoint on another origin", len(rt.sent))
			}
		})
	}
}

// secretRotator plays a server that issues a new client secret when it
// updates a registration (RFC 7592 §2.2 allows it) and from then on
// refuses the old one with invalid_client. It sits in front of oauthtest,
// which keeps secrets: it hands out its own secret in the update's answer
// and swaps it back on the way in. With hold armed, it holds the next
// refresh request until an update has been answered.
type secretRotator struct {
	base http.RoundTripper

	mu      sync.Mutex
	real    map[string]string // client id -> the secret oauthtest knows
	rotated map[string]string // client id -> the secret handed out by an update
	hold    bool
	held    chan struct{} // closed when a refresh is held
	updated chan struct{} // closed when an update has been answered
}

func newSecretRotator() *secretRotator {
	return &secretRotator{base: confidentialOnly{http.DefaultTransport}, real: map[string]string{}, rotated: map[string]string{},
		held: make(chan struct{}), updated: make(chan struct{})}
}

func (s *secretRotator) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/token") {
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		form, _ := url.ParseQuery(string(body))
		s.mu.Lock()
		hold := s.hold && form.Get("grant_type") == "refresh_token"
		if hold {
			s.hold = false
		}
		s.mu.Unlock()
		if hold {
			close(s.held)
			<-s.updated
		}
		id, secret, ok := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		s.mu.Lock()
		rot, real := s.rotated[id], s.real[id]
		s.mu.Unlock()
		if ok && rot != "" {
			if secret != rot {
				b := `{"error":"invalid_client","error_description":"client authentication failed"}`
				return &http.Response{StatusCode: 401, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(b)), Request: r}, nil
			}
			r = r.Clone(r.Context())
			r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(real))
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		return s.base.RoundTrip(r)
	}
	resp, err := s.base.RoundTrip(r)
	if err != nil || !strings.Contains(r.URL.Path, "/register") || resp.StatusCode >= 300 {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		id, _ := m["client_id"].(string)
		secret, _ := m["client_secret"].(string)
		s.mu.Lock()
		switch r.Method {
		case http.MethodPost:
			s.real[id] = secret
		case http.MethodPut:
			rot := "rotated-" + fmt.Sprint(len(s.rotated)+1) + "-" + id
			s.rotated[id] = rot
			m["client_secret"] = rot
			body, _ = json.Marshal(m)
			defer close(s.updated)
		}
		s.mu.Unlock()
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// One process updates the registration (RFC 7592: its registered port is
// taken) at a server that issues a new client secret with the update,
// while another process's refresh, sent with the secret the record held a
// moment before, is on its way: the server answers invalid_client. That
// says nothing about the grant: the record's refresh token must survive
// (the refresh retried with the record's new secret, or left for later),
// and the grant keep working once the person cancels the sign-in.
func TestAttackRefreshRacingSecretRotatingUpdate(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true, RegistrationManagement: true})
	rot := newSecretRotator()
	withRT := func(c *Config) { c.HTTPClient = &http.Client{Transport: rot} }
	a := f.session(withRT)
	f.login(a)
	if c := f.kept(a); c.ClientSecret == "" || c.RegistrationAccessToken == "" {
		t.Fatalf("the test needs a confidential client with RFC 7592 management: %v", c)
	}
	b := f.session(withRT, func(c *Config) { c.Interactive = false })
	occupy(t, f.redirectURI())

	rot.mu.Lock()
	rot.hold = true
	rot.mu.Unlock()
	refreshed := make(chan error, 1)
	go func() {
		_, err := b.Refresh(context.Background())
		refreshed <- err
	}()
	<-rot.held // b's refresh is on its way, with the old secret
	f.srv.DenyNext("access_denied", "the person cancelled")
	if _, err := a.Login(context.Background()); err == nil {
		t.Fatal("the cancelled login succeeded")
	}
	if err := <-refreshed; err != nil {
		t.Logf("the other process's refresh during the update: %v", err)
	}
	if c := f.kept(a); c.ClientSecret == "" || !strings.HasPrefix(c.ClientSecret, "rotated-") {
		t.Fatalf("the record does not keep the secret the update issued: %v", c)
	}
	later := f.session(withRT, func(c *Config) { c.Interactive = false })
	if _, err := later.Refresh(context.Background()); err != nil {
		t.Fatalf("a refresh after the update, with the record's new secret: %v (the grant was dropped)", err)
	}
}
