package discovery

import "testing"

func TestSupportsDPoP(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want bool
	}{
		{`{"issuer":"https://a.example","dpop_signing_alg_values_supported":["RS256","ES256"]}`, true},
		{`{"issuer":"https://a.example","dpop_signing_alg_values_supported":["RS256"]}`, false},
		{`{"issuer":"https://a.example","dpop_signing_alg_values_supported":["es256"]}`, false},
		{`{"issuer":"https://a.example","dpop_signing_alg_values_supported":"ES256"}`, false},
		{`{"issuer":"https://a.example","dpop_signing_alg_values_supported":null}`, false},
		{`{"issuer":"https://a.example"}`, false},
	} {
		m, err := DecodeAuthServerMetadata([]byte(tc.doc))
		if err != nil {
			t.Fatalf("%s: %v (a malformed DPoP member must not refuse the metadata)", tc.doc, err)
		}
		if got := m.SupportsDPoP("ES256"); got != tc.want {
			t.Errorf("%s: SupportsDPoP(ES256) = %v, want %v", tc.doc, got, tc.want)
		}
	}
	var nilMD *AuthServerMetadata
	if nilMD.SupportsDPoP("ES256") {
		t.Error("nil metadata supports DPoP")
	}
}
