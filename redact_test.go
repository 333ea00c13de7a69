package authloop

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// Config's String says whether a client secret is set, never the secret,
// and copes with a Config without OAuth2.
func TestConfigStringSaysWhetherASecretIsSet(t *testing.T) {
	if got := (Config{}).String(); got != "authloop.Config{OAuth2: nil}" {
		t.Errorf("zero Config: %q", got)
	}
	c := Config{OAuth2: &oauth2.Config{ClientID: "cli", Endpoint: oauth2.Endpoint{TokenURL: "https://as.example.com/token"}}}
	if got := c.String(); !strings.Contains(got, "secret none") {
		t.Errorf("without a secret: %q, want it to say secret none", got)
	}
	c.OAuth2.ClientSecret = "s3cr3t-value"
	for _, got := range []string{c.String(), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", c)} {
		if !strings.Contains(got, "secret set") || strings.Contains(got, "s3cr3t-value") {
			t.Errorf("with a secret: %q, want it to say secret set and not show it", got)
		}
	}
}

// Session's String shows fingerprints and the expiry, or says there is no
// token or no expiry.
func TestSessionStringShowsFingerprintsAndExpiry(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, true)
	empty := f.sessionWith(store.NewMemory(), nil)
	if got := empty.String(); got != "authloop.Session{no token}" {
		t.Errorf("no token: %q", got)
	}
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s := f.sessionWith(store.NewMemory(), &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: exp})
	want := fmt.Sprintf("authloop.Session{access %s, expires 2030-01-02T03:04:05Z, refresh %s}", Fingerprint("at-1"), Fingerprint("rt-1"))
	if got := s.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	never := f.sessionWith(store.NewMemory(), &oauth2.Token{AccessToken: "at-2"})
	if got := never.String(); !strings.Contains(got, "unknown expiry") || strings.Contains(got, "at-2") {
		t.Errorf("no expiry: %q, want unknown expiry and no token", got)
	}
}
