package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/store"
)

// droppingStore accepts every save and keeps none (a keyring that drops
// its items, a file system that lies).
type droppingStore struct{ store.Store }

func (droppingStore) Save(_ context.Context, rec *store.Record) (uint64, error) { return 1, nil }

// Issue 13 item 1: login says the sign-in is kept only if the record reads
// back. readBack refuses a store that accepted the save but holds nothing,
// or an older record, and accepts the saved tokens or a record saved
// since (another process refreshed them at once).
func TestReadBack(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMemory()
	open := func(st store.Store) *authloop.Session {
		s, err := authloop.NewSession(&authloop.Config{
			OAuth2:  &oauth2.Config{ClientID: "c", Endpoint: oauth2.Endpoint{AuthURL: "https://as.example.com/a", TokenURL: "https://as.example.com/t"}},
			Issuer:  "https://as.example.com",
			Account: "p",
			Store:   st,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	tok := &oauth2.Token{AccessToken: "at-new", RefreshToken: "rt-new"}
	start := time.Now()

	s := open(droppingStore{mem})
	if err := readBack(ctx, s, tok, start); err == nil || !strings.Contains(err.Error(), "no tokens") {
		t.Errorf("a store that kept nothing: %v", err)
	}
	old := &store.Record{Key: s.Key(), Token: &store.Token{AccessToken: "at-old", RefreshToken: "rt-old"}}
	if _, err := mem.Save(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := readBack(ctx, s, tok, time.Now().Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "older") {
		t.Errorf("a store that holds an older record: %v", err)
	}
	if err := readBack(ctx, s, tok, start); err != nil {
		t.Errorf("a record saved since the login began (another process's refresh): %v", err)
	}
	if _, err := mem.Save(ctx, &store.Record{Key: s.Key(), Token: &store.Token{AccessToken: "at-new", RefreshToken: "rt-new"}}); err != nil {
		t.Fatal(err)
	}
	if err := readBack(ctx, s, tok, time.Now().Add(time.Hour)); err != nil {
		t.Errorf("the saved tokens: %v", err)
	}
}
