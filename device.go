// The device authorization grant (RFC 8628): the device code request, the
// user code shown to the person, and the polling, with slow_down and
// backoff after network errors.

package authloop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oautherr"
)

// ErrDeviceCodeExpired reports that the device code of a device
// authorization grant expired (expired_token, or its expires_in passed)
// before the person approved it. Running the login again starts anew.
var ErrDeviceCodeExpired = errors.New("authloop: the device code expired before the sign-in was approved; run the login again")

// deviceGrantType is the grant_type of the device access token request
// (RFC 8628 §3.4).
const deviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// devicePollUnit is one second of a polling interval; tests shorten it.
var devicePollUnit = time.Second

// Defaults of RFC 8628 §3.2 and §3.5.
const (
	defaultDeviceInterval = 5  // seconds, when the server names none
	slowDownStep          = 5  // seconds added by each slow_down
	maxDeviceInterval     = 60 // seconds: the cap of the back-off after network errors
	maxDeviceNetFailures  = 5  // consecutive failed polls before giving up
)

// deviceLogin runs the device authorization grant (RFC 8628): it asks for
// a device code and a user code, shows them (Config.OnDeviceCode, or
// Config.Prompt), and polls the token endpoint at the interval the server
// asked for until the person approves, refuses or the code expires.
func (c *Config) deviceLogin(ctx context.Context, endpoint string) (*oauth2.Token, error) {
	log := c.logger()
	da, err := c.deviceAuthorize(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	log.Debug("authloop: device authorization started", "verification_uri", da.VerificationURI, "expiry", da.Expiry, "interval", da.Interval)
	if c.OnDeviceCode != nil {
		c.OnDeviceCode(da)
	} else {
		printDeviceCode(c.prompt(), da)
	}

	if c.LoginTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.LoginTimeout)
		defer cancel()
	}
	interval := da.Interval
	if interval <= 0 {
		interval = defaultDeviceInterval
	}
	form := url.Values{
		"grant_type":  {deviceGrantType},
		"device_code": {da.DeviceCode},
	}
	if c.Resource != "" {
		form.Set("resource", c.Resource)
	}
	keep := keepFields{scope: strings.Join(c.OAuth2.Scopes, " ")}
	failures := 0
	for {
		wait := time.Duration(interval) * devicePollUnit
		if !da.Expiry.IsZero() && c.now().Add(wait).After(da.Expiry.Add(devicePollUnit)) {
			return nil, ErrDeviceCodeExpired
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("authloop: waiting for the device sign-in to be approved: %w", ctx.Err())
		case <-t.C:
		}
		// Answered even if ctx ends meanwhile: an approved device code is
		// spent by this request, its answer holds the new grant.
		pollCtx, cancel := answeredContext(ctx, exchangeTimeout)
		tok, err := c.tokenRequest(pollCtx, form, keep)
		cancel()
		if err == nil {
			log.Debug("authloop: device login complete", "expiry", tok.Expiry, "refresh_token", tok.RefreshToken != "")
			return tok, nil
		}
		var oe *oautherr.Error
		switch {
		case errors.As(err, &oe) && oe.Code == "authorization_pending":
			failures = 0
		case errors.As(err, &oe) && oe.Code == "slow_down":
			failures = 0
			interval += slowDownStep
			log.Debug("authloop: device polling slowed down", "interval", interval)
		case errors.As(err, &oe) && oe.Code == "expired_token":
			return nil, fmt.Errorf("%w (%w)", ErrDeviceCodeExpired, err)
		case errors.As(err, &oe) && oe.Code == "access_denied":
			return nil, fmt.Errorf("authloop: the device sign-in was denied: %w", err)
		case errors.As(err, &oe):
			return nil, fmt.Errorf("authloop: the device sign-in failed: %w", err)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("authloop: waiting for the device sign-in to be approved: %w", ctx.Err())
		default:
			// RFC 8628 §3.5: back off exponentially on a network problem.
			failures++
			if failures >= maxDeviceNetFailures {
				return nil, fmt.Errorf("authloop: polling for the device sign-in failed %d times in a row: %w", failures, err)
			}
			interval = min(interval*2, maxDeviceInterval)
			log.Debug("authloop: device poll failed; backing off", "interval", interval, "error", err.Error())
		}
	}
}

// deviceAuthorize sends the device authorization request (RFC 8628 §3.1)
// with the client's authentication, scope and resource (RFC 8707).
func (c *Config) deviceAuthorize(ctx context.Context, endpoint string) (*oauth2.DeviceAuthResponse, error) {
	oc := c.OAuth2
	form := url.Values{}
	if len(oc.Scopes) > 0 {
		form.Set("scope", strings.Join(oc.Scopes, " "))
	}
	if c.Resource != "" {
		form.Set("resource", c.Resource)
	}
	resp, body, sent, err := c.clientPost(ctx, "device authorization", endpoint, form)
	if err != nil {
		return nil, err
	}
	return parseDeviceAuthResponse(resp.StatusCode, resp.Header.Get("Content-Type"), body, sent)
}

// deviceAuthJSON is the device authorization response (RFC 8628 §3.2).
type deviceAuthJSON struct {
	DeviceCode              string      `json:"device_code"`
	UserCode                string      `json:"user_code"`
	VerificationURI         string      `json:"verification_uri"`
	VerificationURL         string      `json:"verification_url"` // Google's spelling
	VerificationURIComplete string      `json:"verification_uri_complete"`
	ExpiresIn               json.Number `json:"expires_in"`
	Interval                json.Number `json:"interval"`
	Error                   string      `json:"error"`
	ErrorDescription        string      `json:"error_description"`
	ErrorURI                string      `json:"error_uri"`
}

// parseDeviceAuthResponse checks and reads a device authorization response.
// Its errors never hold the body (it carries the device code).
func parseDeviceAuthResponse(status int, contentType string, body []byte, sent time.Time) (*oauth2.DeviceAuthResponse, error) {
	if len(body) > maxTokenResponse {
		return nil, &TokenResponseError{Endpoint: "device authorization", StatusCode: status, ContentType: contentType, Problem: fmt.Sprintf("the device authorization response is larger than %d bytes", maxTokenResponse)}
	}
	var j deviceAuthJSON
	if err := json.Unmarshal(body, &j); err != nil {
		return nil, &TokenResponseError{Endpoint: "device authorization", StatusCode: status, ContentType: contentType, Problem: "the device authorization response is not a JSON object (" + describeBody(contentType, body) + ")"}
	}
	if j.Error != "" {
		return nil, &oautherr.Error{Code: j.Error, Description: j.ErrorDescription, URI: j.ErrorURI, StatusCode: status, Endpoint: "device_authorization"}
	}
	if status < 200 || status > 299 {
		return nil, &TokenResponseError{Endpoint: "device authorization", StatusCode: status, ContentType: contentType, Problem: "the device authorization endpoint answered an error status without an OAuth error code"}
	}
	if j.VerificationURI == "" {
		j.VerificationURI = j.VerificationURL
	}
	if j.DeviceCode == "" || j.UserCode == "" || j.VerificationURI == "" {
		return nil, &TokenResponseError{Endpoint: "device authorization", StatusCode: status, ContentType: contentType, Problem: "the device authorization response lacks device_code, user_code or verification_uri"}
	}
	for _, u := range []string{j.VerificationURI, j.VerificationURIComplete} {
		if u == "" {
			continue
		}
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || hasControl(u) {
			return nil, &TokenResponseError{Endpoint: "device authorization", StatusCode: status, ContentType: contentType, Problem: "the device authorization response names a verification URI that is not an http(s) URL"}
		}
	}
	if hasControl(j.UserCode) {
		return nil, &TokenResponseError{Endpoint: "device authorization", StatusCode: status, ContentType: contentType, Problem: "the user_code holds control characters"}
	}
	da := &oauth2.DeviceAuthResponse{
		DeviceCode:              j.DeviceCode,
		UserCode:                j.UserCode,
		VerificationURI:         j.VerificationURI,
		VerificationURIComplete: j.VerificationURIComplete,
	}
	if n, err := j.ExpiresIn.Int64(); err == nil && n > 0 {
		da.Expiry = sent.Round(0).Add(time.Duration(n) * time.Second)
	}
	if n, err := j.Interval.Int64(); err == nil && n > 0 {
		da.Interval = min(n, maxDeviceInterval)
	}
	return da, nil
}

// hasControl reports whether s holds a control character, which must not
// reach the person's terminal from the server.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

// printDeviceCode shows the person where to go and which code to check.
func printDeviceCode(w io.Writer, da *oauth2.DeviceAuthResponse) {
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(w, "To sign in, open this URL on any device with a browser:\n\n%s\n\nand check that it shows this code:\n\n    %s\n\n(or open %s and enter the code)\n\n",
			da.VerificationURIComplete, da.UserCode, da.VerificationURI)
		return
	}
	fmt.Fprintf(w, "To sign in, open this URL on any device with a browser:\n\n%s\n\nand enter this code:\n\n    %s\n\n", da.VerificationURI, da.UserCode)
}
