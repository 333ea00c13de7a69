package oauthtest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const pkjClient = "machine-1"

// pkjServer starts a server on a fake clock whose first client
// authenticates with private_key_jwt and key k.
func pkjServer(t *testing.T, k testKey, cfg Config) (*Server, *FakeClock) {
	t.Helper()
	clock := NewFakeClock(time.Unix(1_900_000_000, 0))
	cfg.Clock = clock
	cfg.Clients = append([]Client{{ID: pkjClient, PublicKey: k.public()}}, cfg.Clients...)
	return newTestServer(t, cfg), clock
}

// assertionClaims are valid client-assertion claims for s at now.
func assertionClaims(s *Server, now time.Time, jti string) map[string]any {
	return map[string]any{
		"iss": pkjClient, "sub": pkjClient, "aud": s.TokenEndpoint(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": jti,
	}
}

// withAssertion returns form with the client assertion a added.
func withAssertion(form url.Values, a string) url.Values {
	f := url.Values{"client_assertion_type": {ClientAssertionType}, "client_assertion": {a}}
	for k, v := range form {
		f[k] = v
	}
	return f
}

func clientCredentialsForm() url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
}

// wantRefused checks an error answer and that its description says what.
func wantRefused(t *testing.T, res tokenResult, status int, code, what string) {
	t.Helper()
	wantError(t, res, status, code)
	if d := res.str("error_description"); !strings.Contains(d, what) {
		t.Fatalf("error_description %q does not say %q", d, what)
	}
}

func TestPrivateKeyJWTAlgorithms(t *testing.T) {
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			k := newTestKey(t, alg)
			s, clock := pkjServer(t, k, Config{})
			a := k.sign(t, nil, assertionClaims(s, clock.Now(), "jti-"+alg))
			res := postForm(t, s.TokenEndpoint(), withAssertion(clientCredentialsForm(), a), nil)
			if res.status != http.StatusOK || !s.ValidAccessToken(res.str("access_token")) {
				t.Fatalf("client_credentials with %s: %d %v", alg, res.status, res.body)
			}
			// The same assertion again is a replay.
			wantRefused(t, postForm(t, s.TokenEndpoint(), withAssertion(clientCredentialsForm(), a), nil),
				http.StatusUnauthorized, "invalid_client", `jti "jti-`+alg+`" already used`)
			if n := s.CountGrant("client_credentials"); n != 2 {
				t.Errorf("CountGrant = %d, want 2", n)
			}
		})
	}
}

func TestPrivateKeyJWTRefusals(t *testing.T) {
	k := newTestKey(t, "ES256")
	other := newTestKey(t, "ES256")
	now := time.Unix(1_900_000_000, 0)
	// claimSet is a case's form: valid claims with name set to v (deleted
	// when v is nil), signed by the registered key.
	claimSet := func(name string, v any) func(*Server, map[string]any) url.Values {
		return func(s *Server, c map[string]any) url.Values {
			if v == nil {
				delete(c, name)
			} else {
				c[name] = v
			}
			return withAssertion(clientCredentialsForm(), k.sign(t, nil, c))
		}
	}
	cases := []struct {
		name   string
		cfg    Config
		form   func(s *Server, claims map[string]any) url.Values
		status int
		code   string
		what   string
	}{
		{"alg none", Config{}, func(s *Server, c map[string]any) url.Values {
			input := b64(mustJSON(t, map[string]any{"alg": "none"})) + "." + b64(mustJSON(t, c)) + "."
			return withAssertion(clientCredentialsForm(), input)
		}, 401, "invalid_client", `alg "none" is refused`},
		{"alg HS256", Config{}, func(s *Server, c map[string]any) url.Values {
			return withAssertion(clientCredentialsForm(), hs256(t, []byte("the client's public key"), c))
		}, 401, "invalid_client", `alg "HS256" is refused`},
		{"alg that does not fit the key", Config{}, func(s *Server, c map[string]any) url.Values {
			return withAssertion(clientCredentialsForm(), k.sign(t, map[string]any{"alg": "ES384"}, c))
		}, 401, "invalid_client", `alg "ES384" does not fit`},
		{"tampered claims", Config{}, func(s *Server, c map[string]any) url.Values {
			a := strings.Split(k.sign(t, nil, c), ".")
			c["scope"] = "admin"
			a[1] = b64(mustJSON(t, c))
			return withAssertion(clientCredentialsForm(), strings.Join(a, "."))
		}, 401, "invalid_client", "signature does not verify"},
		{"another key", Config{}, func(s *Server, c map[string]any) url.Values {
			return withAssertion(clientCredentialsForm(), other.sign(t, nil, c))
		}, 401, "invalid_client", "signature does not verify"},
		{"not a JWT", Config{}, func(s *Server, c map[string]any) url.Values {
			f := withAssertion(clientCredentialsForm(), "not.a-jwt")
			f.Set("client_id", pkjClient)
			return f
		}, 401, "invalid_client", "not a JWT"},
		{"iss", Config{}, claimSet("iss", "someone-else"), 401, "invalid_client", `iss "someone-else" is not the client_id`},
		{"sub", Config{}, func(s *Server, c map[string]any) url.Values {
			c["sub"] = "someone-else"
			f := withAssertion(clientCredentialsForm(), k.sign(t, nil, c))
			f.Set("client_id", pkjClient)
			return f
		}, 401, "invalid_client", `sub "someone-else" is not the client_id`},
		{"client_id parameter differs", Config{Clients: []Client{{ID: "machine-2", PublicKey: k.public()}}}, func(s *Server, c map[string]any) url.Values {
			f := withAssertion(clientCredentialsForm(), k.sign(t, nil, c))
			f.Set("client_id", "machine-2")
			return f
		}, 401, "invalid_client", `iss "machine-1" is not the client_id "machine-2"`},
		{"aud elsewhere", Config{}, claimSet("aud", "https://other.example/token"), 401, "invalid_client", "aud names neither the issuer"},
		{"aud issuer, token endpoint asked", Config{AssertionAudience: AudienceTokenEndpoint}, func(s *Server, c map[string]any) url.Values {
			c["aud"] = s.Issuer()
			return withAssertion(clientCredentialsForm(), k.sign(t, nil, c))
		}, 401, "invalid_client", "aud does not name"},
		{"aud token endpoint, issuer asked", Config{AssertionAudience: AudienceIssuer}, func(s *Server, c map[string]any) url.Values {
			return withAssertion(clientCredentialsForm(), k.sign(t, nil, c))
		}, 401, "invalid_client", "aud does not name"},
		{"exp missing", Config{}, claimSet("exp", nil), 401, "invalid_client", "exp is missing"},
		{"exp a string", Config{}, claimSet("exp", "tomorrow"), 401, "invalid_client", "exp is not a number"},
		{"expired", Config{}, claimSet("exp", now.Unix()), 401, "invalid_client", "expired"},
		{"exp too far", Config{}, claimSet("exp", now.Add(6*time.Minute).Unix()), 401, "invalid_client", "exp is more than 5m0s away"},
		{"exp too far after iat", Config{}, func(s *Server, c map[string]any) url.Values {
			c["iat"] = now.Add(-10 * time.Minute).Unix()
			return withAssertion(clientCredentialsForm(), k.sign(t, nil, c))
		}, 401, "invalid_client", "exp is more than 5m0s after iat"},
		{"nbf to come", Config{}, claimSet("nbf", now.Add(30*time.Second).Unix()), 401, "invalid_client", "not valid yet"},
		{"jti missing", Config{}, claimSet("jti", nil), 401, "invalid_client", "jti is missing"},
		{"wrong assertion type", Config{}, func(s *Server, c map[string]any) url.Values {
			f := withAssertion(clientCredentialsForm(), k.sign(t, nil, c))
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
			return f
		}, 401, "invalid_client", "unsupported client_assertion_type"},
		{"assertion without its type", Config{}, func(s *Server, c map[string]any) url.Values {
			f := withAssertion(clientCredentialsForm(), k.sign(t, nil, c))
			f.Del("client_assertion_type")
			return f
		}, 400, "invalid_request", "sent together"},
		{"assertion and secret", Config{}, func(s *Server, c map[string]any) url.Values {
			f := withAssertion(clientCredentialsForm(), k.sign(t, nil, c))
			f.Set("client_secret", "x")
			return f
		}, 400, "invalid_request", "more than one client authentication method"},
		{"secret client sends an assertion", Config{Clients: []Client{{ID: "secretive", Secret: "s3cret"}}}, func(s *Server, c map[string]any) url.Values {
			c["iss"], c["sub"] = "secretive", "secretive"
			return withAssertion(clientCredentialsForm(), k.sign(t, nil, c))
		}, 401, "invalid_client", "must authenticate with client_secret_basic, not private_key_jwt"},
		{"key client sends a secret", Config{}, func(s *Server, c map[string]any) url.Values {
			f := clientCredentialsForm()
			f.Set("client_id", pkjClient)
			f.Set("client_secret", "guess")
			return f
		}, 401, "invalid_client", "must authenticate with private_key_jwt, not client_secret_post"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := pkjServer(t, k, tc.cfg)
			c := assertionClaims(s, now, "jti-1")
			res := postForm(t, s.TokenEndpoint(), tc.form(s, c), nil)
			wantRefused(t, res, tc.status, tc.code, tc.what)
		})
	}
}

// TestPrivateKeyJWTEveryEndpoint authenticates a private_key_jwt client at
// the code exchange, a refresh and a revocation, each with a new
// assertion, the client named by the assertion's sub alone.
func TestPrivateKeyJWTEveryEndpoint(t *testing.T) {
	k := newTestKey(t, "EdDSA")
	s, clock := pkjServer(t, k, Config{AssertionAudience: AudienceIssuer})
	n := 0
	assertion := func() string {
		n++
		c := assertionClaims(s, clock.Now(), "jti-"+string(rune('a'+n)))
		c["aud"] = []string{"https://unrelated.example", s.Issuer()}
		return k.sign(t, nil, c)
	}
	p := authParams(s)
	p.Set("client_id", pkjClient)
	res := postForm(t, s.TokenEndpoint(), withAssertion(url.Values{"grant_type": {"authorization_code"}, "code": {getCode(t, s, p)},
		"redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}, assertion()), nil)
	if res.status != 200 || res.str("refresh_token") == "" {
		t.Fatalf("code exchange: %d %v", res.status, res.body)
	}
	r2 := postForm(t, s.TokenEndpoint(), withAssertion(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {res.str("refresh_token")}}, assertion()), nil)
	if r2.status != 200 {
		t.Fatalf("refresh: %d %v", r2.status, r2.body)
	}
	// A revocation with a bad assertion is refused and revokes nothing.
	stale := k.sign(t, nil, assertionClaims(s, clock.Now(), "jti-b")) // aud is the token endpoint, not the issuer
	wantRefused(t, postForm(t, s.RevocationEndpoint(), withAssertion(url.Values{"token": {r2.str("access_token")}}, stale), nil),
		http.StatusUnauthorized, "invalid_client", "aud does not name")
	if !s.ValidAccessToken(r2.str("access_token")) {
		t.Fatal("a refused revocation revoked the token")
	}
	rv := postForm(t, s.RevocationEndpoint(), withAssertion(url.Values{"token": {r2.str("access_token")}}, assertion()), nil)
	if rv.status != 200 || s.ValidAccessToken(r2.str("access_token")) {
		t.Fatalf("revocation: %d, token still valid: %v", rv.status, s.ValidAccessToken(r2.str("access_token")))
	}
	for _, e := range s.Requests() {
		if e.Endpoint == "token" && e.ClientID != pkjClient {
			t.Errorf("log entry %+v: ClientID is not the assertion's sub", e)
		}
	}
}

// TestPrivateKeyJWTLifetimeAndReplayWindow: MaxAssertionLifetime widens
// the limit, and a jti is kept until its assertion's exp, no longer.
func TestPrivateKeyJWTLifetimeAndReplayWindow(t *testing.T) {
	k := newTestKey(t, "ES256")
	s, clock := pkjServer(t, k, Config{MaxAssertionLifetime: 15 * time.Minute})
	c := assertionClaims(s, clock.Now(), "once")
	c["exp"] = clock.Now().Add(10 * time.Minute).Unix()
	if res := postForm(t, s.TokenEndpoint(), withAssertion(clientCredentialsForm(), k.sign(t, nil, c)), nil); res.status != 200 {
		t.Fatalf("10-minute assertion under a 15-minute limit: %d %v", res.status, res.body)
	}
	clock.Advance(9 * time.Minute)
	c = assertionClaims(s, clock.Now(), "once")
	wantRefused(t, postForm(t, s.TokenEndpoint(), withAssertion(clientCredentialsForm(), k.sign(t, nil, c)), nil),
		http.StatusUnauthorized, "invalid_client", "already used")
	clock.Advance(time.Minute) // the first assertion's exp: its jti may come again
	c = assertionClaims(s, clock.Now(), "once")
	if res := postForm(t, s.TokenEndpoint(), withAssertion(clientCredentialsForm(), k.sign(t, nil, c)), nil); res.status != 200 {
		t.Fatalf("jti after the first assertion expired: %d %v", res.status, res.body)
	}
}

func TestAssertionAudienceConfigPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "AssertionAudience") {
			t.Fatalf("recovered %v", r)
		}
	}()
	NewServer(Config{AssertionAudience: "token-endpoint"}).Close()
}
