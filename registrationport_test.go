package authloop

import (
	"net"
	"net/url"
	"testing"

	"github.com/authloop/authloop/oauthtest"
)

// A configured redirect URL that names no port (http://127.0.0.1/callback)
// leaves the port free: a later login listens on the port of the kept
// registration, and registers nothing new.
func TestDynamicRegistrationPortlessRedirectURLReusesPort(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true})
	s1 := f.session(func(c *Config) { c.OAuth2.RedirectURL = "http://127.0.0.1/callback" })
	f.login(s1)
	first := f.redirectURI()
	if portOf(t, first) == 0 {
		t.Fatalf("redirect URI %q has no port", first)
	}

	s2 := f.session(func(c *Config) { c.OAuth2.RedirectURL = "http://127.0.0.1/callback" })
	f.login(s2)
	if got := f.redirectURI(); got != first {
		t.Fatalf("the second login used %q, want the registered %q", got, first)
	}
	if n := f.srv.Count("register"); n != 1 {
		t.Fatalf("%d registrations, want 1", n)
	}
}

// A configured redirect URL with a fixed port wins over the kept
// registration's port: the login listens where the configuration says
// (and the registration follows it), even though the registered port is
// free.
func TestDynamicRegistrationFixedPortWinsOverKeptPort(t *testing.T) {
	f := newDCRFixture(t, oauthtest.Config{ExactRedirectURIs: true})
	s1 := f.session()
	f.login(s1)
	first := f.redirectURI()

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fixed := (&url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/callback"}).String()
	ln.Close()
	if fixed == first {
		t.Fatal("the free port picked is the registered one")
	}
	s2 := f.session(func(c *Config) { c.OAuth2.RedirectURL = fixed })
	f.login(s2)
	if got := f.redirectURI(); got != fixed {
		t.Fatalf("the login used %q, want the configured %q (the registered one was %q)", got, fixed, first)
	}
	f.wantRegisteredFor(s2)
}
