package dpop

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// checked makes a proof with k for p and parses it.
func checked(t *testing.T, k *Key, p ProofParams) *Proof {
	t.Helper()
	proof, err := k.Proof(p)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := Parse(proof)
	if err != nil {
		t.Fatal(err)
	}
	return parsed
}

var t0 = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)

func TestCheckAccepts(t *testing.T) {
	k := fixedKey(t, 31)
	p := checked(t, k, ProofParams{Method: "GET", URL: "https://rs.example/api/items?page=2#top", Nonce: "n-1", AccessToken: "at-1", Now: t0})
	for name, c := range map[string]Check{
		"everything":              {Method: "GET", URL: "https://rs.example/api/items", Now: t0, Nonce: "n-1", AccessToken: "at-1", JKT: k.Thumbprint()},
		"another query, fragment": {Method: "GET", URL: "https://rs.example/api/items?page=3&x=y#bottom", Now: t0},
		"nothing required":        {Method: "GET", URL: "https://rs.example/api/items", Now: t0},
		"MaxAge old":              {Method: "GET", URL: "https://rs.example/api/items", Now: t0.Add(DefaultMaxAge)},
		"a minute ahead":          {Method: "GET", URL: "https://rs.example/api/items", Now: t0.Add(-time.Minute)},
		"longer MaxAge":           {Method: "GET", URL: "https://rs.example/api/items", Now: t0.Add(time.Hour), MaxAge: time.Hour},
	} {
		if err := p.Check(c); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Zero Now is the time of the call.
	fresh := checked(t, k, ProofParams{Method: "POST", URL: "https://as.example/token"})
	if err := fresh.Check(Check{Method: "POST", URL: "https://as.example/token"}); err != nil {
		t.Fatal(err)
	}
}

// htu is compared as RFC 9449 §4.3 asks: without query and fragment, scheme
// and host in any case, a default port the same as none, and the
// normalizations of RFC 3986 §6.2.2 and §6.2.3.
func TestCheckHTUComparison(t *testing.T) {
	k := fixedKey(t, 32)
	for _, tc := range []struct {
		htu, url string
		same     bool
	}{
		{"https://rs.example/a", "https://rs.example/a?x=1", true},
		{"https://rs.example/a", "https://rs.example/a#f", true},
		{"https://rs.example/a", "HTTPS://RS.Example/a", true},
		{"https://RS.EXAMPLE/a", "https://rs.example/a", true},
		{"https://rs.example/a", "https://rs.example:443/a", true},
		{"https://rs.example:443/a", "https://rs.example/a", true},
		{"http://rs.example/a", "http://rs.example:80/a", true},
		{"https://rs.example:/a", "https://rs.example/a", true},
		{"https://rs.example", "https://rs.example/", true},
		{"https://rs.example/a%7e%41", "https://rs.example/a~A", true},
		{"https://rs.example/a%2f", "https://rs.example/a%2F", true},
		{"https://[::1]:8443/a", "https://[::1]:8443/a", true},
		{"https://[FE80::1]/a", "https://[fe80::1]:443/a", true},
		{"https://rs.example/a", "https://rs.example/A", false},
		{"https://rs.example/a", "https://rs.example/a/", false},
		{"https://rs.example/a", "https://rs.example/b", false},
		{"https://rs.example/a", "http://rs.example/a", false},
		{"https://rs.example/a", "https://rs.example:8443/a", false},
		{"http://rs.example/a", "http://rs.example:443/a", false},
		{"https://rs.example:80/a", "https://rs.example/a", false},
		{"https://rs.example/a", "https://rs.example.evil/a", false},
		{"https://rs.example/a", "https://evil.example/a", false},
		{"https://rs.example/a%2fb", "https://rs.example/a/b", false},
		{"https://[::1]:8443/a", "https://[::1:8443]/a", false},
		{"https://rs.example/a", "https://rs.example/a%20", false},
	} {
		p := checked(t, k, ProofParams{Method: "GET", URL: tc.htu, Now: t0})
		err := p.Check(Check{Method: "GET", URL: tc.url, Now: t0})
		if tc.same && err != nil {
			t.Errorf("htu %s, request %s: %v", tc.htu, tc.url, err)
		}
		if !tc.same && (!errors.Is(err, ErrInvalidProof) || !strings.Contains(err.Error(), "another URL")) {
			t.Errorf("htu %s, request %s: %v, want the URL refused", tc.htu, tc.url, err)
		}
	}
}

// Each refusal of Check, on a proof that passes every other check.
func TestCheckRefuses(t *testing.T) {
	k := fixedKey(t, 33)
	const url = "https://rs.example/api"
	p := checked(t, k, ProofParams{Method: "POST", URL: url, Nonce: "n-1", AccessToken: "at-1", Now: t0})
	bare := checked(t, k, ProofParams{Method: "POST", URL: url, Now: t0})
	base := Check{Method: "POST", URL: url, Now: t0, Nonce: "n-1", AccessToken: "at-1", JKT: k.Thumbprint()}
	if err := p.Check(base); err != nil {
		t.Fatal(err)
	}
	with := func(f func(*Check)) Check { c := base; f(&c); return c }
	for _, tc := range []struct {
		name  string
		p     *Proof
		c     Check
		nonce bool // ErrNonceRequired, not ErrInvalidProof
		want  string
	}{
		{"htm mismatch", p, with(func(c *Check) { c.Method = "GET" }), false, `method "POST", the request is "GET"`},
		{"htm in another case", p, with(func(c *Check) { c.Method = "post" }), false, `method "POST", the request is "post"`},
		{"htu mismatch", p, with(func(c *Check) { c.URL = "https://rs.example/other" }), false, "another URL"},
		{"iat too old", p, with(func(c *Check) { c.Now = t0.Add(DefaultMaxAge + time.Second) }), false, "made 5m1s ago"},
		{"iat older than MaxAge", p, with(func(c *Check) { c.Now = t0.Add(31 * time.Second); c.MaxAge = 30 * time.Second }), false, "more than the 30s allowed"},
		{"iat in the future", p, with(func(c *Check) { c.Now = t0.Add(-time.Minute - time.Second) }), false, "1m1s in the future"},
		{"iat in the future, long MaxAge", p, with(func(c *Check) { c.Now = t0.Add(-time.Hour); c.MaxAge = 2 * time.Hour }), false, "in the future"},
		{"ath missing", bare, with(func(c *Check) { c.Nonce = "" }), false, "no ath"},
		{"ath mismatch", p, with(func(c *Check) { c.AccessToken = "at-2" }), false, "another access token"},
		{"jkt mismatch", p, with(func(c *Check) { c.JKT = fixedKey(t, 34).Thumbprint() }), false, "signed by another key"},
		{"nonce missing", bare, with(func(c *Check) { c.AccessToken = "" }), true, "carries no nonce"},
		{"nonce mismatch", p, with(func(c *Check) { c.Nonce = "n-2" }), true, "another nonce"},
		{"invalid before nonce", bare, with(func(c *Check) { c.AccessToken = ""; c.Method = "GET" }), false, "method"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Check(tc.c)
			if err == nil {
				t.Fatal("Check passed")
			}
			if errors.Is(err, ErrNonceRequired) != tc.nonce || errors.Is(err, ErrInvalidProof) == tc.nonce {
				t.Fatalf("error %q: ErrNonceRequired %v, ErrInvalidProof %v; want nonce %v", err, errors.Is(err, ErrNonceRequired), errors.Is(err, ErrInvalidProof), tc.nonce)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "at-1") || strings.Contains(err.Error(), "at-2") {
				t.Fatalf("error %q carries the access token", err)
			}
		})
	}
}

// A Check that cannot be right is the server's mistake, not the proof's.
func TestCheckRefusesABadCheck(t *testing.T) {
	p := checked(t, fixedKey(t, 35), ProofParams{Method: "GET", URL: "https://rs.example/", Now: t0})
	for name, c := range map[string]Check{
		"no method":    {URL: "https://rs.example/", Now: t0},
		"no URL":       {Method: "GET", Now: t0},
		"relative URL": {Method: "GET", URL: "/", Now: t0},
		"bad URL":      {Method: "GET", URL: "https://rs.example/%zz", Now: t0},
	} {
		err := p.Check(c)
		if err == nil || errors.Is(err, ErrInvalidProof) || errors.Is(err, ErrNonceRequired) || !strings.Contains(err.Error(), "dpop: Check.") {
			t.Errorf("%s: %v, want an error about the Check", name, err)
		}
	}
}
