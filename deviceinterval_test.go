package authloop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// The device flow waits the interval the server names before each poll,
// or 5 seconds when it names none (RFC 8628 §3.2, §3.5), never less: when
// the device code expires before the first poll is allowed, the sign-in
// ends with ErrDeviceCodeExpired and no poll is sent (the server would
// have approved the first one).
func TestDevicePollWaitsTheInterval(t *testing.T) {
	for _, c := range []struct {
		name     string
		interval int // seconds; negative: none named
		ttl      time.Duration
	}{
		{"no interval named: 5 s", -1, 3 * time.Second},
		{"interval 10 s", 10, 8 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := oauthtest.NewFakeClock(epoch)
			srv := oauthtest.NewServer(oauthtest.Config{Clock: clock, DeviceInterval: c.interval, DeviceCodeTTL: c.ttl, DeviceAutoApprovePolls: 1})
			defer srv.Close()
			cfg := deviceConfig(srv)
			cfg.Clock = clock
			_, err := Login(context.Background(), cfg)
			if !errors.Is(err, ErrDeviceCodeExpired) {
				t.Fatalf("Login: %v, want ErrDeviceCodeExpired", err)
			}
			if n := srv.Count("token"); n != 0 {
				t.Fatalf("%d polls before the interval passed", n)
			}
		})
	}
}

// A device flow whose polls fail on the network (no answer at all) gives
// up after maxDeviceNetFailures in a row, saying so, instead of polling
// until the code expires.
func TestDevicePollGivesUpAfterNetworkFailures(t *testing.T) {
	fastDevicePolls(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	srv.FailNext(2*maxDeviceNetFailures, oauthtest.Fault{Kind: oauthtest.FaultReset})
	_, err := Login(context.Background(), deviceConfig(srv))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("failed %d times in a row", maxDeviceNetFailures)) {
		t.Fatalf("Login: %v, want it to give up after %d failed polls", err, maxDeviceNetFailures)
	}
	var times []time.Time
	for _, r := range srv.Requests() {
		if r.Endpoint == "token" {
			times = append(times, r.Time)
		}
	}
	if len(times) != maxDeviceNetFailures {
		t.Fatalf("%d polls, want %d", len(times), maxDeviceNetFailures)
	}
	// RFC 8628 §3.5: the interval (1 unit here) doubles after each
	// failure; a lower bound only, as timers never fire early.
	for i := 1; i < len(times); i++ {
		if gap, want := times[i].Sub(times[i-1]), devicePollUnit<<i; gap < want {
			t.Errorf("poll %d came %v after the previous, want >= %v", i+1, gap, want)
		}
	}
}

// A device authorization request without scopes sends no scope parameter
// (an empty one is no valid scope, RFC 6749 §3.3).
func TestDeviceAuthorizationWithoutScopesSendsNone(t *testing.T) {
	fastDevicePolls(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	cfg := deviceConfig(srv)
	cfg.OAuth2.Scopes = nil
	var browsing sync.WaitGroup
	defer browsing.Wait()
	cfg.OnDeviceCode = approveWithBrowse(&browsing)
	var mu sync.Mutex
	var forms []url.Values
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/device_authorization" && r.Body != nil {
			body, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				return nil, err
			}
			form, _ := url.ParseQuery(string(body))
			mu.Lock()
			forms = append(forms, form)
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(forms) != 1 {
		t.Fatalf("%d device authorization requests, want 1", len(forms))
	}
	if sc, ok := forms[0]["scope"]; ok {
		t.Fatalf("scope %q sent, want none", sc)
	}
}

// A device authorization response of exactly maxTokenResponse bytes is
// read; only a larger one is refused.
func TestDeviceAuthResponseOfMaxSizeAccepted(t *testing.T) {
	j := `{"device_code":"d","user_code":"U","verification_uri":"https://as.example/device","expires_in":600}`
	body := []byte(j + strings.Repeat(" ", maxTokenResponse-len(j)))
	if _, err := parseDeviceAuthResponse(200, "application/json", body, epoch); err != nil {
		t.Fatalf("a response of %d bytes: %v", len(body), err)
	}
	if _, err := parseDeviceAuthResponse(200, "application/json", append(body, ' '), epoch); err == nil {
		t.Fatal("a response over the limit was read")
	}
}

// A device authorization response whose expires_in is 0 (or absent)
// gives the code no expiry: the flow polls until the server answers
// expired_token, rather than calling a code expired the moment it came.
func TestDeviceAuthResponseZeroExpiresInMeansNoExpiry(t *testing.T) {
	for _, j := range []string{
		`{"device_code":"d","user_code":"U","verification_uri":"https://as.example/device","expires_in":0}`,
		`{"device_code":"d","user_code":"U","verification_uri":"https://as.example/device"}`,
	} {
		da, err := parseDeviceAuthResponse(200, "application/json", []byte(j), epoch)
		if err != nil || !da.Expiry.IsZero() {
			t.Errorf("%s: expiry %v (%v), want none", j, da.Expiry, err)
		}
	}
}

// A user code with a control character (C0, DEL or C1: U+0080 to U+009F)
// is refused, as it would reach the person's terminal; any other
// character, such as a non-breaking space or a letter outside ASCII, is
// shown as it is.
func TestDeviceUserCodeControlCharacters(t *testing.T) {
	for _, c := range []struct {
		code string
		ok   bool
	}{
		{"ABCD-EFGH", true},
		{"ÁRVÍZ-TŰRŐ", true},
		{"ABCD\u00a0EFGH", true},
		{"ABCD\u00ffEFGH", true},
		{"ABCD\x1bEFGH", false},
		{"ABCD\x7fEFGH", false},
		{"ABCD\u0080EFGH", false},
		{"ABCD\u009bEFGH", false},
		{"ABCD\u009fEFGH", false},
	} {
		j, _ := json.Marshal(map[string]any{"device_code": "d", "user_code": c.code, "verification_uri": "https://as.example/device"})
		_, err := parseDeviceAuthResponse(200, "application/json", j, epoch)
		if (err == nil) != c.ok {
			t.Errorf("user code %q: %v, want accepted %v", c.code, err, c.ok)
		}
	}
}
