package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// Issue 13 item 7, adversary: a login that switches the profile to another
// issuer and is killed after it saved the profile but before it ended the
// previous sign-in must not leave that sign-in behind unknown: the profile
// now names the new issuer, so only the list of previous sign-ins can
// lead status, the next login and logout to the old record.
func TestE2ESwitchKilledBeforeRetirementKeepsPrevious(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	// The old server: its metadata request (the retirement's first step)
	// is answered only when the request goes away.
	asked := make(chan struct{}, 1)
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	oldClosed := false
	defer func() {
		if !oldClosed {
			old.Close()
		}
	}()
	newSrv := oauthtest.NewServer(oauthtest.Config{})
	defer newSrv.Close()

	c := newCLI(t)
	// Profile p, signed in at the old server.
	pdir := filepath.Join(c.dir, "config", "authloop", "profiles")
	if err := os.MkdirAll(pdir, 0o700); err != nil {
		t.Fatal(err)
	}
	prof := Profile{Version: profileVersion, Name: "p", Issuer: old.URL, ClientID: "old-client", Store: "file"}
	b, _ := json.Marshal(prof)
	if err := os.WriteFile(filepath.Join(pdir, "p.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.NewFile(c.storeDir())
	if err != nil {
		t.Fatal(err)
	}
	oldKey := store.Key{Issuer: old.URL, ClientID: "old-client", Account: "p"}
	if _, err := st.Save(context.Background(), &store.Record{Key: oldKey, Token: &store.Token{AccessToken: "old-at", RefreshToken: "old-rt", Expiry: time.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if r := c.run("", "status", "--profile", "p"); r.code != 0 {
		t.Fatalf("status of the hand-made sign-in: %v", r)
	}

	// The switch, killed once it reaches the old server.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := c.command(ctx, []string{"login", "--profile", "p", "--no-browser", "--store", "file",
		"--issuer", newSrv.Issuer(), "--client-id", newSrv.ClientID(), "--scope", "openid offline_access", "--timeout", "1m"})
	cmd.Env = c.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	browse := browseOn(t, newSrv.AuthorizationEndpoint(), &wg)
	var errOut strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			errOut.WriteString(sc.Text() + "\n")
			browse(sc.Text())
		}
	}()
	select {
	case <-asked:
	case <-ctx.Done():
		t.Fatal("the login never asked the old server")
	}
	_ = cmd.Process.Kill()
	<-done
	_ = cmd.Wait()
	wg.Wait()
	old.Close()
	oldClosed = true

	if _, err := st.Load(context.Background(), oldKey); err != nil {
		t.Fatalf("the old record is gone already (%v): the kill came too late\n%s", err, errOut.String())
	}
	r := c.run("", "status", "--profile", "p", "--json")
	var sts []profileStatus
	if err := json.Unmarshal([]byte(r.stdout), &sts); err != nil || len(sts) != 1 || len(sts[0].Previous) != 1 || sts[0].Previous[0].Issuer != old.URL {
		t.Errorf("status --json after the killed switch does not list the old sign-in: %v (%v)", r, err)
	}
	r = c.run("", "logout", "--profile", "p")
	if _, err := st.Load(context.Background(), oldKey); err == nil {
		t.Errorf("logout left the old sign-in's record (and its refresh token) behind: %v", r)
	}
}

// Issue 13 item 7, adversary: two logins of one profile at once, each to
// another issuer. The one that finishes last read the profile before the
// other saved it, so the sign-in the other made is its previous one: it
// must be ended (or listed), not left behind unknown.
func TestE2ESwitchTwoLoginsAtOnceLeavesNoOrphan(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	a := oauthtest.NewServer(oauthtest.Config{})
	defer a.Close()
	b := oauthtest.NewServer(oauthtest.Config{})
	defer b.Close()
	cs := oauthtest.NewServer(oauthtest.Config{})
	defer cs.Close()
	c := newCLI(t)
	c.mustLogin(a, "p")

	// The login to cs starts first and waits for the person.
	urls := make(chan string, 1)
	var once sync.Once
	slow := make(chan result, 1)
	go func() {
		slow <- c.interactive(func(line string) {
			if strings.HasPrefix(line, cs.AuthorizationEndpoint()) {
				once.Do(func() { urls <- strings.TrimSpace(line) })
			}
		}, "login", "--profile", "p", "--no-browser", "--store", "file",
			"--issuer", cs.Issuer(), "--client-id", cs.ClientID(), "--scope", "openid offline_access", "--timeout", "1m")
	}()
	var u string
	select {
	case u = <-urls:
	case <-time.After(time.Minute):
		t.Fatal("the first login printed no URL")
	}
	// Meanwhile the login to b runs to its end (and ends a's sign-in).
	if r := c.login(b, "p"); r.code != 0 {
		t.Fatalf("login to b: %v", r)
	}
	// Now the person finishes the first one.
	if _, _, err := oauthtest.Browse(context.Background(), nil, u); err != nil {
		t.Fatal(err)
	}
	if r := <-slow; r.code != 0 {
		t.Fatalf("login to c: %v", r)
	}

	st, err := store.NewFile(c.storeDir())
	if err != nil {
		t.Fatal(err)
	}
	bKey := store.Key{Issuer: b.Issuer(), ClientID: b.ClientID(), Account: "p"}
	_, loadErr := st.Load(context.Background(), bKey)
	r := c.run("", "status", "--profile", "p", "--json")
	var sts []profileStatus
	if err := json.Unmarshal([]byte(r.stdout), &sts); err != nil || len(sts) != 1 {
		t.Fatalf("status --json: %v (%v)", r, err)
	}
	if loadErr == nil && len(sts[0].Previous) == 0 {
		t.Errorf("the sign-in at b is kept but listed nowhere (the profile names c): an orphan with a live refresh token")
	}
	// b answers: the login that finished last ends its sign-in.
	if loadErr == nil || b.Count("revoke") != 1 {
		t.Errorf("the sign-in at b: record %v, %d revocations at b; want ended (revoked, deleted)", loadErr, b.Count("revoke"))
	}
}

// Issue 13 item 7, adversary: a: switch to b while a cannot be reached
// (a's sign-in is kept, to be ended by the next login), then back to a.
// The login to a must end the kept sign-in (revoke its grant) before its
// new tokens replace the old ones in the same record: afterwards nothing
// holds the old refresh token, and no later command can revoke it.
func TestE2ESwitchBackEndsKeptSignIn(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	a := oauthtest.NewServer(oauthtest.Config{})
	defer a.Close()
	target, err := url.Parse(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	rp := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer front.Close()
	a.URL = front.URL // a is reached, and names itself, through front
	// Every request a's handlers serve takes a's lock before it reads
	// a.URL: taking that lock here orders the write before them (the
	// race detector sees no order through the CLI's sockets).
	_ = a.Requests()
	b := oauthtest.NewServer(oauthtest.Config{})
	defer b.Close()

	c := newCLI(t)
	c.mustLogin(a, "p")
	oldAccess, _ := storedToken(t, c)
	down.Store(true)
	if r := c.login(b, "p"); r.code != 0 || !strings.Contains(r.stderr, "still kept") {
		t.Fatalf("switch to b with a down: %v", r)
	}
	down.Store(false)
	if r := c.login(a, "p"); r.code != 0 {
		t.Fatalf("switch back to a: %v", r)
	}
	if a.Count("revoke") == 0 || a.ValidAccessToken(oldAccess) {
		t.Errorf("the kept sign-in at a was replaced by the new one, never revoked (%d revocations at a)", a.Count("revoke"))
	}
	if b.Count("revoke") != 1 {
		t.Errorf("%d revocations at b; want 1 (its sign-in ended by the switch back)", b.Count("revoke"))
	}
}

// Issue 13 item 7, adversary: a profile logged out at a, whose server is
// gone since, switched to b: there is no previous sign-in to end, so
// login must not say that one is kept (nor keep saying so at every later
// login, as it tries again to end it).
func TestE2ESwitchAfterLogoutKeepsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	a := oauthtest.NewServer(oauthtest.Config{})
	t.Cleanup(a.Close) // if the test stops before the Close below
	b := oauthtest.NewServer(oauthtest.Config{})
	defer b.Close()
	c := newCLI(t)
	c.mustLogin(a, "p")
	if r := c.run("", "logout", "--profile", "p"); r.code != 0 {
		t.Fatalf("logout: %v", r)
	}
	a.Close()
	for i := range 2 {
		r := c.login(b, "p")
		if r.code != 0 || strings.Contains(r.stderr, "still kept") || strings.Contains(r.stderr, "previous sign-in") {
			t.Errorf("login %d to b after logging out of a: %v", i+1, r)
		}
	}
}
