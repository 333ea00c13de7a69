package oauthtest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const workloadIssuer = "https://kubernetes.default.svc.cluster.local"

// wifServer starts a server on a fake clock that trusts a fresh workload
// issuer, with cfg's other settings.
func wifServer(t *testing.T, cfg Config) (*Server, *FakeClock, *AssertionIssuer) {
	t.Helper()
	wi := NewAssertionIssuer(workloadIssuer)
	clock := NewFakeClock(time.Unix(1_900_000_000, 0))
	cfg.Clock = clock
	cfg.TrustedIssuers = append(cfg.TrustedIssuers, wi.Trusted())
	return newTestServer(t, cfg), clock, wi
}

// bearerForm is a JWT-bearer grant request of the public default client.
func bearerForm(s *Server, assertion string) url.Values {
	return url.Values{"grant_type": {JWTBearerGrantType}, "assertion": {assertion}, "client_id": {s.ClientID()}}
}

const workloadSub = "system:serviceaccount:ci:builder"

func TestJWTBearerGrant(t *testing.T) {
	s, clock, wi := wifServer(t, Config{ResourceIdentifier: "/resource/"})
	f := bearerForm(s, wi.Sign(wi.Claims(workloadSub, s.Issuer(), clock.Now(), time.Hour)))
	f.Set("scope", "openid read")
	f.Set("resource", s.ResourceIdentifier())
	res := postForm(t, s.TokenEndpoint(), f, nil)
	if res.status != 200 {
		t.Fatalf("%d %v", res.status, res.body)
	}
	if res.str("refresh_token") != "" || res.str("id_token") != "" || res.str("scope") != "openid read" {
		t.Errorf("body %v: want no refresh token, no ID token, scope openid read", res.body)
	}
	status, _, body := callResource(t, s, "Bearer "+res.str("access_token"))
	if status != 200 {
		t.Fatalf("resource: %d %v", status, body)
	}
	if body["sub"] != workloadSub || body["aud"] != s.ResourceIdentifier() || body["client_id"] != s.ClientID() {
		t.Errorf("resource saw %v", body)
	}

	// The token endpoint's URL is an aud as good as the issuer; scope
	// beyond the client's is refused.
	f = bearerForm(s, wi.Sign(wi.Claims(workloadSub, s.TokenEndpoint(), clock.Now(), time.Hour)))
	if res := postForm(t, s.TokenEndpoint(), f, nil); res.status != 200 {
		t.Fatalf("aud = token endpoint: %d %v", res.status, res.body)
	}
	f = bearerForm(s, wi.Sign(wi.Claims(workloadSub, s.Issuer(), clock.Now(), time.Hour)))
	f.Set("scope", "admin")
	wantRefused(t, postForm(t, s.TokenEndpoint(), f, nil), 400, "invalid_scope", "admin")
	if n := s.CountGrant(JWTBearerGrantType); n != 3 {
		t.Errorf("CountGrant = %d, want 3", n)
	}
	if _, m := fetchJSON(t, s.MetadataURL()); !strings.Contains(strings.Join(strs(m["grant_types_supported"]), " "), JWTBearerGrantType) {
		t.Errorf("grant_types_supported %v", m["grant_types_supported"])
	}
}

func TestJWTBearerRefusals(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	stranger := NewAssertionIssuer("https://stranger.example")
	impostor := NewAssertionIssuer(workloadIssuer) // same name, another key
	cases := []struct {
		name string
		cfg  Config
		make func(s *Server, wi *AssertionIssuer, c map[string]any) string
		code string
		what string
	}{
		{"untrusted issuer", Config{}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			c["iss"] = stranger.Issuer()
			return stranger.Sign(c)
		}, "invalid_grant", `iss "https://stranger.example" is not a trusted issuer`},
		{"another key", Config{}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			return impostor.Sign(c)
		}, "invalid_grant", "signature does not verify"},
		{"tampered sub", Config{}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			parts := strings.Split(wi.Sign(c), ".")
			c["sub"] = "system:serviceaccount:kube-system:admin"
			parts[1] = b64(mustJSON(t, c))
			return strings.Join(parts, ".")
		}, "invalid_grant", "signature does not verify"},
		{"alg none", Config{}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			return b64(mustJSON(t, map[string]any{"alg": "none", "typ": "JWT"})) + "." + b64(mustJSON(t, c)) + "."
		}, "invalid_grant", `alg "none" is refused`},
		{"alg RS256 on an EC key", Config{}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			parts := strings.Split(wi.Sign(c), ".")
			parts[0] = b64(mustJSON(t, map[string]any{"alg": "RS256", "typ": "JWT"}))
			return strings.Join(parts, ".")
		}, "invalid_grant", `alg "RS256" does not fit`},
		{"crit header", Config{}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			parts := strings.Split(wi.Sign(c), ".")
			parts[0] = b64(mustJSON(t, map[string]any{"alg": "ES256", "crit": []string{"exp"}}))
			return strings.Join(parts, ".")
		}, "invalid_grant", "crit"},
		{"aud elsewhere", Config{}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			c["aud"] = "https://other.example"
			return wi.Sign(c)
		}, "invalid_grant", "aud names neither"},
		{"aud token endpoint, issuer asked", Config{AssertionAudience: AudienceIssuer}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			c["aud"] = s.TokenEndpoint()
			return wi.Sign(c)
		}, "invalid_grant", "aud does not name"},
		{"exp missing", Config{}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			delete(c, "exp")
			return wi.Sign(c)
		}, "invalid_grant", "exp is missing"},
		{"expired", Config{}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			c["exp"] = now.Add(-time.Second).Unix()
			return wi.Sign(c)
		}, "invalid_grant", "expired"},
		{"nbf to come", Config{}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			c["nbf"] = now.Add(time.Minute).Unix()
			return wi.Sign(c)
		}, "invalid_grant", "not valid yet"},
		{"sub missing", Config{}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			delete(c, "sub")
			return wi.Sign(c)
		}, "invalid_grant", "sub is missing"},
		{"jti required", Config{RequireJTI: true}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			delete(c, "jti")
			return wi.Sign(c)
		}, "invalid_grant", "jti is missing"},
		{"not a JWT", Config{}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			return "eyJhbGciOiJFUzI1NiJ9.e30"
		}, "invalid_grant", "not a JWT"},
		{"no assertion", Config{}, func(s *Server, wi *AssertionIssuer, c map[string]any) string {
			return ""
		}, "invalid_request", "assertion is missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _, wi := wifServer(t, tc.cfg)
			a := tc.make(s, wi, wi.Claims(workloadSub, s.Issuer(), now, time.Hour))
			wantRefused(t, postForm(t, s.TokenEndpoint(), bearerForm(s, a), nil), 400, tc.code, tc.what)
		})
	}
}

// TestJWTBearerReplay: a jti is accepted once; without a jti (and without
// RequireJTI) the same assertion may come again, as a platform's token is
// presented until it rotates.
func TestJWTBearerReplay(t *testing.T) {
	s, clock, wi := wifServer(t, Config{})
	a := wi.Sign(wi.Claims(workloadSub, s.Issuer(), clock.Now(), time.Hour))
	if res := postForm(t, s.TokenEndpoint(), bearerForm(s, a), nil); res.status != 200 {
		t.Fatalf("%d %v", res.status, res.body)
	}
	wantRefused(t, postForm(t, s.TokenEndpoint(), bearerForm(s, a), nil), 400, "invalid_grant", "already used")
	c := wi.Claims(workloadSub, s.Issuer(), clock.Now(), time.Hour)
	delete(c, "jti")
	a = wi.Sign(c)
	for i := range 2 {
		if res := postForm(t, s.TokenEndpoint(), bearerForm(s, a), nil); res.status != 200 {
			t.Fatalf("no jti, request %d: %d %v", i, res.status, res.body)
		}
	}
}

// TestJWTBearerClients: a confidential client authenticates (here with
// private_key_jwt) and gets a refresh token with JWTBearerRefreshTokens;
// the refresh keeps the workload's subject; a wrong secret is refused
// before the assertion is looked at.
func TestJWTBearerClients(t *testing.T) {
	k := newTestKey(t, "ES384")
	s, clock, wi := wifServer(t, Config{JWTBearerRefreshTokens: true,
		Clients: []Client{{ID: pkjClient, PublicKey: k.public()}, {ID: "with-secret", Secret: "s3cret", AuthMethod: AuthClientSecretPost}}})
	f := url.Values{"grant_type": {JWTBearerGrantType}, "assertion": {wi.Sign(wi.Claims(workloadSub, s.Issuer(), clock.Now(), time.Hour))}}
	res := postForm(t, s.TokenEndpoint(), withAssertion(f, k.sign(t, nil, assertionClaims(s, clock.Now(), "c-1"))), nil)
	if res.status != 200 || res.str("refresh_token") == "" {
		t.Fatalf("%d %v", res.status, res.body)
	}
	r2 := postForm(t, s.TokenEndpoint(), withAssertion(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {res.str("refresh_token")}},
		k.sign(t, nil, assertionClaims(s, clock.Now(), "c-2"))), nil)
	if r2.status != 200 {
		t.Fatalf("refresh: %d %v", r2.status, r2.body)
	}
	f = url.Values{"grant_type": {JWTBearerGrantType}, "assertion": {wi.Sign(wi.Claims(workloadSub, s.Issuer(), clock.Now(), time.Hour))},
		"client_id": {"with-secret"}, "client_secret": {"wrong"}}
	wantRefused(t, postForm(t, s.TokenEndpoint(), f, nil), 401, "invalid_client", "wrong client secret")
}

// TestJWTBearerFaults: a fault aimed at the JWT-bearer grant lets a
// refresh pass and meets the next JWT-bearer request; CountGrant counts
// both grant types, faulted requests too.
func TestJWTBearerFaults(t *testing.T) {
	s, clock, wi := wifServer(t, Config{})
	rt := login(t, s).str("refresh_token")
	s.FailNext(1, Fault{Kind: FaultTooManyRequests, RetryAfter: "3", GrantType: JWTBearerGrantType})
	if res := refresh(t, s, rt, nil); res.status != 200 {
		t.Fatalf("refresh met a fault aimed at another grant: %d %v", res.status, res.body)
	}
	res := postForm(t, s.TokenEndpoint(), bearerForm(s, wi.Sign(wi.Claims(workloadSub, s.Issuer(), clock.Now(), time.Hour))), nil)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") != "3" {
		t.Fatalf("JWT bearer: %d Retry-After %q", res.status, res.header.Get("Retry-After"))
	}
	res = postForm(t, s.TokenEndpoint(), bearerForm(s, wi.Sign(wi.Claims(workloadSub, s.Issuer(), clock.Now(), time.Hour))), nil)
	if res.status != 200 {
		t.Fatalf("after the fault: %d %v", res.status, res.body)
	}
	if a, b := s.CountGrant(JWTBearerGrantType), s.CountGrant("refresh_token"); a != 2 || b != 1 {
		t.Errorf("CountGrant: jwt-bearer %d refresh %d, want 2 and 1", a, b)
	}
	if got := s.Requests()[len(s.Requests())-2]; got.Fault != FaultTooManyRequests || got.GrantType != JWTBearerGrantType {
		t.Errorf("log entry %+v", got)
	}
}
