package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// storedToken returns the tokens of c's single record file.
func storedToken(t *testing.T, c *cli) (access, refresh string) {
	t.Helper()
	files := recordFiles(t, c)
	if len(files) != 1 {
		t.Fatalf("record files: %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var rf struct {
		Record struct {
			Token struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
			} `json:"token"`
		} `json:"record"`
	}
	decodeJSON(t, string(b), &rf)
	return rf.Record.Token.AccessToken, rf.Record.Token.RefreshToken
}

// Issue 13 item 7: switching a profile to another issuer leaves no orphan.
// Once the new login succeeds, the old record's grant is revoked at the
// old server and the record deleted; where the old server cannot be
// reached, the record is kept, status shows it, and logout --forget
// removes it.
func TestE2ESwitchIssuerLeavesNoOrphan(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	newSrv := oauthtest.NewServer(oauthtest.Config{})
	defer newSrv.Close()

	t.Run("revoked", func(t *testing.T) {
		old := oauthtest.NewServer(oauthtest.Config{})
		defer old.Close()
		c := newCLI(t)
		c.mustLogin(old, "p")
		oldAccess, oldRefresh := storedToken(t, c)
		r := c.login(newSrv, "p")
		if r.code != 0 || !strings.Contains(r.stderr, "Ended the previous sign-in of profile p at "+old.Issuer()) {
			t.Fatalf("login to another issuer: %v", r)
		}
		revokes := 0
		for _, q := range old.Requests() {
			if q.Endpoint == "revoke" {
				revokes++
			}
		}
		if revokes != 1 || old.ValidAccessToken(oldAccess) {
			t.Errorf("the old server saw %d revocations; its access token still valid: %v", revokes, old.ValidAccessToken(oldAccess))
		}
		access, refresh := storedToken(t, c) // one record file: the new one
		if refresh == oldRefresh || !newSrv.ValidAccessToken(access) {
			t.Errorf("the record left is not the new sign-in")
		}
		if r := c.run("", "status", "--profile", "p"); r.code != 0 || strings.Contains(r.stdout, "previous sign-in") {
			t.Errorf("status after the switch: %v", r)
		}
	})

	t.Run("another program's record", func(t *testing.T) {
		// A program using the library's default store shares the
		// directory, and may use an account named like a profile: its
		// record is none of the profile's business.
		theirs := oauthtest.NewServer(oauthtest.Config{})
		defer theirs.Close()
		c := newCLI(t)
		c.mustLogin(newSrv, "p")
		st, err := store.NewFile(c.storeDir())
		if err != nil {
			t.Fatal(err)
		}
		key := store.Key{Issuer: theirs.Issuer(), ClientID: theirs.ClientID(), Account: "p"}
		if _, err := st.Save(context.Background(), &store.Record{Key: key, Token: &store.Token{AccessToken: "at", RefreshToken: "rt"}}); err != nil {
			t.Fatal(err)
		}
		c.mustLogin(newSrv, "p")
		r := c.run("", "status", "--profile", "p")
		if r.code != 0 || strings.Contains(r.stdout, "previous sign-in") {
			t.Errorf("status: %v", r)
		}
		c.run("", "logout", "--profile", "p", "--forget")
		if _, err := st.Load(context.Background(), key); err != nil || theirs.Count("revoke") != 0 {
			t.Errorf("another program's record: %v; revocations at its server: %d", err, theirs.Count("revoke"))
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		old := oauthtest.NewServer(oauthtest.Config{})
		t.Cleanup(old.Close) // if the test stops before the Close below
		c := newCLI(t)
		c.mustLogin(old, "p")
		old.Close()
		r := c.login(newSrv, "p")
		if r.code != 0 || !strings.Contains(r.stderr, "previous sign-in of profile p at "+old.Issuer()) || !strings.Contains(r.stderr, "still kept") {
			t.Fatalf("login to another issuer, the old one down: %v", r)
		}
		if n := len(recordFiles(t, c)); n != 2 {
			t.Errorf("%d record files, want the old one kept beside the new one", n)
		}
		r = c.run("", "status", "--profile", "p")
		if r.code != 0 || !strings.Contains(r.stdout, "still holds a previous sign-in at "+old.Issuer()) {
			t.Errorf("status does not show the previous sign-in: %v", r)
		}
		r = c.run("", "status", "--profile", "p", "--json")
		var sts []profileStatus
		if err := json.Unmarshal([]byte(r.stdout), &sts); err != nil || len(sts) != 1 || len(sts[0].Previous) != 1 || sts[0].Previous[0].Issuer != old.Issuer() {
			t.Errorf("status --json: %v (%v)", r, err)
		}
		r = c.run("", "logout", "--profile", "p", "--forget")
		if files := recordFiles(t, c); len(files) != 0 {
			t.Errorf("record files after logout --forget: %v\n%v", files, r)
		}
		if r.code != 1 || !strings.Contains(r.stderr, "the grant may live on") {
			t.Errorf("logout --forget with the old server down: %v", r)
		}
	})
}
