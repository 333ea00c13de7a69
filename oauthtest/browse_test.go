package oauthtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// callbackServer records the query or form the redirect URI receives.
func callbackServer(t *testing.T) (*httptest.Server, chan url.Values) {
	t.Helper()
	got := make(chan url.Values, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got <- r.Form
		fmt.Fprint(w, "logged in")
	}))
	t.Cleanup(cb.Close)
	return cb, got
}

func browseParams(s *Server, redirect string) url.Values {
	p := authParams(s)
	p.Set("redirect_uri", redirect)
	return p
}

func TestBrowse(t *testing.T) {
	for _, mode := range []string{"query", "form_post"} {
		for _, consent := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/consent=%v", mode, consent), func(t *testing.T) {
				s := newTestServer(t, Config{Consent: consent})
				cb, got := callbackServer(t)
				p := browseParams(s, cb.URL+"/callback")
				p.Set("response_mode", mode)
				status, body, err := Browse(context.Background(), nil, s.AuthorizationEndpoint()+"?"+p.Encode())
				if err != nil || status != 200 || string(body) != "logged in" {
					t.Fatalf("Browse: %d %q %v", status, body, err)
				}
				q := <-got
				if q.Get("code") == "" || q.Get("state") != "st4te" || q.Get("iss") != s.Issuer() {
					t.Fatalf("callback got %v", q)
				}
				res := postForm(t, s.TokenEndpoint(), url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
					"redirect_uri": {cb.URL + "/callback"}, "client_id": {s.ClientID()}, "code_verifier": {testVerifier}}, nil)
				if res.status != 200 {
					t.Fatal(res.body)
				}
			})
		}
	}
}

func TestConsentPage(t *testing.T) {
	s := newTestServer(t, Config{Consent: true})
	resp, body := get(t, noRedirectClient(t), s.AuthorizationEndpoint()+"?"+authParams(s).Encode())
	if resp.StatusCode != 200 || !strings.Contains(body, "Approve") || !strings.Contains(body, "Deny") || !strings.Contains(body, `data-oauthtest="consent"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// Deny.
	form := authParams(s)
	form.Set("decision", "deny")
	r := postForm(t, s.AuthorizationEndpoint(), form, nil)
	if r.status != http.StatusFound {
		t.Fatalf("deny: %d", r.status)
	}
	loc, _ := url.Parse(r.header.Get("Location"))
	if loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "st4te" {
		t.Errorf("deny redirect %s", loc)
	}
}

func TestBrowseErrorPage(t *testing.T) {
	s := newTestServer(t, Config{})
	p := authParams(s)
	p.Set("client_id", "unknown")
	status, body, err := Browse(context.Background(), nil, s.AuthorizationEndpoint()+"?"+p.Encode())
	if err != nil || status != 400 || !strings.Contains(string(body), "unknown") {
		t.Fatalf("%d %q %v", status, body, err)
	}
	if _, _, err := Browse(context.Background(), nil, "::bad"); err == nil {
		t.Error("no error for a bad URL")
	}
}
