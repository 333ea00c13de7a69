package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/oauthtest"
)

// readerEvery is how often the demo's reader asks the Session for a token,
// as a busy program would.
const readerEvery = 250 * time.Millisecond

// keeper runs part 2 of the demo: a Session kept alive through background
// refreshes, a burst of 503s and a revoked grant.
type keeper struct {
	d   *demo
	srv *oauthtest.Server
	s   *authloop.Session
	api *http.Client

	bg chan string // the new access token of each background refresh

	mu      sync.Mutex
	forcing bool     // a forced Refresh is under way: main reports its changes
	changes []change // the changes seen while forcing

	// The reader's tally.
	handed   int
	expired  int
	readErrs int
	distinct map[string]bool
}

type change struct{ old, new *oauth2.Token }

func (d *demo) keepAlive(ctx context.Context, srv *oauthtest.Server, base *authloop.Config, tok *oauth2.Token) error {
	k := &keeper{d: d, srv: srv, bg: make(chan string, 8), distinct: map[string]bool{}}
	cfg := *base
	cfg.Interactive = true
	cfg.OnTokenChange = k.onTokenChange
	cfg.OnRefreshFailure = k.onRefreshFailure

	p := d.p
	p.plain("")
	p.plain("Part 2: keeping the session alive")
	p.plain("")

	s, err := authloop.NewSession(&cfg, tok)
	if err != nil {
		return err
	}
	k.s = s
	defer s.Close()
	k.api = s.Client(ctx)
	k.api.Timeout = 10 * time.Second

	rctx, stopReader := context.WithCancel(ctx)
	var rwg sync.WaitGroup
	rwg.Add(1)
	go k.read(rctx, &rwg)
	defer func() {
		stopReader()
		rwg.Wait()
	}()

	life := lifetime(tok)
	p.say("Started a Session with these tokens (authloop.NewSession), allowed to sign in again, as a CLI in a terminal is.")
	p.detail("Tokens here live only %s, so the Session renews them in the background about %s", life, (life / 2).Round(time.Second))
	p.detail("before they expire (its refresh buffer is capped at half a token's lifetime).")
	p.detail("Meanwhile a reader asks the Session for a token every %s, as a busy program would.", readerEvery)

	for i, nth := range []string{"first", "second"} {
		if err := k.waitBackground(ctx, nth); err != nil {
			return err
		}
		if i == 0 {
			p.detail("The old refresh token is now dead at the server (rotation): only the new one works.")
		}
		if err := k.callAPI(ctx); err != nil {
			return err
		}
	}

	if err := k.burst(ctx); err != nil {
		return err
	}
	if err := k.revoke(ctx); err != nil {
		return err
	}
	if err := k.callAPI(ctx); err != nil {
		return err
	}

	stopReader()
	rwg.Wait()
	return k.summary()
}

// onTokenChange is the Session's OnTokenChange hook. It runs inside the
// Session, so it only prints and records.
func (k *keeper) onTokenChange(old, new *oauth2.Token) {
	if new != nil {
		k.d.observe(new)
	}
	k.mu.Lock()
	forcing := k.forcing
	if forcing {
		k.changes = append(k.changes, change{old, new})
	}
	k.mu.Unlock()
	if forcing {
		return
	}
	switch {
	case new == nil:
		k.d.p.say("The Session dropped its tokens.")
	case old != nil && new.AccessToken == old.AccessToken:
		k.d.p.say("A background refresh was refused: the Session dropped the dead refresh token and keeps")
		k.d.p.detail("access token %s until it expires.", authloop.Fingerprint(new.AccessToken))
	default:
		k.d.p.say("Background refresh: %s.", describeChange(old, new))
		select {
		case k.bg <- new.AccessToken:
		default:
		}
	}
}

// onRefreshFailure reports a background refresh that failed after its
// retries; a forced one reports its own error.
func (k *keeper) onRefreshFailure(err error) {
	k.mu.Lock()
	forcing := k.forcing
	k.mu.Unlock()
	if !forcing {
		k.d.p.say("A background refresh failed (%v); the Session keeps serving the current token and tries again later.", err)
	}
}

// describeChange says what changed from old to new, in fingerprints.
func describeChange(old, new *oauth2.Token) string {
	var b strings.Builder
	fmt.Fprintf(&b, "new access token %s, ", authloop.Fingerprint(new.AccessToken))
	switch {
	case new.RefreshToken == "":
		b.WriteString("no refresh token")
	case old == nil || old.RefreshToken == "":
		fmt.Fprintf(&b, "refresh token %s", authloop.Fingerprint(new.RefreshToken))
	case old.RefreshToken != new.RefreshToken:
		fmt.Fprintf(&b, "refresh token rotated %s → %s", authloop.Fingerprint(old.RefreshToken), authloop.Fingerprint(new.RefreshToken))
	default:
		fmt.Fprintf(&b, "refresh token unchanged (%s)", authloop.Fingerprint(new.RefreshToken))
	}
	fmt.Fprintf(&b, ", valid for %s", lifetime(new))
	return b.String()
}

// waitBackground waits for the next background refresh, with a live
// countdown on a terminal.
func (k *keeper) waitBackground(ctx context.Context, nth string) error {
	tok, err := k.s.Token(ctx)
	if err != nil {
		return fmt.Errorf("getting a token from the session: %w", err)
	}
	life := lifetime(tok)
	due := time.Until(tok.Expiry.Add(-life / 2))
	k.d.p.detail("Waiting for the %s background refresh, due in about %s...", nth, max(due, 0).Round(time.Second))

	// Generous: a slow machine may fire late, but never past expiry.
	limit := time.NewTimer(time.Until(tok.Expiry) + 20*time.Second)
	defer limit.Stop()
	tick := time.NewTicker(time.Second / 4)
	defer tick.Stop()
	began := time.Now()
	shown := ""
	for {
		select {
		case at := <-k.bg:
			return k.settle(ctx, at)
		case <-ctx.Done():
			return ctx.Err()
		case <-limit.C:
			return fmt.Errorf("no background refresh within %s (the token expired at %s)", time.Since(began).Round(time.Second), tok.Expiry.Format(time.TimeOnly))
		case <-tick.C:
			msg := "⏳ any moment now"
			if left := time.Until(began.Add(due)); left > 0 {
				msg = fmt.Sprintf("⏳ %s", (left + time.Second/2).Round(time.Second))
			}
			if msg != shown {
				k.d.p.status("%s", msg)
				shown = msg
			}
		}
	}
}

// settle waits until the Session hands out the access token at, which a
// background refresh has just announced. OnTokenChange runs before the
// Session takes the new token into use (announced before handed out), so
// without this wait the demo's next step could still see the old token,
// and a Refresh forced at once would join the finishing refresh instead of
// making a request of its own.
func (k *keeper) settle(ctx context.Context, at string) error {
	for range 2000 {
		if tok := k.s.Cached(); tok != nil && tok.AccessToken == at {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return errors.New("the Session did not take the refreshed token into use within 2s")
}

// callAPI calls the protected API through the Session's HTTP client.
func (k *keeper) callAPI(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.srv.ResourceEndpoint(), nil)
	if err != nil {
		return err
	}
	resp, err := k.api.Do(req)
	if err != nil {
		return fmt.Errorf("calling the protected API: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the protected API answered HTTP %d, want 200", resp.StatusCode)
	}
	k.d.p.say("Called the protected API through session.Client(ctx): HTTP %d.", resp.StatusCode)
	return nil
}

// forceRefresh runs Session.Refresh with the hooks in "forced" mode, and
// returns the changes it caused.
func (k *keeper) forceRefresh(ctx context.Context) (*oauth2.Token, []change, error) {
	k.mu.Lock()
	k.forcing = true
	k.changes = nil
	k.mu.Unlock()
	tok, err := k.s.Refresh(ctx)
	k.mu.Lock()
	k.forcing = false
	changes := k.changes
	k.mu.Unlock()
	return tok, changes, err
}

// burst makes the token endpoint answer 503 three times and forces a
// refresh, which retries with backoff until it gets through.
func (k *keeper) burst(ctx context.Context) error {
	const n = 3
	p := k.d.p
	before := len(k.srv.Requests())
	k.srv.FailNext(n, oauthtest.Fault{Kind: oauthtest.FaultUnavailable})
	p.say("Made the server fail: it answers the next %d token requests with HTTP 503 Service Unavailable.", n)
	p.detail("Forcing a refresh now (session.Refresh)...")
	start := time.Now()
	handedBefore := k.tally()
	tok, changes, err := k.forceRefresh(ctx)
	took := time.Since(start)
	servedMeanwhile := k.tally() - handedBefore
	if err != nil {
		return fmt.Errorf("the refresh after %d injected 503s failed: %w", n, err)
	}
	var attempts, unavailable int
	for _, r := range tokenRequests(k.srv.Requests()[before:]) {
		attempts++
		if r.Status == http.StatusServiceUnavailable {
			unavailable++
		}
	}
	p.say("The server answered 503 %s; authloop retried with backoff (exponential, with jitter)", times(unavailable))
	p.detail("and got a new token on attempt %d, %s after the refresh began:", attempts, took.Round(10*time.Millisecond))
	var old *oauth2.Token
	if len(changes) > 0 {
		old = changes[0].old
	}
	p.detail("%s.", describeChange(old, tok))
	if servedMeanwhile > 0 {
		p.detail("Meanwhile the reader got the current, still valid token %s: it never waited for the retries.", times(servedMeanwhile))
	}
	return nil
}

// revoke kills the grant at the server and forces a refresh: the server
// answers invalid_grant, and the interactive Session signs in again.
func (k *keeper) revoke(ctx context.Context) error {
	p := k.d.p
	before := len(k.srv.Requests())
	k.srv.RevokeAll()
	p.say("Revoked every grant at the server, as when you remove an app's access in your account settings.")
	p.detail("Forcing a refresh now (session.Refresh)...")
	k.d.relogin.Store(true)
	defer k.d.relogin.Store(false)
	tok, changes, err := k.forceRefresh(ctx)
	if errors.Is(err, authloop.ErrLoginRequired) && ctx.Err() == nil {
		// The forced refresh joined a background one that was already
		// under way, and background refreshes never sign in. Now the
		// Session knows it has no refresh token: this one signs in.
		var more []change
		tok, more, err = k.forceRefresh(ctx)
		changes = append(changes, more...)
	}
	if err != nil {
		return fmt.Errorf("the refresh after revoking the grant did not end in a new sign-in: %w", err)
	}
	var refused, signIns int
	for _, r := range tokenRequests(k.srv.Requests()[before:]) {
		switch {
		case r.GrantType == "refresh_token" && r.Error == "invalid_grant":
			refused++
		case r.GrantType == "authorization_code" && r.Status == http.StatusOK:
			signIns++
		}
	}
	if refused == 0 || signIns == 0 {
		return fmt.Errorf("after revoking the grant, expected a refused refresh and a new sign-in; the server saw %d invalid_grant and %d sign-ins", refused, signIns)
	}
	dropped := false
	for _, c := range changes {
		if c.new == nil || c.new.RefreshToken == "" {
			dropped = true
		}
	}
	p.say("The server refused the refresh token (invalid_grant): the grant is gone.")
	if dropped {
		p.detail("authloop dropped the dead tokens and signed in again: %s.", describeChange(nil, tok))
	} else {
		p.detail("authloop signed in again: %s.", describeChange(nil, tok))
	}
	if k.d.relogins.Load() > 0 {
		p.detail("(A real CLI would open your browser for this new sign-in; to keep the demo short, it ran")
		p.detail("headless here, through the same browser function.)")
	}
	return nil
}

// tally returns how many tokens the reader has been handed so far.
func (k *keeper) tally() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.handed
}

// read asks the Session for a token every readerEvery until ctx ends,
// checking that none has expired.
func (k *keeper) read(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	t := time.NewTicker(readerEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		tok, err := k.s.Token(ctx)
		now := time.Now()
		if ctx.Err() != nil {
			return
		}
		k.mu.Lock()
		if err != nil {
			k.readErrs++
		} else {
			k.d.observe(tok)
			k.handed++
			k.distinct[authloop.Fingerprint(tok.AccessToken)] = true
			if !tok.Expiry.IsZero() && !now.Before(tok.Expiry) {
				k.expired++
			}
		}
		k.mu.Unlock()
	}
}

// summary prints what the server saw and what the reader got, and fails
// the demo if the Session ever handed out an expired token.
func (k *keeper) summary() error {
	p := k.d.p
	byGrant := map[string]int{}
	var unavailable, refused int
	for _, r := range tokenRequests(k.srv.Requests()) {
		byGrant[r.GrantType]++
		if r.Status == http.StatusServiceUnavailable {
			unavailable++
		}
		if r.Error == "invalid_grant" {
			refused++
		}
	}
	grants := make([]string, 0, len(byGrant))
	for g := range byGrant {
		grants = append(grants, g)
	}
	slices.Sort(grants)
	var parts []string
	for _, g := range grants {
		what := fmt.Sprintf("%d %s", byGrant[g], g)
		switch g {
		case "authorization_code":
			what += " (sign-ins)"
		case "refresh_token":
			what += fmt.Sprintf(" (%d answered 503, %d invalid_grant)", unavailable, refused)
		}
		parts = append(parts, what)
	}

	k.mu.Lock()
	handed, expired, readErrs, distinct := k.handed, k.expired, k.readErrs, len(k.distinct)
	k.mu.Unlock()

	p.plain("")
	p.plain("Summary")
	p.detail("token requests the server saw: %s", strings.Join(parts, ", "))
	p.detail("the reader asked the Session for a token %d times and got %d different ones;", handed, distinct)
	if readErrs > 0 {
		p.detail("%d of its calls failed;", readErrs)
	}
	if expired > 0 {
		return fmt.Errorf("the Session handed out an expired token %s", times(expired))
	}
	p.detail("the Session never handed out an expired token.")
	return nil
}

func tokenRequests(reqs []oauthtest.Request) []oauthtest.Request {
	return slices.DeleteFunc(reqs, func(r oauthtest.Request) bool { return r.Endpoint != "token" })
}

// times says how often: "once", "twice", "3 times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	case 3:
		return "three times"
	default:
		return fmt.Sprintf("%d times", n)
	}
}
