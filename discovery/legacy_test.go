package discovery

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

const legacyURL = "/.well-known/oauth-authorization-server"

func TestLegacyAuthServerMetadataForOrigin(t *testing.T) {
	d := newDocServer(t)
	d.json(legacyURL, asDoc(d.URL))
	md, err := LegacyAuthServer(context.Background(), testClient(), d.URL)
	if err != nil {
		t.Fatal(err)
	}
	if md.Issuer != d.URL || md.TokenEndpoint != d.URL+"/token" {
		t.Errorf("metadata %+v", md)
	}
	if got := d.requested(); !reflect.DeepEqual(got, []string{legacyURL}) {
		t.Errorf("requested %q, want only %s", got, legacyURL)
	}
}

// The 2025-03-26 revision let the metadata at the origin name another
// issuer: it is used, and its issuer is the one iss is checked against.
func TestLegacyAuthServerOtherIssuer(t *testing.T) {
	d := newDocServer(t)
	d.json(legacyURL, asDoc("https://as.example.com"))
	md, err := LegacyAuthServer(context.Background(), testClient(), d.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if md.Issuer != "https://as.example.com" || md.AuthorizationEndpoint != "https://as.example.com/authorize" {
		t.Errorf("metadata %+v", md)
	}
}

func TestLegacyAuthServerDefaultEndpoints(t *testing.T) {
	d := newDocServer(t)
	md, err := LegacyAuthServer(context.Background(), testClient(), d.URL)
	if err != nil {
		t.Fatal(err)
	}
	want := AuthServerMetadata{
		Issuer:                        d.URL,
		AuthorizationEndpoint:         d.URL + "/authorize",
		TokenEndpoint:                 d.URL + "/token",
		RegistrationEndpoint:          d.URL + "/register",
		CodeChallengeMethodsSupported: []string{"S256"},
	}
	got := *md
	got.Raw = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults %+v\nwant %+v", got, want)
	}
	back, err := DecodeAuthServerMetadata(md.Raw)
	if err != nil || back.TokenEndpoint != want.TokenEndpoint {
		t.Errorf("Raw does not decode to the defaults: %v %+v", err, back)
	}
}

// Only "there is no document" (404) means the defaults: a failing server
// is an error, never a guess.
func TestLegacyAuthServerFailureIsNoDefault(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusForbidden, http.StatusGone} {
		d := newDocServer(t)
		d.handle(legacyURL, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
		md, err := LegacyAuthServer(context.Background(), testClient(), d.URL)
		var fe *FetchError
		if err == nil || !errors.As(err, &fe) || fe.Status != status {
			t.Errorf("HTTP %d: issuer %q, error %v; want a *FetchError with the status", status, issuerOf(md), err)
		}
	}
}

// The fallback request follows discovery's rules, like every other
// metadata request: no cookies, no redirect to another origin, no body
// over MaxBodySize, S256 required, secure endpoints only.
func TestLegacyAuthServerFollowsDiscoveryRules(t *testing.T) {
	ctx := context.Background()
	t.Run("no cookies", func(t *testing.T) {
		d := newDocServer(t)
		var cookie string
		d.handle(legacyURL, func(w http.ResponseWriter, r *http.Request) {
			cookie += r.Header.Get("Cookie")
			_, _ = w.Write([]byte(asDoc("https://as.example.com")))
		})
		jar, _ := cookiejar.New(nil)
		u, _ := url.Parse(d.URL)
		jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: "secret"}})
		c := testClient()
		c.Jar = jar
		if _, err := LegacyAuthServer(ctx, c, d.URL); err != nil {
			t.Fatal(err)
		}
		if cookie != "" {
			t.Errorf("cookies sent: %q", cookie)
		}
	})
	t.Run("no redirect to another origin", func(t *testing.T) {
		other := newDocServer(t)
		other.json(legacyURL, asDoc("https://as.example.com"))
		d := newDocServer(t)
		d.handle(legacyURL, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+legacyURL, http.StatusFound)
		})
		md, err := LegacyAuthServer(ctx, testClient(), d.URL)
		if !errors.Is(err, ErrCrossOriginRedirect) {
			t.Errorf("issuer %q, error %v; want ErrCrossOriginRedirect", issuerOf(md), err)
		}
		if got := other.requested(); len(got) != 0 {
			t.Errorf("the other origin was asked: %q", got)
		}
	})
	t.Run("oversized body refused", func(t *testing.T) {
		d := newDocServer(t)
		doc := asDoc("https://as.example.com")
		big := doc[:len(doc)-1] + `,"pad":"` + strings.Repeat("a", MaxBodySize) + `"}`
		d.json(legacyURL, big)
		if md, err := LegacyAuthServer(ctx, testClient(), d.URL); !errors.Is(err, ErrInvalidMetadata) {
			t.Errorf("issuer %q, error %v; want ErrInvalidMetadata", issuerOf(md), err)
		}
	})
	t.Run("no S256", func(t *testing.T) {
		d := newDocServer(t)
		d.json(legacyURL, `{"issuer":"https://as.example.com","authorization_endpoint":"https://as.example.com/a","token_endpoint":"https://as.example.com/t","code_challenge_methods_supported":["plain"]}`)
		if md, err := LegacyAuthServer(ctx, testClient(), d.URL); !errors.Is(err, ErrNoS256) {
			t.Errorf("issuer %q, error %v; want ErrNoS256", issuerOf(md), err)
		}
	})
	t.Run("insecure endpoint", func(t *testing.T) {
		d := newDocServer(t)
		d.json(legacyURL, `{"issuer":"https://as.example.com","authorization_endpoint":"https://as.example.com/a","token_endpoint":"http://as.example.com/t","code_challenge_methods_supported":["S256"]}`)
		if md, err := LegacyAuthServer(ctx, testClient(), d.URL); !errors.Is(err, ErrInvalidMetadata) {
			t.Errorf("issuer %q, error %v; want ErrInvalidMetadata", issuerOf(md), err)
		}
	})
	t.Run("insecure issuer", func(t *testing.T) {
		d := newDocServer(t)
		d.json(legacyURL, `{"issuer":"http://as.example.com","authorization_endpoint":"https://as.example.com/a","token_endpoint":"https://as.example.com/t","code_challenge_methods_supported":["S256"]}`)
		if md, err := LegacyAuthServer(ctx, testClient(), d.URL); !errors.Is(err, ErrInvalidMetadata) {
			t.Errorf("issuer %q, error %v; want ErrInvalidMetadata", issuerOf(md), err)
		}
	})
	t.Run("no token endpoint", func(t *testing.T) {
		d := newDocServer(t)
		d.json(legacyURL, `{"issuer":"https://as.example.com","authorization_endpoint":"https://as.example.com/a","code_challenge_methods_supported":["S256"]}`)
		if md, err := LegacyAuthServer(ctx, testClient(), d.URL); !errors.Is(err, ErrInvalidMetadata) {
			t.Errorf("issuer %q, error %v; want ErrInvalidMetadata", issuerOf(md), err)
		}
	})
	t.Run("origin metadata without S256 is final", func(t *testing.T) {
		d := newDocServer(t)
		d.json(legacyURL, `{"issuer":"`+d.URL+`","authorization_endpoint":"`+d.URL+`/a","token_endpoint":"`+d.URL+`/t"}`)
		if md, err := LegacyAuthServer(ctx, testClient(), d.URL); !errors.Is(err, ErrNoS256) {
			t.Errorf("issuer %q, error %v; want ErrNoS256", issuerOf(md), err)
		}
	})
}

func TestLegacyAuthServerOriginOnly(t *testing.T) {
	for _, bad := range []string{"https://mcp.example.com/mcp", "http://mcp.example.com", "mcp.example.com", "https://mcp.example.com?x=1"} {
		d := newDocServer(t)
		if md, err := LegacyAuthServer(context.Background(), testClient(), bad); err == nil {
			t.Errorf("LegacyAuthServer(%q) = issuer %q, want an error", bad, issuerOf(md))
		}
		if got := d.requested(); len(got) != 0 {
			t.Errorf("requests made for %q: %q", bad, got)
		}
	}
}

// issuerOf is md's issuer for a test's message, "" for nil.
func issuerOf(md *AuthServerMetadata) string {
	if md == nil {
		return ""
	}
	return md.Issuer
}
