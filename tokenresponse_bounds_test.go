package authloop

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// Any 2xx answer with an access token is a success, 299 as well as 200;
// 300 is not.
func TestParseTokenResponseAny2xxIsSuccess(t *testing.T) {
	body := []byte(`{"access_token":"AT","token_type":"Bearer","expires_in":3600}`)
	for _, status := range []int{200, 201, 299} {
		if tok, err := parseTokenResponse(status, jsonHeader(), body, sentAt, keepFields{}); err != nil || tok.AccessToken != "AT" {
			t.Errorf("HTTP %d with a token: %v, %v; want the token", status, tok, err)
		}
	}
	var te *TokenResponseError
	if _, err := parseTokenResponse(300, jsonHeader(), body, sentAt, keepFields{}); !errors.As(err, &te) {
		t.Errorf("HTTP 300 with a token: %v; want a *TokenResponseError", err)
	}
}

// jwtWithPayload is a JWT-shaped token whose payload segment is the
// base64url form of payload.
func jwtWithPayload(payload string) string {
	return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
}

// Without expires_in, a JWT access token's exp gives both the expiry and
// the lifetime (ExpiresIn, in seconds), which caps the refresh buffer of a
// short-lived token.
func TestParseTokenResponseJWTExpGivesLifetime(t *testing.T) {
	at := jwtWithPayload(`{"exp":` + strconv.FormatInt(sentAt.Add(10*time.Minute).Unix(), 10) + `}`)
	tok, err := parseTokenResponse(200, jsonHeader(), []byte(`{"access_token":"`+at+`","token_type":"Bearer"}`), sentAt, keepFields{})
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Expiry.Equal(sentAt.Add(10*time.Minute)) || tok.ExpiresIn != 600 {
		t.Fatalf("expiry %v, expires_in %d; want %v and 600", tok.Expiry, tok.ExpiresIn, sentAt.Add(10*time.Minute))
	}
}

// A JWT's exp is read from a payload of up to 8192 characters; a longer
// payload is not decoded (the hint is not worth the work).
func TestJWTExpiryPayloadBound(t *testing.T) {
	exp := sentAt.Add(time.Hour).Unix()
	head := `{"exp":` + strconv.FormatInt(exp, 10) + `,"pad":"`
	// 6144 bytes of JSON encode to exactly 8192 base64url characters.
	payload := head + strings.Repeat("x", 6144-len(head)-2) + `"}`
	tok := jwtWithPayload(payload)
	if n := len(strings.Split(tok, ".")[1]); n != 8192 {
		t.Fatalf("payload segment of %d characters, want 8192", n)
	}
	if got, ok := jwtExpiry(tok); !ok || got.Unix() != exp {
		t.Fatalf("8192 characters: %v, %v; want the exp read", got, ok)
	}
	longer := jwtWithPayload(head + strings.Repeat("x", 6147-len(head)-2) + `"}`)
	if _, ok := jwtExpiry(longer); ok {
		t.Fatal("a payload over 8192 characters was decoded")
	}
}

// At a server that does not rotate, the refresh token's announced expiry
// outlives the refreshes that leave the token as it was: past it, the
// session asks for a login without sending the dead token.
func TestRefreshExpiryKeptAcrossNonRotatingRefresh(t *testing.T) {
	f := newFixture(t, oauthtest.Config{DisableRotation: true, RefreshTokenTTL: 3 * time.Hour, RefreshTokenExpiresInField: "refresh_expires_in"}, true)
	s := f.session()
	f.clock.Jump(2 * time.Hour)
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != f.tok.RefreshToken {
		t.Fatal("the refresh token changed at a server that does not rotate")
	}
	f.clock.Jump(2 * time.Hour) // past the refresh token's expiry
	if _, err := s.Token(context.Background()); !errors.Is(err, ErrLoginRequired) || !strings.Contains(err.Error(), "refresh token expired") {
		t.Fatalf("got %v, want ErrLoginRequired saying the refresh token expired", err)
	}
	if n := f.refreshes(); n != 1 {
		t.Fatalf("%d refresh requests, want 1 (none with the expired refresh token)", n)
	}
}

// A JWT exp up to 1e11 (the year 5138) is a date; beyond, it is garbage,
// and the token's lifetime stays unknown, as without exp.
func TestParseTokenResponseJWTExpBound(t *testing.T) {
	for _, c := range []struct {
		exp  string
		read bool
	}{{"100000000000", true}, {"100000000001", false}} {
		at := jwtWithPayload(`{"exp":` + c.exp + `}`)
		tok, err := parseTokenResponse(200, jsonHeader(), []byte(`{"access_token":"`+at+`","token_type":"Bearer"}`), sentAt, keepFields{})
		if err != nil {
			t.Fatal(err)
		}
		if read := !tok.Expiry.IsZero(); read != c.read {
			t.Errorf("exp %s: expiry %v, want read %v", c.exp, tok.Expiry, c.read)
		}
	}
}

// An expires_in up to ten years is a lifetime (long-lived tokens of a
// month or a year are common); beyond ten years it is garbage, and the
// lifetime stays unknown.
func TestParseTokenResponseLongLifetimes(t *testing.T) {
	const tenYears = 10 * 365 * 24 * time.Hour
	for _, c := range []struct {
		secs int64
		want time.Duration // 0: unknown
	}{
		{30 * 24 * 3600, 30 * 24 * time.Hour},
		{365 * 24 * 3600, 365 * 24 * time.Hour},
		{int64(tenYears / time.Second), tenYears},
		{int64(tenYears/time.Second) + 1, 0},
	} {
		body := `{"access_token":"AT","token_type":"Bearer","expires_in":` + strconv.FormatInt(c.secs, 10) + `}`
		tok, err := parseTokenResponse(200, jsonHeader(), []byte(body), sentAt, keepFields{})
		if err != nil {
			t.Fatal(err)
		}
		if c.want == 0 {
			if !tok.Expiry.IsZero() {
				t.Errorf("expires_in %d: expiry %v, want unknown", c.secs, tok.Expiry)
			}
		} else if got := tok.Expiry.Sub(sentAt); got != c.want {
			t.Errorf("expires_in %d: lifetime %v, want %v", c.secs, got, c.want)
		}
	}
}

// The error for a body that is not JSON says what it looked like without
// quoting it: an HTML page when the Content-Type says so (whatever the
// page begins with), else its size and type ("unknown type" without
// a Content-Type).
func TestParseTokenResponseDescribesNonJSONBody(t *testing.T) {
	for _, c := range []struct {
		ct, body, want string
	}{
		{"text/html; charset=utf-8", "Bad gateway: upstream down", "an HTML page of 26 bytes"},
		{"text/plain", "upstream down", "13 bytes of text/plain"},
		{"", "upstream down", "13 bytes of unknown type"},
	} {
		_, err := parseTokenResponse(502, http.Header{"Content-Type": {c.ct}}, []byte(c.body), sentAt, keepFields{})
		var te *TokenResponseError
		if !errors.As(err, &te) || !strings.Contains(te.Problem, c.want) {
			t.Errorf("%s body: %v; want a *TokenResponseError saying %q", c.ct, err, c.want)
		}
	}
}

// The token type is "Bearer" when the server leaves it out or spells it in
// another case; any other type (DPoP, mac) is kept as the server gave it,
// not passed off as a bearer token.
func TestParseTokenResponseTokenType(t *testing.T) {
	for _, c := range []struct{ field, want string }{
		{``, "Bearer"},
		{`,"token_type":"BEARER"`, "Bearer"},
		{`,"token_type":"DPoP"`, "DPoP"},
		{`,"token_type":"mac"`, "mac"},
	} {
		tok, err := parseTokenResponse(200, jsonHeader(), []byte(`{"access_token":"AT"`+c.field+`}`), sentAt, keepFields{})
		if err != nil {
			t.Fatal(err)
		}
		if tok.TokenType != c.want {
			t.Errorf("%q: token type %q, want %q", c.field, tok.TokenType, c.want)
		}
	}
}
