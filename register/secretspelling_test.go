package register

import (
	"strings"
	"testing"
)

// encoding/json fills ClientSecret from "Client_Secret" (its field names
// match without regard to case): the kept Metadata must drop that spelling
// too, not only "client_secret". Found by FuzzParseRegistration's property.
func TestParseRegistrationDropsSecretsInAnySpelling(t *testing.T) {
	data := `{"client_id":"c1","Client_Secret":"s3cr3t-value","REGISTRATION_ACCESS_TOKEN":"rat-value","token_endpoint_auth_method":"client_secret_basic"}`
	c, problem := parseRegistration("https://as.example", "none", []byte(data), nil)
	if problem != "" {
		t.Fatal(problem)
	}
	if c.ClientSecret != "s3cr3t-value" || c.RegistrationAccessToken != "rat-value" {
		t.Fatalf("secrets not read: %+v", c)
	}
	if strings.Contains(string(c.Metadata), "s3cr3t-value") || strings.Contains(string(c.Metadata), "rat-value") {
		t.Fatalf("metadata keeps a secret: %s", c.Metadata)
	}
	if !strings.Contains(string(c.Metadata), `"client_id":"c1"`) {
		t.Fatalf("metadata lost its public fields: %s", c.Metadata)
	}
}
