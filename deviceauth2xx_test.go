package authloop

import (
	"errors"
	"strings"
	"testing"
)

// The device authorization endpoint's answer is read as the token
// endpoint's is (TestParseTokenResponseAny2xxIsSuccess): every 2xx status
// with a complete answer is a success, 299 included, and 300 is an error
// status. (docs/TESTING.md listed device.go:171's `status > 299` into
// `>= 299` as equivalent; this test tells them apart.)
func TestParseDeviceAuthResponseAny2xxIsSuccess(t *testing.T) {
	body := []byte(`{"device_code":"DC","user_code":"ABCD-EFGH","verification_uri":"https://as.example/device"}`)
	for _, status := range []int{200, 201, 299} {
		if da, err := parseDeviceAuthResponse(status, "application/json", body, sentAt); err != nil || da.DeviceCode != "DC" {
			t.Errorf("HTTP %d with a complete answer: %+v, %v; want the answer", status, da, err)
		}
	}
	var te *TokenResponseError
	_, err := parseDeviceAuthResponse(300, "application/json", body, sentAt)
	if !errors.As(err, &te) {
		t.Fatalf("HTTP 300 with a complete answer: %v; want a *TokenResponseError", err)
	}
	// The message names the endpoint that answered, not the token
	// endpoint.
	if !strings.Contains(err.Error(), "device authorization endpoint answered HTTP 300") {
		t.Errorf("the error %q does not name the device authorization endpoint", err)
	}
}
