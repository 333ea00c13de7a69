package authloop

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oauthtest"
)

// A confidential client configured with only an issuer (AuthStyle left to
// auto-detect) authenticates as the discovered metadata says: a server
// that lists only client_secret_post gets the secret in the form, at the
// first try (never a probe that would spend the code).
func TestDiscoveredAuthMethodIsUsed(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	srv.AddClient(oauthtest.Client{ID: "conf", Secret: "s3cr3t", AuthMethod: "client_secret_post"})
	b := &approvingBrowser{}
	defer b.wg.Wait()
	cfg := &Config{
		OAuth2:       &oauth2.Config{ClientID: "conf", ClientSecret: "s3cr3t", Scopes: []string{"openid"}},
		Issuer:       srv.Issuer(),
		Browser:      b.open,
		Prompt:       io.Discard,
		HTTPClient:   &http.Client{Transport: onlyPostMetadata{}},
		LoginTimeout: time.Minute,
	}
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("token"); n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
}

// onlyPostMetadata rewrites an authorization server's metadata to list
// client_secret_post as the only client authentication method.
type onlyPostMetadata struct{}

func (onlyPostMetadata) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !strings.HasPrefix(r.URL.Path, "/.well-known/") || resp.StatusCode != 200 {
		return resp, err
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, err
	}
	m["token_endpoint_auth_methods_supported"] = []string{"client_secret_post"}
	body, _ := json.Marshal(m)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// A device authorization endpoint set in the configuration is used even
// when the issuer's metadata names another (a gateway in front of it).
func TestConfiguredDeviceEndpointWinsOverDiscovery(t *testing.T) {
	fastDevicePolls(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	var browsing sync.WaitGroup
	defer browsing.Wait()
	configured := srv.DeviceAuthorizationEndpoint() + "?via=configured"
	var mu sync.Mutex
	var hits []string
	cfg := &Config{
		OAuth2:       &oauth2.Config{ClientID: srv.ClientID(), Endpoint: oauth2.Endpoint{DeviceAuthURL: configured}, Scopes: []string{"openid"}},
		Issuer:       srv.Issuer(),
		LoginMode:    LoginDevice,
		Prompt:       io.Discard,
		OnDeviceCode: approveWithBrowse(&browsing),
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if strings.HasSuffix(r.URL.Path, "/device_authorization") {
				mu.Lock()
				hits = append(hits, r.URL.String())
				mu.Unlock()
			}
			return http.DefaultTransport.RoundTrip(r)
		})},
		LoginTimeout: time.Minute,
	}
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hits) != 1 || hits[0] != configured {
		t.Fatalf("device authorization requests %v, want one to %s", hits, configured)
	}
}

// With the endpoints configured but not the device endpoint, a device
// sign-in looks for it in the issuer's metadata; when that fetch fails,
// the error says what was being looked for, and where.
func TestDeviceEndpointLookupFailureNamesIt(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	nowhere := httptest.NewServer(http.NotFoundHandler())
	defer nowhere.Close()
	cfg := deviceConfig(srv)
	cfg.OAuth2.Endpoint.DeviceAuthURL = ""
	cfg.Issuer = nowhere.URL
	_, err := Login(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "finding the device authorization endpoint of issuer") || !strings.Contains(err.Error(), nowhere.URL) {
		t.Fatalf("Login: %v, want an error naming the device endpoint's lookup and the issuer", err)
	}
}
