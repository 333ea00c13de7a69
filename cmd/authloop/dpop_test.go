package main

import (
	"strings"
	"testing"

	"github.com/authloop/authloop"
	"golang.org/x/oauth2"
)

func TestHeaderRequest(t *testing.T) {
	good := []struct{ method, url, wantMethod string }{
		{"GET", "https://api.example.com/items?x=1", "GET"},
		{"get", "https://api.example.com/", "GET"},
		{"Patch", "https://api.example.com/", "PATCH"},
		{"PROPFIND", "https://dav.example.com/", "PROPFIND"},
		{"report", "https://dav.example.com/", "report"}, // not standard: sent as given
		{"GET", "http://127.0.0.1:8080/", "GET"},
		{"GET", "http://localhost/", "GET"},
		{"GET", "http://[::1]:9/", "GET"},
	}
	for _, g := range good {
		m, u, err := headerRequest(g.method, g.url)
		if err != nil || m != g.wantMethod || u != g.url {
			t.Errorf("headerRequest(%q, %q) = %q, %q, %v; want %q", g.method, g.url, m, u, err, g.wantMethod)
		}
	}
	bad := [][2]string{
		{"", "https://a.example/"},
		{"G T", "https://a.example/"},
		{"GET\n", "https://a.example/"},
		{"GÉT", "https://a.example/"},
		{strings.Repeat("A", 33), "https://a.example/"},
		{"GET", ""},
		{"GET", "a.example/items"},
		{"GET", "/items"},
		{"GET", "https://"},
		{"GET", "https:opaque"},
		{"GET", "ftp://a.example/"},
		{"GET", "http://a.example/"},
		{"GET", "http://127.0.0.1.example.com/"},
		{"GET", "https://a.example/x y"},
		{"GET", "https://a.example/\r\nX: 1"},
		{"GET", "https://a.example/%zz"},
	}
	for _, b := range bad {
		if _, _, err := headerRequest(b[0], b[1]); err == nil {
			t.Errorf("headerRequest(%q, %q) accepted", b[0], b[1])
		} else if ce, ok := err.(*cliError); !ok || ce.code != exitUsage {
			t.Errorf("headerRequest(%q, %q): %v; want a usage error", b[0], b[1], err)
		}
	}
	// The URL's password is never echoed.
	if _, _, err := headerRequest("GET", "ftp://u:hunter2secret@a.example/"); err == nil || strings.Contains(err.Error(), "hunter2secret") {
		t.Errorf("the error shows the URL's password: %v", err)
	}
}

func TestValidNonce(t *testing.T) {
	for _, n := range []string{"a", "eyJ7S_zG.eyJH0-Z.HX4w-7v", "!#[]~", strings.Repeat("n", 1024)} {
		if !validNonce(n) {
			t.Errorf("validNonce(%q) = false", n)
		}
	}
	for _, n := range []string{"", `a"b`, `a\b`, "a b", "a\nb", "é", strings.Repeat("n", 1025)} {
		if validNonce(n) {
			t.Errorf("validNonce(%q) = true", n)
		}
	}
}

func TestHeaderValueSafe(t *testing.T) {
	for v, want := range map[string]bool{"DPoP abc.def": true, "Bearer a+/=~": true, "": false, "Bearer a\r\nX: 1": false, "Bearer a\nb": false, "Bearer \x00": false, "Bearer \x7f": false, "Bearer a\tb": false} {
		if got := headerValueSafe(v); got != want {
			t.Errorf("headerValueSafe(%q) = %v; want %v", v, got, want)
		}
	}
}

func TestProfileDPoPMode(t *testing.T) {
	for v, want := range map[string]string{"auto": "", "on": "on", "off": "off"} {
		p := &Profile{DPoP: "on"}
		if err := setDPoPFlag(p, v); err != nil || p.DPoP != want {
			t.Errorf("setDPoPFlag(%q): %q, %v; want %q", v, p.DPoP, err, want)
		}
		m, err := p.dpopMode()
		if err != nil || m.String() != v {
			t.Errorf("dpopMode after --dpop %s: %v, %v", v, m, err)
		}
	}
	p := &Profile{DPoP: "off"}
	if err := setDPoPFlag(p, "ON"); err == nil || p.DPoP != "off" || !strings.Contains(err.Error(), "--dpop") {
		t.Errorf("setDPoPFlag(ON): %v, profile %q; want a usage error and the profile unchanged", err, p.DPoP)
	}
	if m, err := (&Profile{}).dpopMode(); err != nil || m != authloop.DPoPAuto {
		t.Errorf("a profile without dpop: %v, %v; want auto", m, err)
	}
	if (&Profile{DPoP: "sometimes"}).badField() == "" {
		t.Error("badField accepts dpop \"sometimes\"")
	}
}

func TestTokenTypeOf(t *testing.T) {
	for typ, want := range map[string]string{"DPoP": "DPoP", "dpop": "DPoP", "bearer": "Bearer", "": "Bearer", "N_A": "N_A"} {
		if got := tokenTypeOf(&oauth2.Token{TokenType: typ}); got != want {
			t.Errorf("tokenTypeOf(%q) = %q; want %q", typ, got, want)
		}
	}
}
