package oauthtest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestRequestLogHasNoSecrets runs every kind of request and checks that no
// code, token, secret or verifier shows up in the log.
func TestRequestLogHasNoSecrets(t *testing.T) {
	s := newTestServer(t, Config{Clients: []Client{{ID: "pub"}, {ID: "conf", Secret: "very-secret-value", AuthMethod: AuthClientSecretPost}}})
	var secrets []string
	secrets = append(secrets, "very-secret-value", testVerifier)

	p := authParams(s)
	code := getCode(t, s, p)
	secrets = append(secrets, code)
	res := redeem(t, s, code)
	secrets = append(secrets, res.str("access_token"), res.str("refresh_token"), res.str("id_token"))
	res2 := refresh(t, s, res.str("refresh_token"), nil)
	secrets = append(secrets, res2.str("access_token"), res2.str("refresh_token"))
	refresh(t, s, res.str("refresh_token"), nil) // reuse, an error
	cc := postForm(t, s.TokenEndpoint(), url.Values{"grant_type": {"client_credentials"}, "client_id": {"conf"}, "client_secret": {"very-secret-value"}}, nil)
	secrets = append(secrets, cc.str("access_token"))
	callResource(t, s, "Bearer "+cc.str("access_token"))
	revoke(t, s, url.Values{"token": {cc.str("access_token")}, "client_id": {"conf"}, "client_secret": {"very-secret-value"}}, nil)
	_, reg := register(t, s, `{"redirect_uris":["http://127.0.0.1/cb"]}`)
	secrets = append(secrets, reg["client_secret"].(string))
	s.FailNext(1, Fault{Kind: FaultServerError})
	refresh(t, s, res2.str("refresh_token"), nil)

	reqs := s.Requests()
	dump := fmt.Sprintf("%+v", reqs)
	for _, sec := range secrets {
		if sec == "" {
			t.Fatal("empty secret collected")
		}
		if strings.Contains(dump, sec) {
			t.Errorf("log contains a secret %.8s...", sec)
		}
	}
	wantEndpoints := []string{"authorize", "token", "token", "token", "token", "resource", "revoke", "register", "token"}
	if len(reqs) != len(wantEndpoints) {
		t.Fatalf("%d entries: %+v", len(reqs), reqs)
	}
	for i, e := range wantEndpoints {
		if reqs[i].Endpoint != e {
			t.Errorf("entry %d endpoint %s, want %s", i, reqs[i].Endpoint, e)
		}
	}
	if r := reqs[1]; r.GrantType != "authorization_code" || r.ClientID != "pub" || r.Status != 200 || r.Method != http.MethodPost {
		t.Errorf("exchange entry %+v", r)
	}
	if r := reqs[3]; r.Error != "invalid_grant" || r.Status != 400 {
		t.Errorf("reuse entry %+v", r)
	}
	if r := reqs[0]; r.ClientID != "pub" || r.Status != http.StatusFound {
		t.Errorf("authorize entry %+v", r)
	}
	for name, want := range map[string]int{"authorize": 1, "token": 5, "resource": 1, "revoke": 1, "register": 1, "metadata": 0} {
		if got := s.Count(name); got != want {
			t.Errorf("Count(%s) = %d, want %d", name, got, want)
		}
	}
}

func TestAddClient(t *testing.T) {
	s := newTestServer(t, Config{})
	if s.ClientID() != DefaultClientID {
		t.Fatalf("ClientID = %s", s.ClientID())
	}
	c := Client{ID: "late", RedirectURIs: []string{"http://localhost/cb"}}
	s.AddClient(c)
	c.RedirectURIs[0] = "http://localhost/changed" // the server keeps its own copy
	p := authParams(s)
	p.Set("client_id", "late")
	p.Set("redirect_uri", "http://localhost:9/cb")
	getCode(t, s, p)
}
