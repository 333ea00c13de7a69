package register_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/oautherr"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/register"
	"github.com/authloop/authloop/store"
)

func choose(t *testing.T, md *discovery.AuthServerMetadata, opts register.Options, kept *store.Client) (*store.Client, bool) {
	t.Helper()
	c, isNew, err := register.Choose(context.Background(), testClient(t), md, opts, kept)
	if err != nil {
		t.Fatal(err)
	}
	return c, isNew
}

func TestChoosePreRegisteredWins(t *testing.T) {
	srv, md := newAS(t, oauthtest.Config{})
	md.ClientIDMetadataDocumentSupported = true
	opts := register.Options{ClientID: srv.ClientID(), MetadataDocumentURL: docURL}
	c, isNew := choose(t, md, opts, nil)
	if c.ClientID != srv.ClientID() || c.Issuer != md.Issuer || !isNew {
		t.Fatalf("got %s new=%v", c, isNew)
	}
	if n := srv.Count("register"); n != 0 {
		t.Fatalf("%d registrations, want none", n)
	}
	// The same client kept from before is returned as it is.
	c2, isNew := choose(t, md, opts, c)
	if c2 != c || isNew {
		t.Fatalf("kept pre-registered client not reused: %s new=%v", c2, isNew)
	}
	// A kept client of another id is not.
	c3, isNew := choose(t, md, register.Options{ClientID: "other", ClientSecret: "pw"}, c)
	if c3.ClientID != "other" || c3.ClientSecret != "pw" || !isNew {
		t.Fatalf("got %s new=%v", c3, isNew)
	}
	login(t, srv, c)
}

func TestChooseMetadataDocumentWhenSupported(t *testing.T) {
	srv, md := newAS(t, oauthtest.Config{})
	md.ClientIDMetadataDocumentSupported = true
	opts := register.Options{MetadataDocumentURL: docURL}
	c, isNew := choose(t, md, opts, nil)
	if c.ClientID != docURL || c.Issuer != md.Issuer || c.ClientSecret != "" || !isNew {
		t.Fatalf("got %s new=%v", c, isNew)
	}
	if n := srv.Count("register"); n != 0 {
		t.Fatalf("%d registrations, want none", n)
	}
	if c2, isNew := choose(t, md, opts, c); c2 != c || isNew {
		t.Fatalf("kept CIMD client not reused: %s new=%v", c2, isNew)
	}
	// It wins over a kept dynamic registration: the specification prefers it.
	dyn, err := register.Dynamic(context.Background(), testClient(t), md, register.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if c3, isNew := choose(t, md, opts, dyn); c3.ClientID != docURL || !isNew {
		t.Fatalf("got %s new=%v", c3, isNew)
	}
}

func TestChooseMetadataDocumentUnsupportedFallsBackToDynamic(t *testing.T) {
	srv, md := newAS(t, oauthtest.Config{}) // oauthtest does not advertise CIMD
	c, isNew := choose(t, md, register.Options{MetadataDocumentURL: docURL}, nil)
	if c.ClientID == docURL || !isNew || srv.Count("register") != 1 {
		t.Fatalf("got %s new=%v after %d registrations, want a dynamic registration", c, isNew, srv.Count("register"))
	}
	login(t, srv, c)
}

func TestChooseInvalidMetadataDocumentURL(t *testing.T) {
	_, md := newAS(t, oauthtest.Config{})
	_, _, err := register.Choose(context.Background(), testClient(t), md, register.Options{MetadataDocumentURL: "http://mytool.example.com/c"}, nil)
	if !errors.Is(err, register.ErrInvalidMetadataURL) || !strings.Contains(err.Error(), "Options.MetadataDocumentURL") {
		t.Fatalf("got %v", err)
	}
}

func TestChooseReusesKeptForSameIssuer(t *testing.T) {
	srv, md := newAS(t, oauthtest.Config{})
	opts := register.Options{Registration: register.Request{ClientName: "t"}}
	c, isNew := choose(t, md, opts, nil)
	if !isNew {
		t.Fatal("first registration not new")
	}
	// As a store gives it back after a restart.
	kept := *c
	c2, isNew := choose(t, md, opts, &kept)
	if c2 != &kept || isNew || srv.Count("register") != 1 {
		t.Fatalf("got %s new=%v after %d registrations, want the kept one", c2, isNew, srv.Count("register"))
	}
	login(t, srv, c2)
}

func TestChooseRefusesKeptFromAnotherIssuer(t *testing.T) {
	srvA, mdA := newAS(t, oauthtest.Config{})
	srvB, mdB := newAS(t, oauthtest.Config{})
	a, _ := choose(t, mdA, register.Options{}, nil)
	b, isNew := choose(t, mdB, register.Options{}, a)
	if b == a || b.ClientID == a.ClientID || b.Issuer != mdB.Issuer || !isNew {
		t.Fatalf("got %s new=%v for issuer B from A's %s", b, isNew, a)
	}
	if srvA.Count("register") != 1 || srvB.Count("register") != 1 {
		t.Fatalf("registrations A %d, B %d; want 1 each", srvA.Count("register"), srvB.Count("register"))
	}
	// The issuers compare by discovery.SameIssuer: one trailing slash more
	// is the same issuer, two are another.
	slash := *a
	slash.Issuer += "/"
	if c, isNew := choose(t, mdA, register.Options{}, &slash); c != &slash || isNew {
		t.Fatalf("kept client of %q not reused for %q", slash.Issuer, mdA.Issuer)
	}
	slash.Issuer += "/"
	if c, isNew := choose(t, mdA, register.Options{}, &slash); c == &slash || !isNew {
		t.Fatalf("kept client of %q reused for %q", slash.Issuer, mdA.Issuer)
	}
	login(t, srvB, b)
}

func TestChooseExpiredSecretRegistersAnew(t *testing.T) {
	srv, md := newAS(t, oauthtest.Config{})
	opts := register.Options{Registration: register.Request{TokenEndpointAuthMethod: register.AuthClientSecretBasic}}
	c, _ := choose(t, md, opts, nil)
	kept := *c
	kept.ClientSecretExpiresAt = time.Now().Add(-time.Hour)
	c2, isNew := choose(t, md, opts, &kept)
	if !isNew || c2.ClientID == kept.ClientID || srv.Count("register") != 2 {
		t.Fatalf("expired secret reused: %s new=%v", c2, isNew)
	}
	// Expiring within ExpirySkew counts as expired; later does not.
	kept.ClientSecretExpiresAt = time.Now().Add(register.ExpirySkew / 2)
	if _, isNew := choose(t, md, opts, &kept); !isNew {
		t.Fatal("secret about to expire reused")
	}
	kept.ClientSecretExpiresAt = time.Now().Add(time.Hour)
	if c, isNew := choose(t, md, opts, &kept); isNew || c != &kept {
		t.Fatal("secret good for an hour not reused")
	}
}

// A server that answers with a client_secret_expires_at in the past gives a
// registration that Choose does not reuse.
func TestChoosePastClientSecretExpiresAt(t *testing.T) {
	n := 0
	md := fakeRegistrar(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"client_id":"c%d","client_secret":"s","client_secret_expires_at":%d}`, n, time.Now().Add(-time.Minute).Unix())
	})
	c, _ := choose(t, md, register.Options{}, nil)
	if !register.SecretExpired(c, time.Now()) {
		t.Fatalf("ClientSecretExpiresAt %v not expired", c.ClientSecretExpiresAt)
	}
	c2, isNew := choose(t, md, register.Options{}, c)
	if !isNew || c2.ClientID != "c2" {
		t.Fatalf("got %s new=%v, want a second registration", c2, isNew)
	}
}

func TestChooseChangedRedirectURIsRegistersAnew(t *testing.T) {
	srv, md := newAS(t, oauthtest.Config{})
	c, _ := choose(t, md, register.Options{}, nil)
	opts := register.Options{Registration: register.Request{RedirectURIs: []string{"http://127.0.0.1/other"}}}
	if c2, isNew := choose(t, md, opts, c); !isNew || c2.ClientID == c.ClientID || srv.Count("register") != 2 {
		t.Fatalf("registration for other redirect URIs reused: %s new=%v", c2, isNew)
	}
}

func TestChooseKeptWithoutRegistrationResponseNotReused(t *testing.T) {
	// A kept pre-registered or CIMD client (no registration response) is
	// not taken for a dynamic registration once the options no longer
	// name it.
	srv, md := newAS(t, oauthtest.Config{})
	for _, kept := range []*store.Client{
		{Issuer: md.Issuer, ClientID: srv.ClientID()},
		{Issuer: md.Issuer, ClientID: docURL},
	} {
		if c, isNew := choose(t, md, register.Options{}, kept); c == kept || !isNew {
			t.Fatalf("kept %s reused", kept)
		}
	}
}

func TestChooseNoWayNamesTheFix(t *testing.T) {
	hc := &http.Client{Transport: failingTransport{t}}
	for _, tc := range []struct {
		name string
		md   discovery.AuthServerMetadata
		opts register.Options
		want []string
	}{
		{"nothing", discovery.AuthServerMetadata{Issuer: "https://as.example.com"}, register.Options{},
			[]string{"https://as.example.com", "registration_endpoint", "pre-register a client", "client id"}},
		{"CIMD configured, unsupported", discovery.AuthServerMetadata{Issuer: "https://as.example.com"}, register.Options{MetadataDocumentURL: docURL},
			[]string{docURL, "client_id_metadata_document_supported", "pre-register a client"}},
		{"CIMD supported, not configured", discovery.AuthServerMetadata{Issuer: "https://as.example.com", ClientIDMetadataDocumentSupported: true}, register.Options{},
			[]string{"Client ID Metadata Document", "pre-register a client"}},
	} {
		c, _, err := register.Choose(context.Background(), hc, &tc.md, tc.opts, nil)
		if !errors.Is(err, register.ErrNoClient) {
			t.Errorf("%s: got %v %v, want ErrNoClient", tc.name, c, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.name, err, w)
			}
		}
	}
	if _, _, err := register.Choose(context.Background(), hc, nil, register.Options{}, nil); err == nil {
		t.Error("nil metadata: no error")
	}
}

func TestChooseRegistrationError(t *testing.T) {
	md := fakeRegistrar(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_redirect_uri"}`)
	})
	_, _, err := register.Choose(context.Background(), testClient(t), md, register.Options{}, nil)
	if !errors.Is(err, &oautherr.Error{Code: "invalid_redirect_uri"}) {
		t.Fatalf("got %v", err)
	}
}

func TestRenewAfterInvalidClient(t *testing.T) {
	// The root's renewal: a token request answered invalid_client means the
	// registration is gone; Choose with kept nil registers anew.
	srv, md := newAS(t, oauthtest.Config{})
	c, _ := choose(t, md, register.Options{}, nil)
	err := fmt.Errorf("authloop: refresh: %w", &oautherr.Error{Code: "invalid_client", StatusCode: 401, Endpoint: "token"})
	if !register.IsInvalidClient(err) {
		t.Fatal("invalid_client not recognised")
	}
	c2, isNew := choose(t, md, register.Options{}, nil)
	if !isNew || c2.ClientID == c.ClientID || srv.Count("register") != 2 {
		t.Fatalf("got %s new=%v", c2, isNew)
	}
}

func TestIsInvalidClient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&oautherr.Error{Code: "invalid_client"}, true},
		{fmt.Errorf("wrapped: %w", &oautherr.Error{Code: "invalid_client", Endpoint: "revocation"}), true},
		{&oautherr.Error{Code: "invalid_grant"}, false},
		{&oautherr.Error{Code: "unauthorized_client"}, false},
		{errors.New("invalid_client"), false},
		{nil, false},
	} {
		if got := register.IsInvalidClient(tc.err); got != tc.want {
			t.Errorf("IsInvalidClient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestChooseChangedAuthMethodRegistersAnew(t *testing.T) {
	srv, md := newAS(t, oauthtest.Config{})
	c, _ := choose(t, md, register.Options{}, nil)
	opts := register.Options{Registration: register.Request{TokenEndpointAuthMethod: register.AuthClientSecretBasic}}
	c2, isNew := choose(t, md, opts, c)
	if !isNew || c2.ClientSecret == "" || srv.Count("register") != 2 {
		t.Fatalf("public registration reused for a confidential client: %s new=%v", c2, isNew)
	}
	if c3, isNew := choose(t, md, opts, c2); c3 != c2 || isNew {
		t.Fatalf("confidential registration not reused: %s new=%v", c3, isNew)
	}
}
