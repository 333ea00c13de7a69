package store

import (
	"strings"
	"testing"
)

func TestKeyIDStable(t *testing.T) {
	// These IDs name files on people's disks and items in their keyrings:
	// they must never change. The values were computed independently of
	// this code, from the documented encoding (a version string, then
	// each field as a uvarint length and its bytes; SHA-256; 32 hex digits).
	golden := []struct {
		key  Key
		want string
	}{
		{Key{}, "2b5c4e444b76b146b23a4133d9357e22"},
		{Key{Issuer: "https://issuer.example.com", ClientID: "cli", Resource: "https://api.example.com", Account: "a@example.com"}, "7f138830da4f22df3a5d5ae3821ba268"},
		// A program's grant is a fifth field, hashed only when set.
		{Key{Issuer: "https://issuer.example.com", ClientID: "cli", Resource: "https://api.example.com", Account: "a@example.com", Grant: "client_credentials"}, "e8067a7ad87a6ba1445d28ec4016725d"},
	}
	for _, g := range golden {
		if got := g.key.ID(); got != g.want {
			t.Errorf("ID(%v) = %s; want %s (IDs must never change)", g.key, got, g.want)
		}
		if !isID(g.key.ID()) {
			t.Errorf("ID(%v) is not 32 lower-case hex digits", g.key)
		}
	}
}

func TestKeyIDDistinct(t *testing.T) {
	keys := []Key{
		{},
		{Issuer: "ab", ClientID: "c"},
		{Issuer: "a", ClientID: "bc"},
		{Issuer: "a", ClientID: "b", Resource: "c"},
		{Issuer: "a", ClientID: "b", Account: "c"},
		{Issuer: "a", ClientID: "b", Resource: "c", Account: "d"},
		{Issuer: "a", ClientID: "b", Resource: "d", Account: "c"},
		{Issuer: "a\x00", ClientID: "b"},
		{Issuer: "a", ClientID: "\x00b"},
		{Issuer: "a", ClientID: "b", Grant: "c"},
		{Issuer: "a", ClientID: "b", Account: "c", Grant: "d"},
		{Issuer: "a", ClientID: "b", Account: "d", Grant: "c"},
	}
	seen := map[string]Key{}
	for _, k := range keys {
		if o, ok := seen[k.ID()]; ok {
			t.Errorf("%v and %v have the same ID", k, o)
		}
		seen[k.ID()] = k
	}
}

func TestKeyString(t *testing.T) {
	k := Key{Issuer: "https://i", ClientID: "c", Resource: "https://r", Account: "me"}
	if got, want := k.String(), `issuer "https://i" client "c" resource "https://r" account "me"`; got != want {
		t.Errorf("String = %s; want %s", got, want)
	}
	if got := (Key{Issuer: "https://i", ClientID: "c"}).String(); strings.Contains(got, "resource") || strings.Contains(got, "account") {
		t.Errorf("String of a key without resource and account: %s", got)
	}
	if got, want := (Key{Issuer: "https://i", ClientID: "c", Grant: "client_credentials"}).String(), `issuer "https://i" client "c" grant "client_credentials"`; got != want {
		t.Errorf("String = %s; want %s", got, want)
	}
}
