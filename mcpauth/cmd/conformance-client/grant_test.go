package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/authloop/authloop"
	"golang.org/x/oauth2"
)

// The contexts as the suite 0.2.0-alpha.12 sends them (with "name"), for
// the scenarios whose grant the client picks from them.
const (
	ctxBasic  = `{"name":"auth/client-credentials-basic","client_id":"conformance-test-client","client_secret":"conformance-test-secret"}`
	ctxPrereg = `{"name":"auth/pre-registration","client_id":"pre-registered-client","client_secret":"pre-registered-secret","issuer":"http://localhost:1"}`
	ctxWIF    = `{"name":"auth/wif-jwt-bearer","client_id":"conformance-wif-workload","valid_jwt":"h.valid.s","wrong_audience_jwt":"h.wrong.s","expired_jwt":"h.expired.s"}`
	ctxEMA    = `{"name":"auth/enterprise-managed-authorization","client_id":"conformance-test-xaa-client","client_secret":"conformance-test-xaa-secret","idp_client_id":"conformance-test-idp-client","idp_id_token":"h.idtoken.s","idp_issuer":"IDP","idp_token_endpoint":"IDP/token"}`
)

func parseContext(t *testing.T, raw string) scenarioContext {
	t.Helper()
	var sc scenarioContext
	if err := json.Unmarshal([]byte(raw), &sc); err != nil {
		t.Fatal(err)
	}
	return sc
}

// target is what the session would pass a grant in the suite's scenarios.
var target = authloop.GrantTarget{Issuer: "http://localhost:2", TokenURL: "http://localhost:2/token", Resource: "http://localhost:3/mcp", ClientID: "c"}

// A person's sign-in stays a person's sign-in (auth/pre-registration's
// context holds a client secret too); client credentials with the secret
// only in auth/client-credentials-basic; the workload's valid token, never
// the wrong-audience or expired one, in auth/wif-jwt-bearer.
func TestMachineGrantChoice(t *testing.T) {
	for _, tc := range []struct {
		name, ctx, mode string
		form            url.Values // the grant's form; nil for no grant
	}{
		{"no context", `{}`, "", nil},
		{"pre-registration", ctxPrereg, "", nil},
		{"a secret in another scenario", `{"name":"auth/token-endpoint-auth-basic","client_id":"a","client_secret":"b"}`, "", nil},
		{"client credentials, basic", ctxBasic, "client credentials, client secret", url.Values{"grant_type": {"client_credentials"}}},
		{"workload identity", ctxWIF, "jwt-bearer (workload identity)", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {"h.valid.s"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &authloop.Config{OAuth2: &oauth2.Config{}}
			mode, err := machineGrant(cfg, parseContext(t, tc.ctx))
			if err != nil {
				t.Fatal(err)
			}
			if mode != tc.mode {
				t.Errorf("mode = %q, want %q", mode, tc.mode)
			}
			if tc.form == nil {
				if cfg.Grant != nil {
					t.Errorf("Grant = %#v, want none", cfg.Grant)
				}
				return
			}
			if cfg.Grant == nil {
				t.Fatal("no Grant")
			}
			form, err := cfg.Grant.GrantForm(context.Background(), target)
			if err != nil {
				t.Fatal(err)
			}
			if form.Encode() != tc.form.Encode() {
				t.Errorf("form = %s, want %s", form.Encode(), tc.form.Encode())
			}
		})
	}
}

// auth/enterprise-managed-authorization: the ID token goes to the
// identity provider's token endpoint from the context, as the public
// client idp_client_id, exchanged for an ID-JAG for the session's
// authorization server and resource; the ID-JAG becomes the JWT bearer
// grant's assertion.
func TestMachineGrantEnterprise(t *testing.T) {
	var got url.Values
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" {
			http.NotFound(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		got = r.PostForm
		if _, _, ok := r.BasicAuth(); ok {
			t.Error("Basic authentication at the identity provider; the context gives its client no secret")
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"h.idjag.s","issued_token_type":"urn:ietf:params:oauth:token-type:id-jag","token_type":"N_A"}`))
	}))
	defer idp.Close()

	sc := parseContext(t, ctxEMA)
	sc.IdPIssuer, sc.IdPTokenEndpoint = idp.URL, idp.URL+"/token"
	cfg := &authloop.Config{OAuth2: &oauth2.Config{}}
	mode, err := machineGrant(cfg, sc)
	if err != nil || mode != "enterprise-managed authorization" || cfg.Grant == nil {
		t.Fatalf("machineGrant = %q, %v, Grant %v", mode, err, cfg.Grant)
	}
	form, err := cfg.Grant.GrantForm(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"requested_token_type": {"urn:ietf:params:oauth:token-type:id-jag"},
		"subject_token":        {"h.idtoken.s"},
		"subject_token_type":   {"urn:ietf:params:oauth:token-type:id_token"},
		"audience":             {target.Issuer},
		"resource":             {target.Resource},
		"client_id":            {"conformance-test-idp-client"},
	}
	if got.Encode() != want.Encode() {
		t.Errorf("the identity provider got %s, want %s", got.Encode(), want.Encode())
	}
	if w := (url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {"h.idjag.s"}}); form.Encode() != w.Encode() {
		t.Errorf("form = %s, want %s", form.Encode(), w.Encode())
	}
}

// auth/client-credentials-jwt: the context's PKCS#8 PEM key (ES256, as
// signing_algorithm says) becomes Config.ClientKey, with its kid; a key of
// another algorithm than the context names, or no key at all, is an error
// before any request.
func TestMachineGrantPrivateKeyJWT(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	scenario := func(alg, pemText string) scenarioContext {
		return scenarioContext{Name: "auth/client-credentials-jwt", ClientID: "conformance-test-client", PrivateKeyPEM: pemText, SigningAlgorithm: alg}
	}

	cfg := &authloop.Config{OAuth2: &oauth2.Config{}}
	mode, err := machineGrant(cfg, scenario("ES256", keyPEM))
	if err != nil || mode != "client credentials, private_key_jwt" {
		t.Fatalf("machineGrant = %q, %v", mode, err)
	}
	if !key.PublicKey.Equal(cfg.ClientKey.Public()) {
		t.Error("Config.ClientKey is not the context's key")
	}
	if cfg.OAuth2.ClientSecret != "" || cfg.ClientKeyAudience != "" {
		t.Errorf("secret %q, audience %q: want none (the audience defaults to the issuer, which the suite checks)", cfg.OAuth2.ClientSecret, cfg.ClientKeyAudience)
	}
	form, err := cfg.Grant.GrantForm(t.Context(), target)
	if err != nil || form.Encode() != "grant_type=client_credentials" {
		t.Errorf("form = %s, %v; want client credentials", form.Encode(), err)
	}

	for _, tc := range []struct{ name, alg, pem string }{
		{"another algorithm", "RS256", keyPEM},
		{"not a key", "ES256", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
	} {
		cfg := &authloop.Config{OAuth2: &oauth2.Config{}}
		if mode, err := machineGrant(cfg, scenario(tc.alg, tc.pem)); err == nil || cfg.Grant != nil {
			t.Errorf("%s: machineGrant = %q, %v, Grant %v; want an error and no grant", tc.name, mode, err, cfg.Grant)
		}
	}
}
