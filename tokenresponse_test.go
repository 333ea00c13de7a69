package authloop

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop/oautherr"
)

var sentAt = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func jsonHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}}
}

func TestParseTokenResponseSuccess(t *testing.T) {
	body := `{"access_token":"AT","token_type":"bearer","expires_in":3600,"refresh_token":"RT","scope":"read write","id_token":"x.y.z"}`
	tok, err := parseTokenResponse(200, jsonHeader(), []byte(body), sentAt, keepFields{scope: "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "AT" || tok.RefreshToken != "RT" {
		t.Fatalf("tokens not kept: %q %q", tok.AccessToken, tok.RefreshToken)
	}
	if tok.TokenType != "Bearer" {
		t.Errorf("lowercase token_type not normalised: %q", tok.TokenType)
	}
	if want := sentAt.Add(time.Hour); !tok.Expiry.Equal(want) {
		t.Errorf("expiry %v, want %v (counted from the moment the request was sent)", tok.Expiry, want)
	}
	if tok.Extra("scope") != "read write" || tok.Extra("id_token") != "x.y.z" {
		t.Errorf("raw fields lost: scope=%v id_token=%v", tok.Extra("scope"), tok.Extra("id_token"))
	}
	if tok.Extra("access_token") != nil || tok.Extra("refresh_token") != nil {
		t.Error("tokens duplicated into Extra")
	}
}

func TestParseTokenResponseExpiresInForms(t *testing.T) {
	cases := []struct {
		name, field string
		want        time.Duration // 0: unknown lifetime
	}{
		{"number", `3600`, time.Hour},
		{"string", `"3600"`, time.Hour},
		{"float", `59.9`, 59 * time.Second},
		{"under a second", `0.01`, time.Second}, // all but expired, never "no expiry"
		{"absent", ``, 0},
		{"zero", `0`, 0},
		{"negative", `-5`, 0},
		{"garbage", `"soon"`, 0},
		{"null", `null`, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := `{"access_token":"AT","token_type":"Bearer"`
			if c.field != "" {
				body += `,"expires_in":` + c.field
			}
			body += `}`
			tok, err := parseTokenResponse(200, jsonHeader(), []byte(body), sentAt, keepFields{})
			if err != nil {
				t.Fatal(err)
			}
			if c.want == 0 {
				if !tok.Expiry.IsZero() {
					t.Fatalf("expiry %v, want unknown (zero)", tok.Expiry)
				}
				return
			}
			if got := tok.Expiry.Sub(sentAt); got != c.want {
				t.Fatalf("lifetime %v, want %v", got, c.want)
			}
		})
	}
}

func TestParseTokenResponseScopeDefault(t *testing.T) {
	tok, err := parseTokenResponse(200, jsonHeader(), []byte(`{"access_token":"AT","token_type":"Bearer"}`), sentAt, keepFields{scope: "openid read"})
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Extra("scope"); got != "openid read" {
		t.Fatalf("absent scope recorded as %v, want the requested one", got)
	}
}

func TestParseTokenResponseRefreshExpiry(t *testing.T) {
	for _, field := range []string{"refresh_token_expires_in", "refresh_expires_in"} {
		body := `{"access_token":"AT","token_type":"Bearer","refresh_token":"RT","` + field + `":"7200"}`
		tok, err := parseTokenResponse(200, jsonHeader(), []byte(body), sentAt, keepFields{})
		if err != nil {
			t.Fatal(err)
		}
		got, ok := tok.Extra(RefreshExpiryKey).(time.Time)
		if !ok || !got.Equal(sentAt.Add(2*time.Hour)) {
			t.Fatalf("%s: refresh expiry %v, want %v", field, tok.Extra(RefreshExpiryKey), sentAt.Add(2*time.Hour))
		}
	}
}

func TestParseTokenResponseErrors(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantCode    string // OAuth error code, or "" for *TokenResponseError
		wantText    string
	}{
		{"invalid_grant", 400, "application/json", `{"error":"invalid_grant","error_description":"expired"}`, "invalid_grant", "expired"},
		{"error with HTTP 200 (GitHub)", 200, "application/json", `{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}`, "bad_verification_code", "incorrect"},
		{"HTML 502 from a proxy", 502, "text/html", `<html><body><h1>502 Bad Gateway</h1></body></html>`, "", "HTML page"},
		{"malformed JSON", 200, "application/json", `{"access_token":`, "", "not a JSON object"},
		{"empty body", 503, "", ``, "", "empty"},
		{"success without access token", 200, "application/json", `{"token_type":"Bearer"}`, "", "without an access_token"},
		{"error status without code", 500, "application/json", `{"message":"boom"}`, "", "without an OAuth error code"},
		{"JSON null", 200, "application/json", `null`, "", "not a JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {c.contentType}, "Retry-After": {"7"}}
			_, err := parseTokenResponse(c.status, h, []byte(c.body), sentAt, keepFields{})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.wantText) {
				t.Errorf("error %q does not mention %q", err, c.wantText)
			}
			var oe *oautherr.Error
			var te *TokenResponseError
			switch {
			case c.wantCode != "":
				if !errors.As(err, &oe) || oe.Code != c.wantCode || oe.StatusCode != c.status {
					t.Fatalf("got %#v, want *OAuthError %q with status %d", err, c.wantCode, c.status)
				}
			default:
				if !errors.As(err, &te) || te.StatusCode != c.status {
					t.Fatalf("got %#v, want *TokenResponseError with status %d", err, c.status)
				}
				if c.status >= 500 && te.RetryAfter != "7" {
					t.Errorf("Retry-After lost: %q", te.RetryAfter)
				}
			}
		})
	}
}

// The error never repeats the body: a broken server may echo the request,
// refresh token included.
func TestParseTokenResponseErrorDoesNotQuoteBody(t *testing.T) {
	body := `<html>refresh_token=SECRET-RT-123</html>`
	_, err := parseTokenResponse(502, http.Header{"Content-Type": {"text/html"}}, []byte(body), sentAt, keepFields{})
	if err == nil || strings.Contains(err.Error(), "SECRET-RT-123") {
		t.Fatalf("error leaks the body: %v", err)
	}
}

func FuzzParseTokenResponse(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"access_token":"a","token_type":"Bearer","expires_in":"60","refresh_token":"r","refresh_expires_in":10}`))
	f.Add(400, "application/json", []byte(`{"error":"invalid_grant"}`))
	f.Add(200, "application/json", []byte(`{"error":"slow_down"}`))
	f.Add(502, "text/html", []byte(`<!DOCTYPE html><title>bad gateway</title>`))
	f.Add(200, "application/json", []byte(`{"access_token":"a","expires_in":1e309}`))
	f.Add(200, "", []byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		tok, err := parseTokenResponse(status, http.Header{"Content-Type": {contentType}}, body, sentAt, keepFields{scope: "s"})
		if (tok == nil) == (err == nil) {
			t.Fatalf("want exactly one of token and error, got %v and %v", tok, err)
		}
		if err != nil {
			return
		}
		if tok.AccessToken == "" {
			t.Fatal("token without access token")
		}
		if status < 200 || status > 299 {
			t.Fatalf("token from HTTP %d", status)
		}
		if !tok.Expiry.IsZero() && !tok.Expiry.After(sentAt) {
			t.Fatalf("expiry %v not after the request", tok.Expiry)
		}
	})
}
