package authloop

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/dpop"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// A record with another key written while this session's first DPoP
// sign-in is in the browser (another process's retried save of its own
// first sign-in, which no login lock orders): the sign-in's tokens are
// bound to the key it proved, and that key must be the one saved with
// them and the one the session goes on proving. Adopting the record's key
// at the save's re-read would keep the new tokens beside a key they are
// not bound to: every resource request refused, and the bound refresh
// token refused at the next refresh.
func TestDPoPSignInKeepsItsKeyOverARecordWrittenMeanwhile(t *testing.T) {
	f := newDPoPFixture(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	cfg := f.config()
	var key store.Key
	other, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	otherDER, err := dpop.MarshalPrivateKey(other)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Browser = func(ctx context.Context, u string) error {
		rec := &store.Record{Key: key, DPoPKey: otherDER, Token: toStored(&oauth2.Token{
			AccessToken: "another-process", TokenType: "DPoP", RefreshToken: "another-rt", Expiry: time.Now().Add(time.Hour),
		})}
		if _, err := f.store.Save(ctx, rec); err != nil {
			t.Error(err)
		}
		return f.b.open(ctx, u)
	}
	s := f.session(cfg)
	key = s.key
	tok, err := s.Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	bound := f.srv.TokenBinding(tok.AccessToken)
	if bound == "" || bound == other.Thumbprint() {
		t.Fatalf("the sign-in's token is bound to %q; want this session's own key", bound)
	}
	if got := s.DPoPThumbprint(); got != bound {
		t.Errorf("the session proves with %s; its token is bound to %s", got, bound)
	}
	rec, err := f.store.Load(context.Background(), s.key)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := dpop.ParsePrivateKey(rec.DPoPKey); err != nil || k.Thumbprint() != bound {
		t.Errorf("the record keeps the key %v (%v) beside a token bound to %s", k != nil && k.Thumbprint() != "", err, bound)
	}
	if status, _ := f.resource(s, http.MethodGet, ""); status != http.StatusOK {
		t.Errorf("resource: HTTP %d; want 200", status)
	}
	if _, err := s.Refresh(context.Background()); err != nil {
		t.Errorf("refresh: %v", err)
	}
}

// A first DPoP sign-in whose save failed, and a record written meanwhile
// by another process with its own key and an older sign-in (its own
// retried save): the retried save here keeps this session's newer tokens
// (the record's are older, knownStale) and must keep with them the key
// they are bound to, not the record's.
func TestDPoPRetriedSaveKeepsTheKeyOfItsTokens(t *testing.T) {
	f := newDPoPFixture(t, oauthtest.Config{DPoP: true, Scopes: []string{"openid", "offline_access"}})
	mem := f.store
	flaky := &flakyStore{Store: mem}
	f.store = flaky
	cfg := f.config()
	s, err := NewSession(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	flaky.failSaves.Store(2)
	tok, err := s.Login(context.Background())
	var se *SaveError
	if !errors.As(err, &se) || tok == nil {
		t.Fatalf("Login with a failing store: %v; want the token and a *SaveError", err)
	}
	bound := f.srv.TokenBinding(tok.AccessToken)
	other, _ := dpop.GenerateKey()
	otherDER, _ := dpop.MarshalPrivateKey(other)
	older := markSignedIn(&oauth2.Token{AccessToken: "older-sign-in", TokenType: "DPoP", RefreshToken: "older-rt", Expiry: time.Now().Add(time.Hour)}, time.Now().Add(-time.Hour))
	if _, err := mem.Save(context.Background(), &store.Record{Key: s.key, DPoPKey: otherDER, Token: toStored(older)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close (the retried save): %v", err)
	}
	rec, err := mem.Load(context.Background(), s.key)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Token.AccessToken != tok.AccessToken {
		t.Fatal("the retried save did not keep this session's newer sign-in")
	}
	if k, err := dpop.ParsePrivateKey(rec.DPoPKey); err != nil || k.Thumbprint() != bound {
		t.Errorf("the record keeps a key (%v) other than the one its token is bound to (%s)", err, bound)
	}
}
