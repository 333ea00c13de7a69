package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/store"
)

// secretProxy fronts backend, rewriting its URL to the proxy's in both
// directions (use --issuer with it, a server with OmitIssuerInResponse and
// no openid scope: an ID token would name the backend). It makes the
// registration confidential (the request loses its
// token_endpoint_auth_method, so the backend issues a client secret), with
// client_secret_expires_at = expiresAt in the response (0: left as the
// backend sends it).
func secretProxy(backend *oauthtest.Server, expiresAt int64) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		self := "http://" + r.Host // not the server's variable: assigned after the server starts
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/register" {
			var m map[string]any
			_ = json.Unmarshal(body, &m)
			delete(m, "token_endpoint_auth_method")
			body, _ = json.Marshal(m)
		}
		body = bytes.ReplaceAll(body, []byte(self), []byte(backend.URL))
		req, _ := http.NewRequest(r.Method, backend.URL+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if r.URL.Path == "/register" && expiresAt != 0 {
			var m map[string]any
			_ = json.Unmarshal(out, &m)
			m["client_secret_expires_at"] = expiresAt
			out, _ = json.Marshal(m)
		}
		out = bytes.ReplaceAll(out, []byte(backend.URL), []byte(self))
		for k, vs := range resp.Header {
			if k == "Content-Length" {
				continue
			}
			for _, v := range vs {
				w.Header().Add(k, strings.ReplaceAll(v, backend.URL, self))
			}
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(out)
	}))
}

// A registration whose client secret has expired (client_secret_expires_at
// in the past: a short-lived secret, a clock ahead of the server's) cannot
// present the record's refresh token: `token` says a login is required
// (exit 3). status agrees (exit 3, login_required, the secret's expiry
// named) once the access token has expired, and login says when the
// secret expires. Before, status said "refresh token held" and exit 0
// while every token call exited 3, and login said nothing of the secret.
// The secret itself is never printed.
func TestE2ERegisteredClientSecretExpired(t *testing.T) {
	backend := oauthtest.NewServer(oauthtest.Config{OmitIssuerInResponse: true})
	defer backend.Close()
	px := secretProxy(backend, time.Now().Add(-time.Hour).Unix())
	defer px.Close()
	defer http.DefaultClient.CloseIdleConnections()
	c := newCLI(t)
	var wg sync.WaitGroup
	r := c.interactive(browseOn(t, px.URL+"/authorize", &wg), "login", "--profile", "s", "--no-browser", "--store", "file", "--issuer", px.URL, "--scope", "offline_access read", "--timeout", "20s")
	wg.Wait()
	if r.code != 0 || !strings.Contains(r.stderr, "client secret has already expired") {
		t.Fatalf("login: %v", r)
	}
	rec := c.recordOf(t, "s")
	if rec == nil || rec.Client == nil || rec.Client.ClientSecret == "" {
		t.Fatalf("no registration with a secret kept: %v", rec)
	}
	secret := rec.Client.ClientSecret
	rec.Token.Expiry = time.Now().Add(-time.Minute) // the access token expired
	st, err := store.NewFile(filepath.Join(c.dir, "config", "authloop"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Save(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	tr := c.run("", "token", "--profile", "s")
	sr := c.run("", "status", "--profile", "s")
	var sts []map[string]any
	jr := c.run("", "status", "--json")
	decodeJSON(t, jr.stdout, &sts)
	if tr.code != 3 || sr.code != tr.code || jr.code != tr.code || len(sts) != 1 || sts[0]["login_required"] != true || sts[0]["client_secret_expired"] != true ||
		!strings.Contains(sr.stdout, "client secret expired") {
		t.Errorf("token and status disagree:\ntoken: %v\nstatus: %v\nstatus --json: %v", tr, sr, jr)
	}
	for _, out := range []result{r, tr, sr, jr} {
		if strings.Contains(out.stdout+out.stderr, secret) {
			t.Errorf("the client secret printed: %v", out)
		}
	}
}
