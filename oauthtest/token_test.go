package oauthtest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestTokenExchange(t *testing.T) {
	s := newTestServer(t, Config{})
	res := login(t, s)
	if res.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Errorf("headers: %v", res.header)
	}
	if len(res.str("access_token")) < 43 || len(res.str("refresh_token")) < 43 {
		t.Errorf("tokens too short: %v", res.body)
	}
	if res.str("token_type") != "Bearer" || res.body["expires_in"] != float64(3600) || res.str("scope") != "openid read offline_access" {
		t.Errorf("body: %v", res.body)
	}
	if parts := strings.Split(res.str("id_token"), "."); len(parts) != 3 {
		t.Errorf("id_token not JWT-shaped: %q", res.str("id_token"))
	}
	if !s.ValidAccessToken(res.str("access_token")) || s.ValidAccessToken("nope") {
		t.Error("ValidAccessToken wrong")
	}
}

func TestTokenExchangeWithXOAuth2(t *testing.T) {
	s := newTestServer(t, Config{})
	cfg := oauth2.Config{ClientID: s.ClientID(), Endpoint: s.Endpoint(), RedirectURL: testRedirect, Scopes: []string{"read"}}
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("xyz", oauth2.S256ChallengeOption(verifier))
	resp, _ := get(t, noRedirectClient(t), authURL)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, noRedirectClient(t))
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Valid() || tok.RefreshToken == "" {
		t.Fatalf("token %+v", tok)
	}
	// Refresh through x/oauth2's TokenSource.
	tok.Expiry = time.Now().Add(-time.Minute)
	tok2, err := cfg.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok2.AccessToken == tok.AccessToken || tok2.RefreshToken == tok.RefreshToken {
		t.Error("refresh did not give new tokens")
	}
}

func TestCodeSingleUseRevokesTokens(t *testing.T) {
	s := newTestServer(t, Config{})
	code := getCode(t, s, authParams(s))
	first := redeem(t, s, code)
	if first.status != http.StatusOK {
		t.Fatal(first.body)
	}
	wantError(t, redeem(t, s, code), 400, "invalid_grant")
	if s.ValidAccessToken(first.str("access_token")) {
		t.Error("access token survived code reuse")
	}
	wantError(t, refresh(t, s, first.str("refresh_token"), nil), 400, "invalid_grant")
}

func TestCodeExpires(t *testing.T) {
	clock := NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newTestServer(t, Config{Clock: clock})
	code := getCode(t, s, authParams(s))
	clock.Advance(61 * time.Second)
	wantError(t, redeem(t, s, code), 400, "invalid_grant")
}

func TestCodeBindings(t *testing.T) {
	s := newTestServer(t, Config{Clients: []Client{{ID: "a"}, {ID: "b"}}})
	base := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect},
			"client_id": {"a"}, "code_verifier": {testVerifier}}
	}
	cases := map[string]func(url.Values){
		"other client":     func(f url.Values) { f.Set("client_id", "b") },
		"other redirect":   func(f url.Values) { f.Set("redirect_uri", "http://127.0.0.1:5556/callback") },
		"no redirect":      func(f url.Values) { f.Del("redirect_uri") },
		"wrong verifier":   func(f url.Values) { f.Set("code_verifier", strings.Repeat("a", 43)) },
		"unknown code":     func(f url.Values) { f.Set("code", "made-up") },
		"short verifier":   func(f url.Values) { f.Set("code_verifier", "abc") },
		"resource not ok":  func(f url.Values) { f.Set("resource", "https://other.example/") },
		"missing verifier": func(f url.Values) { f.Del("code_verifier") },
	}
	want := map[string]string{"missing verifier": "invalid_request", "resource not ok": "invalid_target"}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			p := authParams(s)
			p.Set("resource", "https://api.example/")
			f := base(getCode(t, s, p))
			edit(f)
			code := want[name]
			if code == "" {
				code = "invalid_grant"
			}
			wantError(t, postForm(t, s.TokenEndpoint(), f, nil), 400, code)
		})
	}
}

func TestClientAuthentication(t *testing.T) {
	s := newTestServer(t, Config{Clients: []Client{
		{ID: "pub"},
		{ID: "basic:c/1", Secret: "s%e c:ret"},
		{ID: "post", Secret: "p-secret", AuthMethod: AuthClientSecretPost},
	}})
	ccForm := func(extra url.Values) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	basic := func(id, secret string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
	}

	res := postForm(t, s.TokenEndpoint(), ccForm(nil), basic("basic:c/1", "s%e c:ret"))
	if res.status != 200 || res.str("refresh_token") != "" || res.str("id_token") != "" {
		t.Fatalf("basic with url-encoded credentials: %d %v", res.status, res.body)
	}
	res = postForm(t, s.TokenEndpoint(), ccForm(url.Values{"client_id": {"post"}, "client_secret": {"p-secret"}, "scope": {"read"}}), nil)
	if res.status != 200 || res.str("scope") != "read" {
		t.Fatalf("post: %d %v", res.status, res.body)
	}

	res = postForm(t, s.TokenEndpoint(), ccForm(nil), basic("basic:c/1", "wrong"))
	wantError(t, res, 401, "invalid_client")
	if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no Basic challenge: %v", res.header)
	}
	// The registered method is enforced.
	wantError(t, postForm(t, s.TokenEndpoint(), ccForm(url.Values{"client_id": {"basic:c/1"}, "client_secret": {"s%e c:ret"}}), nil), 401, "invalid_client")
	wantError(t, postForm(t, s.TokenEndpoint(), ccForm(nil), basic("post", "p-secret")), 401, "invalid_client")
	wantError(t, postForm(t, s.TokenEndpoint(), ccForm(url.Values{"client_id": {"post"}}), nil), 401, "invalid_client")
	wantError(t, postForm(t, s.TokenEndpoint(), ccForm(url.Values{"client_id": {"nobody"}}), nil), 401, "invalid_client")
	// Two methods at once.
	wantError(t, postForm(t, s.TokenEndpoint(), ccForm(url.Values{"client_secret": {"s%e c:ret"}}), basic("basic:c/1", "s%e c:ret")), 400, "invalid_request")
	// Public clients cannot use client_credentials.
	wantError(t, postForm(t, s.TokenEndpoint(), ccForm(url.Values{"client_id": {"pub"}}), nil), 400, "unauthorized_client")
	wantError(t, postForm(t, s.TokenEndpoint(), url.Values{"grant_type": {"password"}, "client_id": {"pub"}}, nil), 400, "unsupported_grant_type")
	wantError(t, postForm(t, s.TokenEndpoint(), ccForm(url.Values{"client_id": {"post"}, "client_secret": {"p-secret"}, "scope": {"admin"}}), nil), 400, "invalid_scope")
}

func TestConfidentialClientCodeFlow(t *testing.T) {
	s := newTestServer(t, Config{Clients: []Client{{ID: "conf", Secret: "sec"}}})
	cfg := oauth2.Config{ClientID: "conf", ClientSecret: "sec", Endpoint: s.Endpoint(), RedirectURL: testRedirect}
	if s.Endpoint().AuthStyle != oauth2.AuthStyleInHeader {
		t.Fatalf("AuthStyle = %v", s.Endpoint().AuthStyle)
	}
	verifier := oauth2.GenerateVerifier()
	resp, _ := get(t, noRedirectClient(t), cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, noRedirectClient(t))
	if _, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatal(err)
	}
	if n := s.Count("token"); n != 1 {
		t.Errorf("token requests = %d, want 1 (no auth-style guessing)", n)
	}
}

func TestTokenRequestFormat(t *testing.T) {
	s := newTestServer(t, Config{})
	req, _ := http.NewRequest(http.MethodPost, s.TokenEndpoint(), strings.NewReader(`{"grant_type":"client_credentials"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirectClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("JSON body: %d", resp.StatusCode)
	}
	wantError(t, postForm(t, s.TokenEndpoint(), url.Values{"grant_type": {"refresh_token", "refresh_token"}, "client_id": {s.ClientID()}}, nil), 400, "invalid_request")
}

func decodeJWT(t *testing.T, s *Server, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	mac := hmac.New(sha256.New, s.SigningKey())
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) != parts[2] {
		t.Fatal("bad signature")
	}
	var h, c map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(hb, &h) != nil || json.Unmarshal(cb, &c) != nil {
		t.Fatal("bad JWT JSON")
	}
	return h, c
}

func TestJWTAccessTokens(t *testing.T) {
	clock := NewFakeClock(time.Unix(1_900_000_000, 0))
	s := newTestServer(t, Config{JWTAccessTokens: true, Clock: clock, Subject: "bob"})
	p := authParams(s)
	p["resource"] = []string{"https://api.example/", "https://other.example/"}
	p.Set("nonce", "n-1")
	f := url.Values{"grant_type": {"authorization_code"}, "code": {getCode(t, s, p)}, "redirect_uri": {testRedirect},
		"client_id": {s.ClientID()}, "code_verifier": {testVerifier}, "resource": {"https://api.example/"}}
	res := postForm(t, s.TokenEndpoint(), f, nil)
	if res.status != 200 {
		t.Fatal(res.body)
	}
	h, c := decodeJWT(t, s, res.str("access_token"))
	if h["alg"] != "HS256" || h["typ"] != "at+jwt" {
		t.Errorf("header %v", h)
	}
	want := map[string]any{"iss": s.Issuer(), "sub": "bob", "aud": "https://api.example/", "client_id": s.ClientID(),
		"scope": "openid read offline_access", "iat": float64(1_900_000_000), "exp": float64(1_900_003_600)}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	idh, idc := decodeES256(t, s, res.str("id_token"))
	if idh["alg"] != "ES256" || idh["kid"] != s.KeyID() {
		t.Errorf("id token header %v", idh)
	}
	if idc["nonce"] != "n-1" || idc["aud"] != s.ClientID() || idc["sub"] != "bob" {
		t.Errorf("id token claims %v", idc)
	}
	if !s.ValidAccessToken(res.str("access_token")) {
		t.Error("JWT not valid")
	}
	// Refresh for the other granted resource; a third one is refused.
	r2 := refresh(t, s, res.str("refresh_token"), url.Values{"resource": {"https://other.example/"}})
	if _, c2 := decodeJWT(t, s, r2.str("access_token")); c2["aud"] != "https://other.example/" {
		t.Errorf("aud after refresh %v", c2["aud"])
	}
	wantError(t, refresh(t, s, r2.str("refresh_token"), url.Values{"resource": {"https://third.example/"}}), 400, "invalid_target")

	// Without a resource, aud is the client.
	r3 := login(t, s)
	if _, c3 := decodeJWT(t, s, r3.str("access_token")); c3["aud"] != s.ClientID() {
		t.Errorf("aud without resource %v", c3["aud"])
	}
}

func TestAccessTokenExpires(t *testing.T) {
	clock := NewFakeClock(time.Unix(1_900_000_000, 0))
	s := newTestServer(t, Config{Clock: clock, AccessTokenTTL: 10 * time.Minute})
	res := login(t, s)
	if res.body["expires_in"] != float64(600) {
		t.Errorf("expires_in %v", res.body["expires_in"])
	}
	clock.Advance(9 * time.Minute)
	if !s.ValidAccessToken(res.str("access_token")) {
		t.Fatal("expired early")
	}
	clock.Advance(time.Minute)
	if s.ValidAccessToken(res.str("access_token")) {
		t.Fatal("valid after expiry")
	}
}

func TestQuirks(t *testing.T) {
	s := newTestServer(t, Config{ExpiresInAsString: true, TokenType: "bearer", ErrorsWithStatus200: true,
		RefreshTokenTTL: 24 * time.Hour, RefreshTokenExpiresInField: "refresh_token_expires_in"})
	res := login(t, s)
	if res.body["expires_in"] != "3600" || res.str("token_type") != "bearer" || res.body["refresh_token_expires_in"] != float64(86400) {
		t.Errorf("body %v", res.body)
	}
	wantError(t, refresh(t, s, "unknown", nil), 200, "invalid_grant")

	s2 := newTestServer(t, Config{OmitExpiresIn: true, DisableRefreshTokens: true})
	res = login(t, s2)
	if _, ok := res.body["expires_in"]; ok || res.str("refresh_token") != "" {
		t.Errorf("body %v", res.body)
	}
}
