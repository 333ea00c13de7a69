package redisstore

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore/redistest"
	"github.com/redis/go-redis/v9"
)

// The test binary doubles as the processes of a fleet: with childEnv set,
// TestMain runs runChild with the JSON childSpec it holds instead of the
// tests. Each child is one OS process with its own Redis client, standing
// for a replica on its own machine; they share one record in Redis.
const childEnv = "REDISSTORE_TEST_CHILD"

// childSpec tells a child what to be and where the servers are.
type childSpec struct {
	Role       string // "fleet", "stall" or "kill"
	Redis      string // host:port
	Prefix     string
	LockTTL    time.Duration
	ClientID   string
	AuthURL    string
	TokenURL   string
	Issuer     string
	Group      int
	Proc       int
	Goroutines int
	Pace       time.Duration // between two Token calls of one goroutine
	TTL        time.Duration // the access tokens' lifetime
}

// childStats is what a "fleet" child reports on stdout when it stops.
type childStats struct {
	Group, Proc int
	Calls       int64
	// Token errors, by kind: a dead grant (ErrLoginRequired), an
	// invalid_grant anywhere in the error, the store unreachable, other.
	LoginRequired, InvalidGrant, Unavailable, Errors int64
	FirstError                                       string
	// Expired counts tokens whose Expiry had passed when Token was
	// called; Late those handed out when less than the Session's expiry
	// margin (a quarter of their lifetime, at most 10 s) was left of them
	// when Token was called. (The time after Token returns is not used: a
	// goroutine may wait long to run again on a loaded machine.)
	Expired, Late int64
	// Last is, per access token (its fingerprint), when Token was last
	// called and handed it out, in Unix nanoseconds.
	Last map[string]int64
	// RefreshFailures are the background refreshes that failed
	// (Config.OnRefreshFailure).
	RefreshFailures     int64
	FirstRefreshFailure string
	// The probes of TestFleetWhileRedisIsDown: forced Refresh calls made
	// after "down", until one succeeds.
	ProbeUnavailable int
	ProbeOther       []string
	ProbeRecovered   bool
}

// fp is a token's fingerprint, as the proxy names it, so that no token is
// printed.
func fp(tok string) string { return redistest.Fingerprint(tok) }

// childClient is the Redis client of a child: short timeouts, as
// redistest's, so that a stopped Redis fails fast.
func childClient(spec childSpec) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:                  spec.Redis,
		ClientName:            fmt.Sprintf("fleet-g%d-p%d", spec.Group, spec.Proc),
		DialTimeout:           2 * time.Second,
		ReadTimeout:           2 * time.Second,
		WriteTimeout:          2 * time.Second,
		MaxRetries:            1,
		ContextTimeoutEnabled: true,
	})
}

func (spec childSpec) config(st store.Store) *authloop.Config {
	return &authloop.Config{
		OAuth2: &oauth2.Config{ClientID: spec.ClientID, Endpoint: oauth2.Endpoint{
			AuthURL: spec.AuthURL, TokenURL: spec.TokenURL, AuthStyle: oauth2.AuthStyleInParams}},
		Issuer:     spec.Issuer,
		Store:      st,
		Prompt:     discard{},
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second},
	}
}

func runChild() int {
	var spec childSpec
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "child spec:", err)
		return 2
	}
	c := childClient(spec)
	defer c.Close()
	st, err := New(c, Options{Prefix: spec.Prefix, LockTTL: spec.LockTTL})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	switch spec.Role {
	case "fleet":
		return fleetChild(spec, st)
	case "stall":
		return stallChild(spec, st)
	case "kill":
		return killChild(spec, st)
	}
	fmt.Fprintln(os.Stderr, "unknown role", spec.Role)
	return 2
}

// fleetChild calls Token from spec.Goroutines goroutines, each every
// spec.Pace or so, until stdin closes, checking each token it gets, then
// prints its childStats. It says "ready" once its session has loaded the
// record. A line "down" on stdin (Redis was stopped) starts the probes:
// a forced Refresh every 100 ms until one succeeds.
func fleetChild(spec childSpec, st *Store) int {
	var stats childStats
	var mu sync.Mutex // guards the first errors and the probes
	cfg := spec.config(st)
	cfg.OnRefreshFailure = func(err error) {
		atomic.AddInt64(&stats.RefreshFailures, 1)
		mu.Lock()
		if stats.FirstRefreshFailure == "" {
			stats.FirstRefreshFailure = err.Error()
		}
		mu.Unlock()
	}
	s, err := authloop.NewSession(cfg, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("ready")
	stop := make(chan struct{})
	down := make(chan struct{})
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			if in.Text() == "down" {
				close(down)
			}
		}
		close(stop)
	}()
	margin := min(10*time.Second, spec.TTL/4)
	var wg sync.WaitGroup
	lasts := make([]map[string]int64, spec.Goroutines)
	for i := range spec.Goroutines {
		lasts[i] = map[string]int64{}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				called := time.Now()
				tok, err := s.Token(ctx)
				cancel()
				atomic.AddInt64(&stats.Calls, 1)
				switch {
				case err == nil && !called.Before(tok.Expiry):
					atomic.AddInt64(&stats.Expired, 1)
				case err == nil && !called.Before(tok.Expiry.Add(-margin)):
					atomic.AddInt64(&stats.Late, 1)
				case err == nil:
					lasts[i][fp(tok.AccessToken)] = called.UnixNano()
				case errors.Is(err, authloop.ErrLoginRequired):
					atomic.AddInt64(&stats.LoginRequired, 1)
				case strings.Contains(err.Error(), "invalid_grant"):
					atomic.AddInt64(&stats.InvalidGrant, 1)
				case errors.Is(err, store.ErrUnavailable):
					atomic.AddInt64(&stats.Unavailable, 1)
				default:
					atomic.AddInt64(&stats.Errors, 1)
				}
				if err != nil {
					mu.Lock()
					if stats.FirstError == "" {
						stats.FirstError = err.Error()
					}
					mu.Unlock()
				}
				time.Sleep(spec.Pace/2 + rand.N(spec.Pace+1))
			}
		})
	}
	wg.Go(func() {
		select {
		case <-stop:
			return
		case <-down:
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := s.Refresh(ctx)
			cancel()
			mu.Lock()
			switch {
			case err == nil:
				stats.ProbeRecovered = stats.ProbeUnavailable > 0
			case errors.Is(err, store.ErrUnavailable):
				stats.ProbeUnavailable++
			default:
				stats.ProbeOther = append(stats.ProbeOther, err.Error())
			}
			mu.Unlock()
			if err == nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	wg.Wait()
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "Close:", err)
	}
	stats.Group, stats.Proc = spec.Group, spec.Proc
	stats.Last = map[string]int64{}
	for _, m := range lasts {
		for k, v := range m {
			stats.Last[k] = max(stats.Last[k], v)
		}
	}
	b, _ := json.Marshal(stats)
	fmt.Println(string(b))
	return 0
}

// stallingStore is a child's store that stops, once, inside the refresh
// lock: its first Load under a lease reads the record, says "holding" on
// stdout and waits for a line on stdin (the parent stops the process with
// SIGSTOP meanwhile, past the lease, and lets another process refresh).
// Then, as the stale holder it now is, it tries to save the record it
// read with the lease it held (a fenced save) and says what came of it,
// and hands the stale record to the Session, as if no time had passed.
type stallingStore struct {
	*Store
	once sync.Once
	in   *bufio.Scanner
	out  *json.Encoder
}

// stallEvent is a line of a "stall" or "kill" child's stdout.
type stallEvent struct {
	Event     string // "holding", "save", "refresh", "adopted", "ready"
	Err       string `json:",omitempty"`
	LeaseLost bool   `json:",omitempty"` // Err wraps store.ErrLeaseLost
	Access    string `json:",omitempty"` // fingerprint
}

func (s *stallingStore) Load(ctx context.Context, key store.Key) (*store.Record, error) {
	rec, err := s.Store.Load(ctx, key)
	if err != nil || leaseOf(ctx, s.Store, key) == nil {
		return rec, err
	}
	s.once.Do(func() {
		_ = s.out.Encode(stallEvent{Event: "holding"})
		s.in.Scan()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, serr := s.Store.Save(sctx, rec.Clone())
		ev := stallEvent{Event: "save", LeaseLost: errors.Is(serr, store.ErrLeaseLost)}
		if serr != nil {
			ev.Err = serr.Error()
		}
		_ = s.out.Encode(ev)
	})
	return rec, nil
}

// stallChild refreshes once through a stallingStore, says what the
// Refresh returned, then refreshes again (which should adopt the token
// the other process saved meanwhile) and says which token it holds. It
// exits when stdin closes.
func stallChild(spec childSpec, st *Store) int {
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	ss := &stallingStore{Store: st, in: in, out: out}
	cfg := spec.config(ss)
	cfg.DisableAutoRefresh = true
	s, err := authloop.NewSession(cfg, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = s.Refresh(ctx)
	ev := stallEvent{Event: "refresh", LeaseLost: errors.Is(err, store.ErrLeaseLost)}
	if err != nil {
		ev.Err = err.Error()
	}
	_ = out.Encode(ev)
	tok, err := s.Refresh(ctx)
	ev = stallEvent{Event: "adopted"}
	if err != nil {
		ev.Err = err.Error()
	} else {
		ev.Access = fp(tok.AccessToken)
	}
	_ = out.Encode(ev)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// killChild says "ready" and refreshes, until it is killed.
func killChild(spec childSpec, st *Store) int {
	cfg := spec.config(st)
	cfg.DisableAutoRefresh = true
	s, err := authloop.NewSession(cfg, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	_ = json.NewEncoder(os.Stdout).Encode(stallEvent{Event: "ready"})
	_, err = s.Refresh(context.Background())
	fmt.Fprintln(os.Stderr, "the refresh returned, though the process should have been killed:", err)
	return 2
}
