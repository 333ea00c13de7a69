package register

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseRegistration feeds arbitrary registration responses (RFC 7591
// §3.2) to the parsers: they never panic; a response is either a client
// with a client id or a problem, never both; the kept Metadata never holds
// a secret field, whatever its spelling; a client_secret_* method comes with
// a secret; and the problem never quotes a secret.
func FuzzParseRegistration(f *testing.F) {
	for _, seed := range []string{
		`{"client_id":"c1","client_secret":"s3cr3t-value","client_secret_expires_at":0,"token_endpoint_auth_method":"client_secret_basic","registration_access_token":"rat-value","registration_client_uri":"https://as.example/register/c1"}`,
		`{"client_id":"c1","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1/callback"]}`,
		`{"client_id":"c1","client_secret_expires_at":"1700000000"}`,
		`{"client_id":"c1","client_secret_expires_at":-1}`,
		`{"client_id":"c1","token_endpoint_auth_method":"client_secret_post"}`,
		`{"client_id":1}`,
		`{"error":"invalid_redirect_uri","error_description":"bad"}`,
		`{"Client_Secret":"s3cr3t-value","client_id":"c1"}`,
		`[1]`,
		`null`,
		``,
	} {
		f.Add(seed, "none")
	}
	f.Fuzz(func(t *testing.T, data, asked string) {
		_ = parseOAuthError([]byte(data))
		c, problem := parseRegistration("https://as.example", asked, []byte(data), nil)
		if (c == nil) == (problem == "") {
			t.Fatalf("want exactly one of client and problem, got %+v and %q", c, problem)
		}
		var r struct {
			Secret any `json:"client_secret"`
			RAT    any `json:"registration_access_token"`
		}
		_ = json.Unmarshal([]byte(data), &r)
		for _, v := range []any{r.Secret, r.RAT} {
			if s, ok := v.(string); ok && len(s) >= 8 && problem != "" && strings.Contains(problem, s) {
				t.Fatalf("problem quotes a secret: %q", problem)
			}
		}
		if c == nil {
			return
		}
		if c.ClientID == "" || c.Issuer != "https://as.example" {
			t.Fatalf("client %+v", c)
		}
		if c.Metadata != nil {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(c.Metadata, &m); err != nil {
				t.Fatalf("kept metadata is not a JSON object: %v", err)
			}
			for k := range m {
				for _, s := range secretFields {
					if strings.EqualFold(k, s) {
						t.Fatalf("kept metadata holds the secret field %q: %s", k, c.Metadata)
					}
				}
			}
		}
	})
}
