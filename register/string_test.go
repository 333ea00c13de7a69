package register_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/authloop/authloop/register"
	"github.com/authloop/authloop/store"
)

func TestNoSecretsInStrings(t *testing.T) {
	opts := register.Options{
		ClientID:     "id",
		ClientSecret: "client-secret-value",
		Registration: register.Request{ClientName: "n", InitialAccessToken: "initial-token-value"},
	}
	for _, s := range []string{
		opts.String(), fmt.Sprint(opts), fmt.Sprintf("%v %+v %s", opts, opts, opts),
		opts.Registration.String(), fmt.Sprintf("%v %+v", opts.Registration, opts.Registration),
	} {
		if strings.Contains(s, "client-secret-value") || strings.Contains(s, "initial-token-value") {
			t.Errorf("secret in %q", s)
		}
	}
	if !strings.Contains(opts.String(), "[redacted]") || !strings.Contains(opts.Registration.String(), "[redacted]") {
		t.Errorf("no mark of the redacted secret: %s", opts)
	}
	if strings.Contains(register.Options{}.String(), "redacted") {
		t.Error("empty secret shown as redacted")
	}
}

func TestAuthMethod(t *testing.T) {
	for _, tc := range []struct {
		c    *store.Client
		want string
	}{
		{nil, "none"},
		{&store.Client{ClientID: "a"}, "none"},
		{&store.Client{ClientID: "a", ClientSecret: "s"}, "client_secret_basic"},
		{&store.Client{ClientID: "a", ClientSecret: "s", Metadata: []byte(`{"token_endpoint_auth_method":"client_secret_post"}`)}, "client_secret_post"},
		{&store.Client{ClientID: "a", Metadata: []byte(`not json`)}, "none"},
	} {
		if got := register.AuthMethod(tc.c); got != tc.want {
			t.Errorf("AuthMethod(%v) = %q, want %q", tc.c, got, tc.want)
		}
	}
}
