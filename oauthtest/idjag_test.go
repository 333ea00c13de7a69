package oauthtest

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	idpClient = "mcp-client-at-idp"
	asClient  = "mcp-client-at-as"
	asSecret  = "as-s3cret"
)

// emaFixture is enterprise-managed authorization's two servers: the
// identity provider, where the person signed in, and the MCP server's
// authorization server, which trusts it, on one fake clock.
type emaFixture struct {
	idp, as *Server
	clock   *FakeClock
	idToken string
}

func newEMA(t *testing.T, asCfg Config) *emaFixture {
	t.Helper()
	clock := NewFakeClock(time.Unix(1_900_000_000, 0))
	idp := newTestServer(t, Config{Clock: clock, TokenExchange: true, Subject: "alice@example.com",
		Clients: []Client{{ID: idpClient}}, IDJAGClientID: map[string]string{idpClient: asClient}})
	asCfg.Clock = clock
	asCfg.TrustedIssuers = append(asCfg.TrustedIssuers, idp.TrustedIssuer())
	asCfg.Clients = append([]Client{{ID: asClient, Secret: asSecret, AuthMethod: AuthClientSecretPost}}, asCfg.Clients...)
	as := newTestServer(t, asCfg)
	res := login(t, idp)
	if res.str("id_token") == "" {
		t.Fatalf("no ID token from the IdP: %v", res.body)
	}
	return &emaFixture{idp: idp, as: as, clock: clock, idToken: res.str("id_token")}
}

// exchangeForm is a valid token exchange at the IdP for an ID-JAG for the
// AS and its resource.
func (f *emaFixture) exchangeForm() url.Values {
	return url.Values{
		"grant_type":           {TokenExchangeGrantType},
		"client_id":            {idpClient},
		"subject_token":        {f.idToken},
		"subject_token_type":   {IDTokenType},
		"requested_token_type": {IDJAGTokenType},
		"audience":             {f.as.Issuer()},
		"resource":             {f.as.ResourceEndpoint()},
		"scope":                {"read write"},
	}
}

// idJAG runs the exchange and returns the ID-JAG.
func (f *emaFixture) idJAG(t *testing.T) string {
	t.Helper()
	res := postForm(t, f.idp.TokenEndpoint(), f.exchangeForm(), nil)
	if res.status != 200 {
		t.Fatalf("token exchange: %d %v", res.status, res.body)
	}
	return res.str("access_token")
}

// bearerForm is the JWT-bearer grant of the ID-JAG at the AS, with the
// client's secret.
func (f *emaFixture) bearerForm(jag string) url.Values {
	return url.Values{"grant_type": {JWTBearerGrantType}, "assertion": {jag}, "client_id": {asClient}, "client_secret": {asSecret}}
}

func TestIDJAGChain(t *testing.T) {
	f := newEMA(t, Config{})
	res := postForm(t, f.idp.TokenEndpoint(), f.exchangeForm(), nil)
	if res.status != 200 {
		t.Fatalf("token exchange: %d %v", res.status, res.body)
	}
	if res.str("issued_token_type") != IDJAGTokenType || res.str("token_type") != "N_A" || res.body["expires_in"] != float64(300) ||
		res.str("refresh_token") != "" || res.str("scope") != "read write" {
		t.Errorf("exchange answer %v", res.body)
	}
	h, c := decodeES256(t, f.idp, res.str("access_token"))
	if h["typ"] != IDJAGTyp || h["kid"] != f.idp.KeyID() {
		t.Errorf("ID-JAG header %v", h)
	}
	want := map[string]any{"iss": f.idp.Issuer(), "sub": "alice@example.com", "aud": f.as.Issuer(), "client_id": asClient,
		"resource": f.as.ResourceEndpoint(), "scope": "read write", "iat": float64(1_900_000_000), "exp": float64(1_900_000_300)}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("ID-JAG claim %s = %v, want %v", k, c[k], v)
		}
	}
	if jti, _ := c["jti"].(string); jti == "" {
		t.Error("ID-JAG without jti")
	}

	bf := f.bearerForm(res.str("access_token"))
	bf.Set("scope", "read")
	at := postForm(t, f.as.TokenEndpoint(), bf, nil)
	if at.status != 200 || at.str("scope") != "read" || at.str("refresh_token") != "" {
		t.Fatalf("JWT bearer at the AS: %d %v", at.status, at.body)
	}
	status, _, body := callResource(t, f.as, "Bearer "+at.str("access_token"))
	if status != 200 || body["sub"] != "alice@example.com" || body["aud"] != f.as.ResourceEndpoint() || body["client_id"] != asClient {
		t.Errorf("resource: %d %v", status, body)
	}
	// Without a scope parameter the grant has the ID-JAG's scope.
	at = postForm(t, f.as.TokenEndpoint(), f.bearerForm(f.idJAG(t)), nil)
	if at.status != 200 || at.str("scope") != "read write" {
		t.Fatalf("no scope asked: %d %v", at.status, at.body)
	}
	if f.idp.CountGrant(TokenExchangeGrantType) != 2 || f.as.CountGrant(JWTBearerGrantType) != 2 {
		t.Errorf("CountGrant: exchange %d, bearer %d", f.idp.CountGrant(TokenExchangeGrantType), f.as.CountGrant(JWTBearerGrantType))
	}
	if _, m := fetchJSON(t, f.idp.MetadataURL()); !strings.Contains(strings.Join(strs(m["grant_types_supported"]), " "), TokenExchangeGrantType) {
		t.Errorf("IdP grant_types_supported %v", m["grant_types_supported"])
	}
	_, jwks := fetchJSON(t, f.idp.JWKSURL())
	if keys, _ := jwks["keys"].([]any); len(keys) != 1 || keys[0].(map[string]any)["kid"] != f.idp.KeyID() {
		t.Errorf("JWKS %v", jwks)
	}
}

func TestTokenExchangeRefusals(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, f *emaFixture, form url.Values)
		code   string
		what   string
	}{
		{"subject_token_type", func(t *testing.T, f *emaFixture, form url.Values) {
			form.Set("subject_token_type", "urn:ietf:params:oauth:token-type:access_token")
		}, "invalid_request", "subject_token_type must be"},
		{"requested_token_type", func(t *testing.T, f *emaFixture, form url.Values) {
			form.Set("requested_token_type", "urn:ietf:params:oauth:token-type:access_token")
		}, "invalid_request", "requested_token_type must be"},
		{"no audience", func(t *testing.T, f *emaFixture, form url.Values) { form.Del("audience") }, "invalid_request", "audience is missing"},
		{"no subject_token", func(t *testing.T, f *emaFixture, form url.Values) { form.Del("subject_token") }, "invalid_request", "subject_token is missing"},
		{"ID token of another client", func(t *testing.T, f *emaFixture, form url.Values) {
			f.idp.AddClient(Client{ID: "other"})
			form.Set("client_id", "other")
		}, "invalid_request", `its aud does not name "other"`},
		{"expired ID token", func(t *testing.T, f *emaFixture, form url.Values) { f.clock.Advance(2 * time.Hour) }, "invalid_request", "expired"},
		{"tampered ID token", func(t *testing.T, f *emaFixture, form url.Values) {
			parts := strings.Split(f.idToken, ".")
			parts[1] = b64(mustJSON(t, map[string]any{"iss": f.idp.Issuer(), "sub": "mallory", "aud": idpClient, "exp": 2_000_000_000}))
			form.Set("subject_token", strings.Join(parts, "."))
		}, "invalid_request", "signature does not verify"},
		{"ID token of another server", func(t *testing.T, f *emaFixture, form url.Values) {
			// Another server's ID token for a client of the same name.
			other := newTestServer(t, Config{Clock: f.clock, Clients: []Client{{ID: idpClient}}})
			form.Set("subject_token", login(t, other).str("id_token"))
		}, "invalid_request", "signature does not verify"},
		{"bad resource", func(t *testing.T, f *emaFixture, form url.Values) { form.Set("resource", "relative/path") }, "invalid_target", "absolute URI"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newEMA(t, Config{})
			form := f.exchangeForm()
			tc.change(t, f, form)
			wantRefused(t, postForm(t, f.idp.TokenEndpoint(), form, nil), 400, tc.code, tc.what)
		})
	}
	// A server without TokenExchange does not know the grant.
	f := newEMA(t, Config{})
	form := f.exchangeForm()
	form.Set("client_id", asClient)
	form.Set("client_secret", asSecret)
	wantRefused(t, postForm(t, f.as.TokenEndpoint(), form, nil), 400, "unsupported_grant_type", "Config.TokenExchange")
}

func TestIDJAGRefusedAtTheAS(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		change func(t *testing.T, f *emaFixture, form url.Values)
		status int
		code   string
		what   string
	}{
		{"another client presents it", Config{Clients: []Client{{ID: "thief", Secret: "x", AuthMethod: AuthClientSecretPost}}},
			func(t *testing.T, f *emaFixture, form url.Values) {
				form.Set("client_id", "thief")
				form.Set("client_secret", "x")
			}, 400, "invalid_grant", `client_id "mcp-client-at-as" is not the requesting client "thief"`},
		{"another resource", Config{}, func(t *testing.T, f *emaFixture, form url.Values) {
			form.Set("resource", "https://elsewhere.example/mcp")
		}, 400, "invalid_grant", "is not the ID-JAG's resource"},
		{"scope beyond the ID-JAG's", Config{}, func(t *testing.T, f *emaFixture, form url.Values) {
			form.Set("scope", "read profile")
		}, 400, "invalid_scope", "profile is not in the ID-JAG's scope"},
		{"replayed", Config{}, func(t *testing.T, f *emaFixture, form url.Values) {
			if res := postForm(t, f.as.TokenEndpoint(), form, nil); res.status != 200 {
				t.Fatalf("first use: %d %v", res.status, res.body)
			}
		}, 400, "invalid_grant", "already used"},
		{"expired", Config{}, func(t *testing.T, f *emaFixture, form url.Values) { f.clock.Advance(IDJAGTTL) }, 400, "invalid_grant", "expired"},
		{"client secret wrong", Config{}, func(t *testing.T, f *emaFixture, form url.Values) {
			form.Set("client_secret", "guess")
		}, 401, "invalid_client", "wrong client secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newEMA(t, tc.cfg)
			form := f.bearerForm(f.idJAG(t))
			tc.change(t, f, form)
			wantRefused(t, postForm(t, f.as.TokenEndpoint(), form, nil), tc.status, tc.code, tc.what)
		})
	}
}

// TestIDJAGRulesOfTheDraft: an ID-JAG (by its typ) must name the issuer
// as aud (the token endpoint, good for a plain JWT-bearer grant, is not)
// and carry a jti, even without RequireJTI.
func TestIDJAGRulesOfTheDraft(t *testing.T) {
	idp := NewAssertionIssuer("https://idp.example")
	f := newEMA(t, Config{TrustedIssuers: []TrustedIssuer{idp.Trusted()}})
	claims := func() map[string]any {
		c := idp.Claims("bob", f.as.Issuer(), f.clock.Now(), time.Minute)
		c["client_id"] = asClient
		return c
	}
	c := claims()
	if res := postForm(t, f.as.TokenEndpoint(), f.bearerForm(idp.SignTyped("application/OAuth-ID-JAG+JWT", c)), nil); res.status != 200 {
		t.Fatalf("a valid ID-JAG, typ with application/: %d %v", res.status, res.body)
	}
	c = claims()
	c["aud"] = f.as.TokenEndpoint()
	wantRefused(t, postForm(t, f.as.TokenEndpoint(), f.bearerForm(idp.SignTyped(IDJAGTyp, c)), nil), 400, "invalid_grant", "aud does not name")
	c = claims()
	delete(c, "jti")
	wantRefused(t, postForm(t, f.as.TokenEndpoint(), f.bearerForm(idp.SignTyped(IDJAGTyp, c)), nil), 400, "invalid_grant", "jti is missing")
	// The same claims as a plain JWT (typ JWT) are a workload token: the
	// ID-JAG's rules do not apply.
	c = claims()
	c["aud"] = f.as.TokenEndpoint()
	delete(c, "jti")
	if res := postForm(t, f.as.TokenEndpoint(), f.bearerForm(idp.Sign(c)), nil); res.status != 200 {
		t.Fatalf("plain JWT: %d %v", res.status, res.body)
	}
}

// TestTokenExchangeFaults: a fault aimed at the token exchange leaves the
// JWT-bearer grant alone on a server that plays both roles.
func TestTokenExchangeFaults(t *testing.T) {
	f := newEMA(t, Config{})
	f.idp.FailNext(1, Fault{Kind: FaultServerError, GrantType: TokenExchangeGrantType})
	f.idp.FailNext(1, Fault{Kind: FaultOAuthError, Code: "invalid_grant", GrantType: TokenExchangeGrantType})
	wantError(t, postForm(t, f.idp.TokenEndpoint(), f.exchangeForm(), nil), 500, "server_error")
	wantError(t, postForm(t, f.idp.TokenEndpoint(), f.exchangeForm(), nil), 400, "invalid_grant")
	jag := f.idJAG(t)
	if res := postForm(t, f.as.TokenEndpoint(), f.bearerForm(jag), nil); res.status != 200 {
		t.Fatalf("%d %v", res.status, res.body)
	}
	if n := f.idp.CountGrant(TokenExchangeGrantType); n != 3 {
		t.Errorf("CountGrant = %d, want 3", n)
	}
}
