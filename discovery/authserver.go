package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// AuthServerMetadata is an authorization server's metadata (RFC 8414 §2,
// OpenID Connect Discovery 1.0 §3): the fields authloop uses, and the whole
// document in Raw.
type AuthServerMetadata struct {
	// Issuer is the document's issuer identifier, as the document spells
	// it: the value to compare the iss of authorization responses with
	// (RFC 9207), exactly.
	Issuer string `json:"issuer"`

	// The endpoints, absolute URLs or "" when the document has none.
	// AuthServer guarantees that each is https, or http on a loopback host.
	AuthorizationEndpoint       string `json:"authorization_endpoint,omitempty"`
	TokenEndpoint               string `json:"token_endpoint,omitempty"`
	RegistrationEndpoint        string `json:"registration_endpoint,omitempty"`
	RevocationEndpoint          string `json:"revocation_endpoint,omitempty"`
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint,omitempty"`
	IntrospectionEndpoint       string `json:"introspection_endpoint,omitempty"`
	UserinfoEndpoint            string `json:"userinfo_endpoint,omitempty"`
	JWKSURI                     string `json:"jwks_uri,omitempty"`

	// The capabilities the server advertises, nil when absent.
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported            []string `json:"response_types_supported,omitempty"`
	ResponseModesSupported            []string `json:"response_modes_supported,omitempty"`
	GrantTypesSupported               []string `json:"grant_types_supported,omitempty"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported,omitempty"`

	// AuthorizationResponseIssParameterSupported is true when the server
	// sends iss in authorization responses (RFC 9207 §3).
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported,omitempty"`
	// ClientIDMetadataDocumentSupported is true when the server accepts an
	// https URL as client_id, pointing to a Client ID Metadata Document.
	ClientIDMetadataDocumentSupported bool `json:"client_id_metadata_document_supported,omitempty"`

	// Raw is the document as received, for fields this type does not name
	// and for storing: DecodeAuthServerMetadata(Raw) gives this value back.
	Raw json.RawMessage `json:"-"`
}

// SupportsDPoP reports whether dpop_signing_alg_values_supported (RFC 9449
// §5.1) lists alg, compared exactly. The member is read from Raw, leniently:
// absent, or not a list of strings, it lists nothing, and the metadata is
// not refused for it.
func (m *AuthServerMetadata) SupportsDPoP(alg string) bool {
	if m == nil || len(m.Raw) == 0 {
		return false
	}
	var doc struct {
		Algs json.RawMessage `json:"dpop_signing_alg_values_supported"`
	}
	var algs []string
	if json.Unmarshal(m.Raw, &doc) != nil || json.Unmarshal(doc.Algs, &algs) != nil {
		return false
	}
	return slices.Contains(algs, alg)
}

// SupportsS256 reports whether code_challenge_methods_supported lists
// "S256" (compared exactly, as the PKCE method registry spells it).
func (m *AuthServerMetadata) SupportsS256() bool {
	return m != nil && slices.Contains(m.CodeChallengeMethodsSupported, "S256")
}

// endpoints lists the metadata's endpoint URLs by field name.
func (m *AuthServerMetadata) endpoints() [][2]string {
	return [][2]string{
		{"authorization_endpoint", m.AuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
		{"registration_endpoint", m.RegistrationEndpoint},
		{"revocation_endpoint", m.RevocationEndpoint},
		{"device_authorization_endpoint", m.DeviceAuthorizationEndpoint},
		{"introspection_endpoint", m.IntrospectionEndpoint},
		{"userinfo_endpoint", m.UserinfoEndpoint},
		{"jwks_uri", m.JWKSURI},
	}
}

// DecodeAuthServerMetadata decodes an authorization server metadata
// document. It checks the shape only: a JSON object, a non-empty issuer,
// and the fields it names of the right JSON types. It neither checks the
// issuer against anything nor requires S256; AuthServer does that.
func DecodeAuthServerMetadata(data []byte) (*AuthServerMetadata, error) {
	if !isJSONObject(data) {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidMetadata)
	}
	var m AuthServerMetadata
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidMetadata, describeJSONError(err))
	}
	if m.Issuer == "" {
		return nil, fmt.Errorf("%w: no issuer", ErrInvalidMetadata)
	}
	m.Raw = json.RawMessage(bytes.Clone(data))
	return &m, nil
}

// describeJSONError says which field had the wrong type, without quoting
// the document.
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q is a JSON %s, want %s", te.Field, te.Value, te.Type)
	}
	return "malformed JSON"
}

// metadataURLs returns the well-known URLs to try for issuer, in the MCP
// specification's order. For an issuer with a path (any trailing "/"
// removed first, RFC 8414 §3.1):
//
//	/.well-known/oauth-authorization-server/<path>
//	/.well-known/openid-configuration/<path>
//	<path>/.well-known/openid-configuration
//
// and for one without:
//
//	/.well-known/oauth-authorization-server
//	/.well-known/openid-configuration
func metadataURLs(issuer *url.URL) []*url.URL {
	base := &url.URL{Scheme: issuer.Scheme, Host: issuer.Host}
	p := strings.TrimRight(issuer.EscapedPath(), "/")
	at := func(escapedPath string) *url.URL {
		u := *base
		u.Path, _ = url.PathUnescape(escapedPath)
		u.RawPath = escapedPath
		return &u
	}
	if p == "" {
		return []*url.URL{
			at("/.well-known/oauth-authorization-server"),
			at("/.well-known/openid-configuration"),
		}
	}
	return []*url.URL{
		at("/.well-known/oauth-authorization-server" + p),
		at("/.well-known/openid-configuration" + p),
		at(p + "/.well-known/openid-configuration"),
	}
}

// MetadataURLs returns the URLs AuthServer tries for issuer, in order,
// or an error if issuer is not a usable issuer identifier.
func MetadataURLs(issuer string) ([]string, error) {
	u, err := parseIssuer(issuer)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range metadataURLs(u) {
		out = append(out, m.String())
	}
	return out, nil
}

// parseIssuer checks that issuer is an absolute https URL (http on a
// loopback host) without query or fragment (RFC 8414 §2).
func parseIssuer(issuer string) (*url.URL, error) {
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("discovery: issuer %q is not an absolute URL: use the authorization server's issuer identifier, such as https://auth.example.com", issuer)
	}
	if u.RawQuery != "" || u.ForceQuery || strings.Contains(issuer, "#") || u.User != nil {
		return nil, fmt.Errorf("discovery: issuer %q has a query, fragment or user information, which an issuer identifier cannot have (RFC 8414 §2)", issuer)
	}
	if err := checkSecure(u); err != nil {
		return nil, fmt.Errorf("discovery: issuer %q: %w", issuer, err)
	}
	return u, nil
}

// AuthServer fetches the metadata of the authorization server whose issuer
// identifier is issuer, trying the URLs of MetadataURLs in order. It
// returns the first document that:
//   - is a JSON object of at most MaxBodySize bytes, answered with 200;
//   - has an issuer equal to issuer by SameIssuer (exact, but for one
//     trailing slash); a document for another issuer is not used, and the
//     next URL is tried;
//   - names only https endpoints (or http ones on loopback hosts).
//
// When none does, the error is a *NotFoundError naming each URL tried and
// why it was not used. When the document found does not support PKCE with
// S256 (code_challenge_methods_supported absent, or without "S256"),
// AuthServer returns an error wrapping ErrNoS256 that names the issuer, and
// no metadata: the MCP specification forbids going on.
//
// client nil means http.DefaultClient. Its Jar is not used, and redirects
// are followed only within the origin of each URL.
func AuthServer(ctx context.Context, client *http.Client, issuer string) (*AuthServerMetadata, error) {
	iu, err := parseIssuer(issuer)
	if err != nil {
		return nil, err
	}
	c := fetchClient(client)
	nf := &NotFoundError{
		What: fmt.Sprintf("authorization server metadata for issuer %q", issuer),
		Fix:  "check the issuer URL (it must be the server's issuer identifier exactly) and that the server publishes RFC 8414 or OpenID Connect discovery metadata",
	}
	for _, mu := range metadataURLs(iu) {
		body, fe := fetchJSON(ctx, c, mu)
		if fe != nil {
			if ctx.Err() != nil {
				return nil, fe
			}
			nf.Tried = append(nf.Tried, fe)
			continue
		}
		m, err := DecodeAuthServerMetadata(body)
		if err != nil {
			nf.Tried = append(nf.Tried, &FetchError{URL: mu.String(), Status: http.StatusOK, Problem: strings.TrimPrefix(err.Error(), "discovery: "), Err: ErrInvalidMetadata})
			continue
		}
		if !SameIssuer(m.Issuer, issuer) {
			nf.Tried = append(nf.Tried, &FetchError{
				URL:     mu.String(),
				Status:  http.StatusOK,
				Problem: fmt.Sprintf("document is for issuer %s, not %q (RFC 8414 §3.3), so it was not used", quoteShort(m.Issuer), issuer),
				Err:     ErrIssuerMismatch,
			})
			continue
		}
		if p := insecureEndpoint(m); p != "" {
			nf.Tried = append(nf.Tried, &FetchError{URL: mu.String(), Status: http.StatusOK, Problem: p, Err: ErrInvalidMetadata})
			continue
		}
		if !m.SupportsS256() {
			what := "lists no code_challenge_methods_supported"
			if len(m.CodeChallengeMethodsSupported) > 0 {
				what = "lists code_challenge_methods_supported without S256"
			}
			return nil, fmt.Errorf("%w: the metadata of issuer %q (%s) %s; authloop requires PKCE with S256 and will not log in to this server: ask its operator to enable S256 and advertise it",
				ErrNoS256, issuer, mu, what)
		}
		return m, nil
	}
	return nil, nf
}

// insecureEndpoint returns a problem description when one of m's endpoints
// is not an absolute https URL (or http on a loopback host), else "".
func insecureEndpoint(m *AuthServerMetadata) string {
	for _, ep := range m.endpoints() {
		if ep[1] == "" {
			continue
		}
		u, err := url.Parse(ep[1])
		if err != nil || !u.IsAbs() || u.Host == "" {
			return fmt.Sprintf("%s %s is not an absolute URL", ep[0], quoteShort(ep[1]))
		}
		if checkSecure(u) != nil {
			return fmt.Sprintf("%s %s is neither https nor http on a loopback host", ep[0], quoteShort(ep[1]))
		}
	}
	return ""
}
