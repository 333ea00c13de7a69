package authloop

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzParseDeviceAuthResponse feeds arbitrary device authorization
// responses (RFC 8628 §3.2) to the parser: it never panics, returns exactly
// one of a response and an error, accepts only complete responses with
// http(s) verification URIs, never lets a control character reach the
// terminal through what printDeviceCode writes, and its errors never quote
// the device code.
func FuzzParseDeviceAuthResponse(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"device_code":"dev-code-1234","user_code":"ABCD-EFGH","verification_uri":"https://a.example/device","verification_uri_complete":"https://a.example/device?user_code=ABCD-EFGH","expires_in":"900","interval":5}`))
	f.Add(200, "application/json", []byte(`{"device_code":"d","user_code":"U","verification_url":"https://www.google.com/device","expires_in":1800}`))
	f.Add(200, "application/json", []byte(`{"device_code":"d","user_code":"U\u001b[2J","verification_uri":"https://a.example/device"}`))
	f.Add(200, "application/json", []byte(`{"device_code":"d","user_code":"U","verification_uri":"javascript:alert(1)"}`))
	f.Add(200, "application/json", []byte(`{"device_code":"d","user_code":"U","verification_uri":"https://a.example/","interval":1e30,"expires_in":-5}`))
	f.Add(400, "application/json", []byte(`{"error":"unauthorized_client","error_description":"dev-code-1234"}`))
	f.Add(502, "text/html", []byte(`<html>device_code=dev-code-1234</html>`))
	f.Add(200, "", []byte(`null`))
	sent := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		da, err := parseDeviceAuthResponse(status, contentType, body, sent)
		if (da == nil) == (err == nil) {
			t.Fatalf("want exactly one of response and error, got %v and %v", da, err)
		}
		if err != nil {
			// The device code must not be repeated by an error, unless the
			// server put it in its own OAuth error fields.
			var j deviceAuthJSON
			if json.Unmarshal(body, &j) == nil && len(j.DeviceCode) >= 8 {
				var oe *OAuthError
				own := errors.As(err, &oe) && strings.Contains(oe.Code+oe.Description+oe.URI, j.DeviceCode)
				if !own && strings.Contains(err.Error(), j.DeviceCode) {
					t.Fatalf("error quotes the device code: %v", err)
				}
			}
			return
		}
		if status < 200 || status > 299 {
			t.Fatalf("response accepted from HTTP %d", status)
		}
		if da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
			t.Fatalf("incomplete response accepted: %+v", da)
		}
		for _, u := range []string{da.VerificationURI, da.VerificationURIComplete} {
			if u == "" {
				continue
			}
			pu, err := url.Parse(u)
			if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") {
				t.Fatalf("verification URI %q accepted", u)
			}
		}
		if da.Interval < 0 || da.Interval > maxDeviceInterval {
			t.Fatalf("interval %d out of range", da.Interval)
		}
		if !da.Expiry.IsZero() && !da.Expiry.After(sent) {
			t.Fatalf("expiry %v not after the request", da.Expiry)
		}
		var out bytes.Buffer
		printDeviceCode(&out, da)
		if hasControl(strings.ReplaceAll(out.String(), "\n", "")) {
			t.Fatalf("control character printed to the terminal: %q", out.String())
		}
		if len(da.DeviceCode) >= 8 && strings.Contains(out.String(), da.DeviceCode) && !strings.Contains(da.UserCode+da.VerificationURI+da.VerificationURIComplete, da.DeviceCode) {
			t.Fatalf("device code printed: %q", out.String())
		}
	})
}
