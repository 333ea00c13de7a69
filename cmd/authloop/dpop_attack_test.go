package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// An access token with a line break, as a hostile or broken server may
// issue it (the library keeps what the server sent): printed as a header
// line for curl -H @-, it would add a header of the server's choosing to
// the person's request. token --header refuses it (exit 1) and prints
// nothing on stdout.
func TestAttackTokenHeaderLineInjection(t *testing.T) {
	for _, cfg := range []oauthtest.Config{{}, {DPoP: true}} {
		srv := oauthtest.NewServer(cfg)
		// Closed however the test ends: newCLI skips it under -short
		// and mustLogin may stop it, before the Close below.
		t.Cleanup(srv.Close)
		c := newCLI(t)
		c.mustLogin(srv, "work")
		c.editRecord(t, "work", func(rec *store.Record) {
			rec.Token.AccessToken += "\r\nX-Injected: 1"
		})
		r := c.run("", "token", "--profile", "work", "--header", "GET", srv.ResourceEndpoint())
		if r.code != exitFailure || r.stdout != "" {
			t.Errorf("DPoP %v: token --header with a line break in the token: %v; want exit 1 and nothing on stdout", cfg.DPoP, r)
		}
		srv.Close()
	}
}

// A profile whose DPoP setting was turned off by hand while its record
// holds a DPoP-bound token: the session has no key to prove with, and the
// token sent as Bearer would be refused. token --header says so (exit 3:
// a new login gets a bearer token) and prints nothing.
func TestE2ETokenHeaderDPoPTokenWithoutKey(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{DPoP: true})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "work")
	path := filepath.Join(c.storeDir(), "profiles", "work.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"store":`, `"dpop": "off", "store":`, 1))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := c.run("", "token", "--profile", "work", "--header", "GET", srv.ResourceEndpoint())
	if r.code != exitLoginRequired || r.stdout != "" || !strings.Contains(r.stderr, "authloop login --profile work") {
		t.Errorf("token --header with a DPoP token and dpop off: %v; want exit 3, nothing on stdout, the login to run", r)
	}
}

// Two processes print header lines at once for a DPoP profile whose token
// has expired: one refreshes (with a proof of the profile's key), the
// other adopts its tokens from the store, and both processes' lines are
// accepted by the resource, each once: the same token, two proofs of the
// same key.
func TestE2EDPoPTwoProcessesOneRefresh(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{DPoP: true})
	defer srv.Close()
	c := newCLI(t)
	c.mustLogin(srv, "work")
	jkt := srv.TokenBinding(c.recordOf(t, "work").Token.AccessToken)
	c.expireToken(t, "work")
	tokens := srv.Count("token")
	url := srv.ResourceEndpoint()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	outs := make([]string, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := c.command(ctx, []string{"token", "--profile", "work", "--header", "GET", url})
			cmd.Env = c.env
			out, err := cmd.Output()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	if n := srv.Count("token") - tokens; n != 1 {
		t.Errorf("%d token requests for two processes at once; want one refresh", n)
	}
	at := c.recordOf(t, "work").Token.AccessToken
	if srv.TokenBinding(at) != jkt {
		t.Errorf("the refreshed token is bound to %q; want %s", srv.TokenBinding(at), jkt)
	}
	for i, out := range outs {
		if errs[i] != nil {
			t.Fatalf("process %d: %v", i, errs[i])
		}
		hs := headerLines(t, out)
		if hs[0][1] != "DPoP "+at {
			t.Errorf("process %d printed another token than the one refreshed", i)
		}
		if code, body, _ := callWith(t, "GET", url, hs); code != http.StatusOK || cnfJKT(body) != jkt {
			t.Errorf("process %d's lines: %d %v", i, code, body)
		}
	}
}
