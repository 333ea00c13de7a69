package integration_test

// private_key_jwt (RFC 7523 §2.2) at the peers, with package assertion's
// Signer: which audience each peer takes, and whether it refuses a
// replayed assertion.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/assertion"
	"github.com/authloop/authloop/integration/peers"
)

// keyClient makes an ES256 key and registers a private_key_jwt client of
// the client credentials grant with its public key (Signer.JWKS).
func keyClient(t *testing.T, m *machine, ttl time.Duration) (peers.Client, *ecdsa.PrivateKey, *assertion.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := assertion.NewSigner(key, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.newClient(t.Context(), peers.MachineClientOptions{
		AuthMethod:     "private_key_jwt",
		JWKS:           json.RawMessage(signer.JWKS()),
		SigningAlg:     signer.Algorithm(),
		AccessTokenTTL: ttl,
	})
	if err != nil {
		t.Fatalf("register a private_key_jwt client at %s: %v", m.srv.name, err)
	}
	return c, key, signer
}

// assertedGrant sends one client credentials request by hand, the client
// authenticated with the assertion, and returns the status and the OAuth
// error code (with its description) of a refusal.
func assertedGrant(ctx context.Context, tokenURL, clientID, jwt string) (int, string, error) {
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {peers.MachineScope},
		"client_id":             {clientID},
		"client_assertion_type": {assertion.ClientAssertionType},
		"client_assertion":      {jwt},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, "", nil
	}
	var oe struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(b, &oe); err != nil {
		return resp.StatusCode, "", fmt.Errorf("token endpoint answered %d with a body that is not JSON: %.200q", resp.StatusCode, b)
	}
	return resp.StatusCode, oe.Error + ": " + oe.Description, nil
}

// What each peer does with a client assertion: the audiences it takes,
// and its answer to a jti it has seen. Read in their source (fosite
// v0.49.0 client_authentication.go: aud must be one of the token endpoint
// URLs; oidc-provider 9.13.3 shared/jwt_client_auth.js: the issuer, the
// token endpoint or the endpoint the request is at) and asserted here, so
// that a new version that changes it shows.
var assertionRules = map[string]struct {
	issuer, tokenEndpoint bool   // whether aud = it is accepted
	replay                string // the answer to a replayed assertion: error code prefix
}{
	"hydra":         {issuer: false, tokenEndpoint: true, replay: "jti_known"},
	"oidc-provider": {issuer: true, tokenEndpoint: true, replay: "invalid_client"},
}

// TestPrivateKeyJWTAudienceAndReplay: at each peer, a private_key_jwt
// client (an ES256 key, registered with Signer.JWKS) sends client
// credentials requests by hand with package assertion's ClientAssertion:
// aud = the issuer, aud = the token endpoint, and an assertion sent twice
// (the same jti). What each peer accepts is assertionRules; a refused aud
// is invalid_client.
func TestPrivateKeyJWTAudienceAndReplay(t *testing.T) {
	forEachMachine(t, func(t *testing.T, m *machine) {
		ctx := t.Context()
		rules := assertionRules[m.srv.name]
		meta := mustMetadata(t, m.srv.issuer())
		c, _, signer := keyClient(t, m, 0)
		for _, aud := range []struct {
			name, value string
			want        bool
		}{
			{"issuer", meta.Issuer, rules.issuer},
			{"token endpoint", meta.TokenEndpoint, rules.tokenEndpoint},
		} {
			jwt, err := signer.ClientAssertion(c.ID, aud.value, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			status, code, err := assertedGrant(ctx, meta.TokenEndpoint, c.ID, jwt)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case aud.want && status != http.StatusOK:
				t.Errorf("aud = the %s (%s): %d %s; want 200", aud.name, aud.value, status, code)
			case !aud.want && (status == http.StatusOK || !strings.HasPrefix(code, "invalid_client")):
				t.Errorf("aud = the %s (%s): %d %q; want invalid_client", aud.name, aud.value, status, code)
			}
			t.Logf("%s, aud = the %s: %d %s", m.srv.name, aud.name, status, code)
		}
		jwt, err := signer.ClientAssertion(c.ID, meta.TokenEndpoint, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		first, _, err := assertedGrant(ctx, meta.TokenEndpoint, c.ID, jwt)
		if err != nil {
			t.Fatal(err)
		}
		again, code, err := assertedGrant(ctx, meta.TokenEndpoint, c.ID, jwt)
		if err != nil {
			t.Fatal(err)
		}
		if first != http.StatusOK || again == http.StatusOK || !strings.HasPrefix(code, rules.replay) {
			t.Errorf("one assertion sent twice: %d, then %d %q; want 200, then %s", first, again, code, rules.replay)
		}
		t.Logf("%s, the same assertion again: %d %s", m.srv.name, again, code)
	})
}

// TestClientCredentialsPrivateKeyJWT: a program's Session with
// Config.Grant = ClientCredentials() and Config.ClientKey (an ES256 key
// whose public half the peer registered) at each peer: the same lifecycle
// as with a secret (checkGrantAcrossExpiries), every token request
// authenticated with a new assertion (its own jti) whose aud is what the
// peer takes: Config.ClientKeyAudience = the token endpoint at Hydra, the
// default (the issuer) at oidc-provider. At Hydra, the default audience is
// refused: a *GrantRefusedError invalid_client after one request.
func TestClientCredentialsPrivateKeyJWT(t *testing.T) {
	forEachMachine(t, func(t *testing.T, m *machine) {
		rules := assertionRules[m.srv.name]
		c, key, _ := keyClient(t, m, machineTTL)
		cfg, log := machineConfig(t, m, c, authloop.ClientCredentials())
		cfg.ClientKey = key
		wantAud := cfg.Issuer
		if !rules.issuer {
			cfg.ClientKeyAudience = cfg.OAuth2.Endpoint.TokenURL
			wantAud = cfg.ClientKeyAudience
		}
		checkGrantAcrossExpiries(t, m, cfg, log, c.ID, "private_key_jwt")
		jtis := map[string]bool{}
		for i, r := range log.all() {
			claims := jwtClaims(t, r.assertion)
			jti, _ := claims["jti"].(string)
			if jti == "" || jtis[jti] {
				t.Errorf("token request %d: the assertion's jti %q is empty or was sent before", i+1, jti)
			}
			jtis[jti] = true
			if aud := audiences(claims); len(aud) != 1 || aud[0] != wantAud {
				t.Errorf("token request %d: the assertion's aud %q; want %q", i+1, aud, wantAud)
			}
			if claims["iss"] != c.ID || claims["sub"] != c.ID {
				t.Errorf("token request %d: iss %v, sub %v; want the client id %s", i+1, claims["iss"], claims["sub"], c.ID)
			}
		}
		if rules.issuer {
			return
		}
		// The default audience, the issuer, which this peer refuses.
		cfg2, log2 := machineConfig(t, m, c, authloop.ClientCredentials())
		cfg2.ClientKey = key
		s := newSession(t, cfg2, nil)
		_, err := s.Token(t.Context())
		var gr *authloop.GrantRefusedError
		var oe *authloop.OAuthError
		if !errors.As(err, &gr) || !errors.As(err, &oe) || oe.Code != "invalid_client" {
			t.Fatalf("Token with the assertion's aud the issuer: %v; want a *GrantRefusedError invalid_client", err)
		}
		if n := len(log2.all()); n != 1 {
			t.Errorf("%d token requests for the refused audience; want 1", n)
		}
		t.Logf("%s, ClientKeyAudience left to its default (the issuer): %v", m.srv.name, err)
	})
}
