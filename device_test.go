package authloop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// fastDevicePolls makes a polling interval of n seconds last n*2 ms.
func fastDevicePolls(t *testing.T) {
	t.Helper()
	old := devicePollUnit
	devicePollUnit = 2 * time.Millisecond
	t.Cleanup(func() { devicePollUnit = old })
}

func deviceConfig(srv *oauthtest.Server) *Config {
	ep := srv.Endpoint()
	ep.DeviceAuthURL = srv.DeviceAuthorizationEndpoint()
	return &Config{
		OAuth2: &oauth2.Config{
			ClientID: srv.ClientID(),
			Endpoint: ep,
			Scopes:   []string{"openid", "offline_access"},
		},
		Issuer:       srv.Issuer(),
		LoginMode:    LoginDevice,
		Prompt:       &bytes.Buffer{},
		LoginTimeout: time.Minute,
	}
}

// approveWithBrowse approves each device code shown by following its
// verification_uri_complete, as the person would.
func approveWithBrowse(wg *sync.WaitGroup) func(*oauth2.DeviceAuthResponse) {
	return func(da *oauth2.DeviceAuthResponse) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _ = oauthtest.Browse(context.Background(), nil, da.VerificationURIComplete)
		}()
	}
}

func TestLoginDeviceFlow(t *testing.T) {
	fastDevicePolls(t)
	srv := oauthtest.NewServer(oauthtest.Config{JWTAccessTokens: true})
	defer srv.Close()
	cfg := deviceConfig(srv)
	cfg.Resource = "https://api.example/"
	var wg sync.WaitGroup
	defer wg.Wait()
	var shown *oauth2.DeviceAuthResponse
	cfg.OnDeviceCode = func(da *oauth2.DeviceAuthResponse) {
		shown = da
		approveWithBrowse(&wg)(da)
	}
	tok, err := Login(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if shown == nil || shown.UserCode == "" || !strings.Contains(shown.VerificationURIComplete, shown.UserCode) || shown.Expiry.IsZero() || shown.Interval != 1 {
		t.Errorf("OnDeviceCode got %+v", shown)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil || tok.Extra("scope") != "openid offline_access" {
		t.Errorf("token lacks fields: refresh %v id_token %v scope %v", tok.RefreshToken != "", tok.Extra("id_token") != nil, tok.Extra("scope"))
	}
	if aud := jwtClaim(t, tok.AccessToken, "aud"); aud != "https://api.example/" {
		t.Errorf("aud = %v, want the resource (RFC 8707 sent)", aud)
	}
	if cfg.Prompt.(*bytes.Buffer).Len() != 0 {
		t.Errorf("Prompt written although OnDeviceCode is set: %q", cfg.Prompt)
	}
	if n := srv.Count("authorize"); n != 0 {
		t.Errorf("%d authorization requests in the device flow", n)
	}
}

func jwtClaim(t *testing.T, jwt, name string) any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m[name]
}

func TestLoginDeviceSlowDown(t *testing.T) {
	fastDevicePolls(t)
	srv := oauthtest.NewServer(oauthtest.Config{DeviceAutoApprovePolls: 3})
	defer srv.Close()
	srv.DeviceNext("slow_down")
	cfg := deviceConfig(srv)
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	for _, r := range srv.Requests() {
		if r.Endpoint == "token" {
			times = append(times, r.Time)
		}
	}
	if len(times) != 3 {
		t.Fatalf("%d polls, want 3 (slow_down, pending, tokens)", len(times))
	}
	// interval 1 + 5 after slow_down: the polls after it are >= 6 units apart.
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 6*devicePollUnit {
			t.Errorf("poll %d came %v after the previous, want >= %v", i+1, gap, 6*devicePollUnit)
		}
	}
	out := cfg.Prompt.(*bytes.Buffer).String()
	for _, want := range []string{srv.VerificationURI() + "?user_code=", "check that it shows this code"} {
		if !strings.Contains(out, want) {
			t.Errorf("prompt lacks %q:\n%s", want, out)
		}
	}
}

func TestLoginDeviceExpiredAndDenied(t *testing.T) {
	fastDevicePolls(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()

	srv.DeviceNext("authorization_pending", "expired_token")
	_, err := Login(context.Background(), deviceConfig(srv))
	if !errors.Is(err, ErrDeviceCodeExpired) || !strings.Contains(err.Error(), "run the login again") {
		t.Errorf("expired_token: %v", err)
	}

	cfg := deviceConfig(srv)
	cfg.OnDeviceCode = func(da *oauth2.DeviceAuthResponse) {
		if err := srv.DenyDevice(da.UserCode); err != nil {
			t.Error(err)
		}
	}
	_, err = Login(context.Background(), cfg)
	var oe *OAuthError
	if !errors.As(err, &oe) || oe.Code != "access_denied" || !strings.Contains(err.Error(), "sign-in was denied") {
		t.Errorf("denied: %v", err)
	}
}

func TestLoginDeviceCodeExpiresWhilePolling(t *testing.T) {
	fastDevicePolls(t)
	srv := oauthtest.NewServer(oauthtest.Config{DeviceCodeTTL: 2 * time.Second, DeviceInterval: 1})
	defer srv.Close()
	cfg := deviceConfig(srv)
	// The device code lives 2 s by the server; with 10 ms "seconds" the
	// client gives up once its own clock passes the expiry.
	cfg.Clock = oauthtest.NewFakeClock(time.Now())
	fc := cfg.Clock.(*oauthtest.FakeClock)
	cfg.OnDeviceCode = func(*oauth2.DeviceAuthResponse) { fc.Advance(3 * time.Second) }
	_, err := Login(context.Background(), cfg)
	if !errors.Is(err, ErrDeviceCodeExpired) {
		t.Errorf("err = %v, want ErrDeviceCodeExpired", err)
	}
}

func TestLoginAutoChoosesDeviceWhenHeadless(t *testing.T) {
	fastDevicePolls(t)
	t.Setenv("BROWSER", "")
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	if browserLikely() {
		t.Skip("this system always has a browser")
	}
	srv := oauthtest.NewServer(oauthtest.Config{DeviceAutoApprovePolls: 1})
	defer srv.Close()
	var prompt bytes.Buffer
	cfg := &Config{
		OAuth2: &oauth2.Config{ClientID: srv.ClientID(), Scopes: []string{"openid"}},
		Issuer: srv.Issuer(),
		Prompt: &prompt,
	}
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if srv.Count("device_authorization") != 1 || srv.Count("authorize") != 0 {
		t.Errorf("device_authorization %d, authorize %d", srv.Count("device_authorization"), srv.Count("authorize"))
	}
	if !strings.Contains(prompt.String(), srv.VerificationURI()) {
		t.Errorf("prompt:\n%s", prompt.String())
	}
}

func TestLoginAutoWithBrowserUsesLoopback(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := deviceConfig(srv)
	cfg.LoginMode = LoginAuto
	cfg.Browser = b.open
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if srv.Count("device_authorization") != 0 || srv.Count("authorize") != 1 {
		t.Errorf("device_authorization %d, authorize %d", srv.Count("device_authorization"), srv.Count("authorize"))
	}
}

func TestLoginAutoFallsBackWhenDeviceRefused(t *testing.T) {
	t.Setenv("BROWSER", "")
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	if browserLikely() {
		t.Skip("this system always has a browser")
	}
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	cfg := deviceConfig(srv)
	cfg.LoginMode = LoginAuto
	cfg.OAuth2.ClientID = "unknown-client"    // the device endpoint refuses it
	cfg.LoginTimeout = 200 * time.Millisecond // the bound, if the URL never comes
	// The person never signs in: the login is abandoned once it has
	// printed the URL.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prompt := &cancelOnWrite{want: srv.AuthorizationEndpoint(), cancel: cancel}
	cfg.Prompt = prompt
	_, err := Login(ctx, cfg)
	if err == nil {
		t.Fatal("login succeeded")
	}
	if !strings.Contains(prompt.String(), srv.AuthorizationEndpoint()) {
		t.Errorf("the loopback flow did not print the URL:\n%s", prompt.String())
	}
}

// cancelOnWrite is a prompt that calls cancel once what was written to it
// holds want.
type cancelOnWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	want   string
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.cancel()
	}
	return n, err
}

func (w *cancelOnWrite) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestLoginDeviceWithoutEndpoint(t *testing.T) {
	cfg := &Config{
		OAuth2:    &oauth2.Config{ClientID: "c", Endpoint: oauth2.Endpoint{AuthURL: "https://a.example/auth", TokenURL: "https://a.example/token"}},
		LoginMode: LoginDevice,
	}
	_, err := Login(context.Background(), cfg)
	if !errors.Is(err, errNoDeviceEndpoint) {
		t.Errorf("err = %v", err)
	}
}

func TestParseDeviceAuthResponse(t *testing.T) {
	sent := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := `{"device_code":"d","user_code":"ABCD-EFGH","verification_uri":"https://a.example/device","expires_in":"900","interval":5}`
	da, err := parseDeviceAuthResponse(200, "application/json", []byte(ok), sent)
	if err != nil {
		t.Fatal(err)
	}
	if da.Expiry != sent.Add(900*time.Second) || da.Interval != 5 || da.UserCode != "ABCD-EFGH" {
		t.Errorf("got %+v", da)
	}
	google := `{"device_code":"d","user_code":"U","verification_url":"https://www.google.com/device","expires_in":1800}`
	if da, err := parseDeviceAuthResponse(200, "application/json", []byte(google), sent); err != nil || da.VerificationURI != "https://www.google.com/device" || da.Interval != 0 {
		t.Errorf("verification_url: %+v %v", da, err)
	}
	for name, body := range map[string]string{
		"html":         `<html>proxy</html>`,
		"missing":      `{"device_code":"d"}`,
		"javascript":   `{"device_code":"d","user_code":"U","verification_uri":"javascript:alert(1)"}`,
		"control":      `{"device_code":"d","user_code":"U\u001b[2J","verification_uri":"https://a.example/device"}`,
		"control uri":  `{"device_code":"d","user_code":"U","verification_uri":"https://a.example/\u001b[2J"}`,
		"oauth error":  `{"error":"unauthorized_client"}`,
		"status error": `{}`,
	} {
		status := 200
		if name == "oauth error" || name == "status error" {
			status = 400
		}
		_, err := parseDeviceAuthResponse(status, "application/json", []byte(body), sent)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), `"d"`) {
			t.Errorf("%s: error shows the device code: %v", name, err)
		}
	}
	var oe *OAuthError
	if _, err := parseDeviceAuthResponse(400, "application/json", []byte(`{"error":"unauthorized_client"}`), sent); !errors.As(err, &oe) || oe.Endpoint != "device_authorization" {
		t.Errorf("oauth error: %v", err)
	}
}

func TestLoginModeStrings(t *testing.T) {
	for _, m := range []LoginMode{LoginAuto, LoginBrowser, LoginDevice} {
		got, err := ParseLoginMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseLoginMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseLoginMode("carrier-pigeon"); err == nil {
		t.Error("no error for an unknown mode")
	}
}

// The device flow's polls go through the shared token request: a
// confidential client authenticates on both requests.
func TestLoginDeviceConfidentialClient(t *testing.T) {
	fastDevicePolls(t)
	srv := oauthtest.NewServer(oauthtest.Config{DeviceAutoApprovePolls: 1, Clients: []oauthtest.Client{{ID: "conf", Secret: "s3cret"}}})
	defer srv.Close()
	cfg := deviceConfig(srv)
	cfg.OAuth2.ClientSecret = "s3cret"
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Requests() {
		if r.Status != http.StatusOK {
			t.Errorf("%s answered %d %s", r.Endpoint, r.Status, r.Error)
		}
	}
}
