package authloop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// These tests re-execute the test binary as other OS processes that share
// one file store, as the processes of a CLI do.

const (
	childRoleEnv   = "AUTHLOOP_TEST_CHILD"
	childConfigEnv = "AUTHLOOP_TEST_CHILD_CONFIG"
)

// childConfig tells a child process where the server and the store are.
type childConfig struct {
	ClientID   string
	Secret     string // a confidential client's, for Grant
	Grant      bool   // the client credentials grant instead of a person's sign-in
	AuthURL    string
	TokenURL   string
	Issuer     string
	StoreDir   string
	StopFile   string
	Goroutines int
}

// childStats is what a refresher child reports on stdout.
type childStats struct {
	Calls, Errors, LoginRequired, Expired int64
	FirstError                            string
}

func (c childConfig) config() (*Config, error) {
	st, err := store.NewFile(c.StoreDir)
	if err != nil {
		return nil, err
	}
	cfg := &Config{
		OAuth2: &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.Secret, Endpoint: oauth2.Endpoint{AuthURL: c.AuthURL, TokenURL: c.TokenURL, AuthStyle: oauth2.AuthStyleInParams}},
		Issuer: c.Issuer,
		Store:  st,
		Prompt: discardWriter{},
	}
	if c.Grant {
		cfg.Grant = ClientCredentials()
	}
	return cfg, nil
}

func childMain(role string) int {
	var c childConfig
	if err := json.Unmarshal([]byte(os.Getenv(childConfigEnv)), &c); err != nil {
		fmt.Fprintln(os.Stderr, "child config:", err)
		return 2
	}
	cfg, err := c.config()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := NewSession(cfg, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	switch role {
	case "refresher":
		return refresher(s, c)
	case "crasher":
		fmt.Println("ready")
		for {
			_, _ = s.Refresh(context.Background()) // until killed
		}
	}
	return 2
}

// refresher calls Token from many goroutines until the stop file appears,
// checking that no token it gets has expired.
func refresher(s *Session, c childConfig) int {
	var st childStats
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range c.Goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := os.Stat(c.StopFile); err == nil {
					return
				}
				tok, err := s.Token(context.Background())
				now := time.Now()
				atomic.AddInt64(&st.Calls, 1)
				switch {
				case errors.Is(err, ErrLoginRequired):
					atomic.AddInt64(&st.LoginRequired, 1)
				case err != nil:
					atomic.AddInt64(&st.Errors, 1)
					mu.Lock()
					if st.FirstError == "" {
						st.FirstError = err.Error()
					}
					mu.Unlock()
				case !tok.Expiry.After(now):
					atomic.AddInt64(&st.Expired, 1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	_ = json.NewEncoder(os.Stdout).Encode(&st)
	return 0
}

func childCmd(t *testing.T, role string, c childConfig) *exec.Cmd {
	t.Helper()
	b, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childRoleEnv+"="+role, childConfigEnv+"="+string(b))
	cmd.Stderr = os.Stderr
	return cmd
}

// processFixture is a server on real time with a login saved to a file
// store, ready for child processes.
func processFixture(t *testing.T, ttl time.Duration) (*oauthtest.Server, childConfig) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test: skipped with -short")
	}
	srv := oauthtest.NewServer(oauthtest.Config{AccessTokenTTL: ttl})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	c := childConfig{
		ClientID: srv.ClientID(), AuthURL: srv.AuthorizationEndpoint(), TokenURL: srv.TokenEndpoint(), Issuer: srv.Issuer(),
		StoreDir: filepath.Join(dir, "store"), StopFile: filepath.Join(dir, "stop"),
	}
	saveLogin(t, srv, c)
	return srv, c
}

// saveLogin signs in headless and saves the token to the children's store.
func saveLogin(t *testing.T, srv *oauthtest.Server, c childConfig) {
	t.Helper()
	cfg, err := c.config()
	if err != nil {
		t.Fatal(err)
	}
	b := &approvingBrowser{}
	cfg.Browser = b.open
	tok, err := Login(context.Background(), cfg)
	b.wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// 8 processes × 50 goroutines on one record, through at least 20 expiry
// cycles of a 1-second token with rotation and reuse detection: every
// refresh request presents a new refresh token (no reuse detected), nobody
// is told to log in, no expired token is handed out.
func TestProcessesShareRefreshes(t *testing.T) {
	const processes, goroutines, cycles = 8, 50, 20
	srv, c := processFixture(t, time.Second)
	c.Goroutines = goroutines
	stop := startChildren(t, c, processes)
	start := time.Now()
	deadline := start.Add(3 * time.Minute)
	for countGrant(srv, "refresh_token") < cycles && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	total := stop()
	elapsed := time.Since(start)
	refreshes := countGrant(srv, "refresh_token")
	failed := 0
	for _, r := range srv.Requests() {
		if r.Endpoint == "token" && r.Error != "" {
			failed++
		}
	}
	t.Logf("%d processes × %d goroutines, %s: %d Token calls, %d refresh requests, %d failed token requests, %d errors, %d login-required, %d expired tokens handed out",
		processes, goroutines, elapsed.Round(time.Millisecond), total.Calls, refreshes, failed, total.Errors, total.LoginRequired, total.Expired)
	if refreshes < cycles {
		t.Fatalf("only %d refreshes in %v", refreshes, elapsed)
	}
	if failed != 0 {
		t.Fatalf("%d token requests failed: a refresh token was presented twice (reuse detection)", failed)
	}
	if total.Errors != 0 || total.LoginRequired != 0 {
		t.Fatalf("%d errors, %d told to log in again; first: %s", total.Errors, total.LoginRequired, total.FirstError)
	}
	if total.Expired != 0 {
		t.Fatalf("%d expired tokens handed out", total.Expired)
	}
}

// 8 processes × 20 goroutines share a program's session (the client
// credentials grant, 1-second tokens) through the file store: one token
// request per expiry, never two for the same one. A token is asked for
// when the last one is past half its life (its refresh point), so two
// requests less than a quarter of its life apart were made for the same
// expiry by two processes that did not see each other's token.
func TestProcessesShareClientCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test: skipped with -short")
	}
	const processes, goroutines, requests = 8, 20, 12
	const ttl = time.Second
	srv := oauthtest.NewServer(oauthtest.Config{AccessTokenTTL: ttl, Clients: []oauthtest.Client{{ID: "ci", Secret: "ci-secret", AuthMethod: oauthtest.AuthClientSecretPost}}})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	c := childConfig{
		ClientID: "ci", Secret: "ci-secret", Grant: true, TokenURL: srv.TokenEndpoint(), Issuer: srv.Issuer(),
		StoreDir: filepath.Join(dir, "store"), StopFile: filepath.Join(dir, "stop"), Goroutines: goroutines,
	}
	stop := startChildren(t, c, processes)
	deadline := time.Now().Add(2 * time.Minute)
	for countGrant(srv, "client_credentials") < requests && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	total := stop()
	total.Errors += total.LoginRequired
	var times []time.Time
	for _, r := range srv.Requests() {
		switch {
		case r.Endpoint != "token":
		case r.GrantType != "client_credentials" || r.Error != "":
			t.Errorf("a token request other than a successful client_credentials grant: %+v", r)
		default:
			times = append(times, r.Time)
		}
	}
	t.Logf("%d processes × %d goroutines: %d Token calls, %d token requests", processes, goroutines, total.Calls, len(times))
	if len(times) < requests {
		t.Fatalf("only %d token requests before the deadline", len(times))
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < ttl/4 {
			t.Errorf("token requests %d and %d %v apart: two requests for one expiry", i, i+1, gap)
		}
	}
	if total.Errors != 0 || total.Expired != 0 {
		t.Fatalf("%d errors, %d expired tokens handed out; first error: %s", total.Errors, total.Expired, total.FirstError)
	}
}

// startChildren starts n refresher children on c; stop writes the stop
// file, collects each child's stats (summed) and waits for them all.
// Children still running when the test ends are killed.
func startChildren(t *testing.T, c childConfig, n int) (stop func() childStats) {
	t.Helper()
	var cmds []*exec.Cmd
	var outs []*bufio.Reader
	t.Cleanup(func() {
		for _, cmd := range cmds {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	for range n {
		cmd := childCmd(t, "refresher", c)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, bufio.NewReader(out))
	}
	return func() childStats {
		t.Helper()
		if err := os.WriteFile(c.StopFile, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var total childStats
		for i, out := range outs {
			var st childStats
			if err := json.NewDecoder(out).Decode(&st); err != nil {
				t.Fatalf("process %d: no stats: %v", i, err)
			}
			total.Calls += st.Calls
			total.Errors += st.Errors
			total.LoginRequired += st.LoginRequired
			total.Expired += st.Expired
			if total.FirstError == "" {
				total.FirstError = st.FirstError
			}
			if err := cmds[i].Wait(); err != nil {
				t.Errorf("process %d: %v", i, err)
			}
		}
		cmds = nil
		return total
	}
}

func countGrant(srv *oauthtest.Server, grant string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Endpoint == "token" && r.GrantType == grant {
			n++
		}
	}
	return n
}

// kill -9 at random moments of a refresh and its save, 200 times: the
// store always loads, and holds a token the server accepts — or, only when
// the kill fell between the server's rotation and the save, gives a clean
// login-required.
func TestCrashDuringRefresh(t *testing.T) {
	const kills = 200
	srv, c := processFixture(t, time.Hour)
	cfg, err := c.config()
	if err != nil {
		t.Fatal(err)
	}
	var lost int
	for i := 0; i < kills; i++ {
		cmd := childCmd(t, "crasher", c)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "ready\n" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("kill %d: child not ready: %q %v", i, line, err)
		}
		time.Sleep(time.Duration(rand.IntN(20000)) * time.Microsecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		// A request the child sent before dying may still be in the
		// server's hands; let it finish, as it would in life before anyone
		// looks again.
		// A request still in the kernel's buffers when the child died
		// reaches the server a moment later (and, presenting a refresh
		// token spent meanwhile, would revoke the grant): wait until no
		// request has come for a while, then until all are answered.
		for n := -1; n != len(srv.Requests()); {
			n = len(srv.Requests())
			time.Sleep(30 * time.Millisecond)
		}
		eventually(t, "the dead child's requests to finish", func() bool {
			for _, r := range srv.Requests() {
				if r.Status == 0 {
					return false
				}
			}
			return true
		})

		s, err := NewSession(cfg, nil)
		if err != nil {
			t.Fatalf("kill %d: the store does not load: %v", i, err)
		}
		tok, err := s.Refresh(context.Background())
		s.Close()
		switch {
		case err == nil:
			if !srv.ValidAccessToken(tok.AccessToken) {
				t.Fatalf("kill %d: the refreshed token is not valid", i)
			}
		case errors.Is(err, ErrLoginRequired):
			lost++
			saveLogin(t, srv, c)
		default:
			t.Fatalf("kill %d: %v", i, err)
		}
	}
	t.Logf("%d kills during refresh and save: %d left a clean login-required (killed between the server's rotation and the save), %d kept a working session; %d refresh requests",
		kills, lost, kills-lost, countGrant(srv, "refresh_token"))
}
