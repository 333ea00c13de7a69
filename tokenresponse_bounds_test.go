package authloop

import (
	"context"
	"encoding/base64"
	"errors"
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
