package authloop

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// gatedBrowser approves the first free sign-ins at once and holds every
// later one until release: a person still busy with the step-up's page.
type gatedBrowser struct {
	approvingBrowser
	free    int           // sign-ins approved at once (default 1)
	opened  chan struct{} // one value per held sign-in, when its page opens
	release chan struct{}
}

func newGatedBrowser() *gatedBrowser {
	return &gatedBrowser{free: 1, opened: make(chan struct{}, 8), release: make(chan struct{})}
}

func (b *gatedBrowser) open(ctx context.Context, u string) error {
	b.mu.Lock()
	free := len(b.urls) < b.free
	b.mu.Unlock()
	if free {
		return b.approvingBrowser.open(ctx, u)
	}
	b.opened <- struct{}{}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		<-b.release
		_ = b.approvingBrowser.open(ctx, u)
	}()
	return nil
}

// waitSignal is a context that tells when a caller starts waiting on it
// (its Done is read): a step-up caller waiting for a flight.
type waitSignal struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func newWaitSignal() *waitSignal {
	return &waitSignal{Context: context.Background(), waiting: make(chan struct{})}
}

func (w *waitSignal) Done() <-chan struct{} {
	w.once.Do(func() { close(w.waiting) })
	return w.Context.Done()
}

// Requests refused with 403 insufficient_scope for the same scope while
// the first step-up sign-in is still running join it: one browser page,
// and every one of them may retry with its token.
func TestAuthorizeStepUpShared(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{JWTAccessTokens: true})
	defer srv.Close()
	rs, _ := stepUpServer(t, srv)
	b := newGatedBrowser()
	defer b.wg.Wait()
	s := mcpSession(t, srv, rs, b.open)
	mcp := rs.URL + "/mcp"
	if resp := callWithCached(t, s, http.MethodGet, mcp); resp.StatusCode != 401 || s.Authorize(context.Background(), resp.Request, resp) != nil {
		t.Fatalf("first sign-in: HTTP %d", resp.StatusCode)
	}
	// Eight POSTs, each refused for lack of write.
	const n = 8
	var refused []*http.Response
	for range n {
		resp := callWithCached(t, s, http.MethodPost, mcp)
		if resp.StatusCode != 403 {
			t.Fatalf("POST before the step-up: HTTP %d", resp.StatusCode)
		}
		refused = append(refused, resp)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	defer wg.Wait()
	authorize := func(i int, ctx context.Context) chan struct{} {
		done := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			errs[i] = s.Authorize(ctx, refused[i].Request, refused[i])
		}()
		return done
	}
	authorize(0, context.Background())
	select {
	case <-b.opened: // the step-up's page is open, the person not done
	case <-time.After(30 * time.Second):
		t.Fatal("no step-up sign-in started")
	}
	for i := 1; i < n; i++ {
		ctx := newWaitSignal()
		done := authorize(i, ctx)
		select {
		case <-ctx.waiting: // waiting for the running step-up
		case <-done: // gave up (or finished) without waiting
		}
	}
	close(b.release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d refused during the step-up: Authorize: %v", i, err)
		}
	}
	if resp := callWithCached(t, s, http.MethodPost, mcp); resp.StatusCode != 200 {
		t.Fatalf("POST after the step-up: HTTP %d", resp.StatusCode)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.urls) != 2 {
		t.Fatalf("%d sign-ins, want 2 (the first, one shared step-up)", len(b.urls))
	}
}

// scopeGranter makes every token response grant scope, whatever was
// asked: a server that grants less than a step-up asked for.
func scopeGranter(base http.RoundTripper, scope string) http.RoundTripper {
	return tokenRewriter{base, func(m map[string]any) {
		if m["access_token"] != nil {
			m["scope"] = scope
		}
	}}
}

// Requests refused while the step-up runs, when the step-up ends without
// the scope (the server granted less), give up with an error that says
// so, and no second sign-in for the same scope starts.
func TestAuthorizeStepUpSharedGrantedLess(t *testing.T) {
	f := newFixture(t, oauthtest.Config{}, false)
	b := newGatedBrowser()
	b.free = 0
	defer b.wg.Wait()
	f.cfg.Browser = b.open
	f.cfg.Interactive = true
	f.cfg.HTTPClient = &http.Client{Transport: scopeGranter(http.DefaultTransport, "openid offline_access")}
	s := f.session()
	req, _ := http.NewRequest(http.MethodPost, f.srv.ResourceEndpoint(), nil)
	s.Cached().SetAuthHeader(req)
	refused := func() *http.Response {
		return insufficientScope("write")
	}
	logins := f.srv.Count("authorize")
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs[0] = s.Authorize(context.Background(), req, refused())
	}()
	select {
	case <-b.opened:
	case <-time.After(30 * time.Second):
		t.Fatal("no step-up sign-in started")
	}
	ctx := newWaitSignal()
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		errs[1] = s.Authorize(ctx, req, refused())
	}()
	select {
	case <-ctx.waiting:
	case <-done:
	}
	close(b.release)
	wg.Wait()
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "insufficient scope") {
			t.Errorf("request %d: Authorize: %v, want a give-up naming the insufficient scope", i, err)
		}
	}
	if n := f.srv.Count("authorize") - logins; n != 1 {
		t.Fatalf("%d step-up sign-ins, want 1", n)
	}
}

// The challenged scopes are added to the configured ones: with
// Config.OAuth2.Scopes set, or with Issuer beside Resource (the shape
// `authloop login --resource` saves), the step-up asks for them too, and
// the retried request succeeds.
func TestStepUpAddsChallengedScopes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config func(srv *oauthtest.Server, mcp string, b Browser) *Config
	}{
		{"configured scopes", func(srv *oauthtest.Server, mcp string, b Browser) *Config {
			cfg := testConfig(srv, b)
			cfg.OAuth2.Scopes = []string{"read", "offline_access"}
			return cfg
		}},
		{"issuer beside resource", func(srv *oauthtest.Server, mcp string, b Browser) *Config {
			return &Config{
				OAuth2:       &oauth2.Config{ClientID: srv.ClientID(), Scopes: []string{"read"}},
				Issuer:       srv.Issuer(),
				Resource:     mcp,
				Browser:      b,
				Prompt:       discardWriter{},
				LoginTimeout: time.Minute,
			}
		}},
		{"issuer beside resource, no scopes", func(srv *oauthtest.Server, mcp string, b Browser) *Config {
			return &Config{
				OAuth2:       &oauth2.Config{ClientID: srv.ClientID()},
				Issuer:       srv.Issuer(),
				Resource:     mcp,
				Browser:      b,
				Prompt:       discardWriter{},
				LoginTimeout: time.Minute,
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := oauthtest.NewServer(oauthtest.Config{JWTAccessTokens: true})
			defer srv.Close()
			rs, _ := stepUpServer(t, srv)
			mcp := rs.URL + "/mcp"
			b := &approvingBrowser{}
			defer b.wg.Wait()
			cfg := tc.config(srv, mcp, b.open)
			cfg.Interactive = true
			s, err := NewSession(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			if _, err := s.Token(ctx); err != nil {
				t.Fatal(err)
			}
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				resp := callWithCached(t, s, method, mcp)
				if resp.StatusCode == 200 {
					continue
				}
				if err := s.Authorize(ctx, resp.Request, resp); err != nil {
					t.Fatalf("%s refused with HTTP %d: Authorize: %v", method, resp.StatusCode, err)
				}
				if resp := callWithCached(t, s, method, mcp); resp.StatusCode != 200 {
					t.Fatalf("%s after the step-up: HTTP %d", method, resp.StatusCode)
				}
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			last, _ := url.Parse(b.urls[len(b.urls)-1])
			sc := strings.Fields(last.Query().Get("scope"))
			for _, want := range union(cfg.OAuth2.Scopes, []string{"read", "write"}) {
				if !slices.Contains(sc, want) {
					t.Errorf("the step-up asked for %q, without %q", sc, want)
				}
			}
		})
	}
}
