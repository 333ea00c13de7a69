package register

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/store"
)

// ClientIDMetadata returns the client for a Client ID Metadata Document
// published at documentURL: its client id is documentURL itself, it has no
// secret, and nothing is sent to the server now (the server fetches the
// document when the login starts). The document at that URL must be the
// one MetadataDocument renders for it.
//
// It fails with an error wrapping ErrNotSupported when the server's metadata
// does not advertise client_id_metadata_document_supported, and with one
// wrapping ErrInvalidMetadataURL when documentURL is not acceptable (see
// CheckMetadataURL).
func ClientIDMetadata(md *discovery.AuthServerMetadata, documentURL string) (*store.Client, error) {
	if md == nil || md.Issuer == "" {
		return nil, errors.New("register: no authorization server metadata (or no issuer in it): discover the server first")
	}
	if err := CheckMetadataURL(documentURL); err != nil {
		return nil, err
	}
	if !md.ClientIDMetadataDocumentSupported {
		return nil, fmt.Errorf("%w: the authorization server %s does not advertise client_id_metadata_document_supported, so it does not accept %s as a client id; use a pre-registered client or dynamic registration",
			ErrNotSupported, md.Issuer, documentURL)
	}
	return &store.Client{Issuer: md.Issuer, ClientID: documentURL}, nil
}

// CheckMetadataURL reports whether raw can be the client id of a Client ID
// Metadata Document, and returns an error wrapping ErrInvalidMetadataURL
// that says what is wrong otherwise. Following the OAuth Client ID Metadata
// Document draft, the URL must:
//   - be absolute, with the scheme "https" (in lower case: servers compare
//     the client id as a string) and a host;
//   - have a path other than "/", without "." or ".." segments;
//   - have no user information, no fragment and no query (the draft
//     discourages a query, and servers may refuse one).
//
// A port is allowed.
func CheckMetadataURL(raw string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %q %s; publish the document at an https URL with a path, such as https://app.example.com/oauth/client.json", ErrInvalidMetadataURL, raw, why)
	}
	if raw == "" {
		return bad("is empty")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad("is not a URL")
	case u.Scheme != "https":
		return fmt.Errorf("%w: %w: %q must use https", ErrInvalidMetadataURL, ErrInsecureURL, raw)
	case !strings.HasPrefix(raw, "https://"):
		return bad(`does not begin with "https://" in lower case`)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return bad("has no host")
	case u.User != nil:
		return bad("contains user information")
	case strings.Contains(raw, "#"):
		return bad("has a fragment")
	case strings.Contains(raw, "?"):
		return bad("has a query")
	case u.EscapedPath() == "" || u.EscapedPath() == "/":
		return bad("has no path")
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		if seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, "%2e%2e") ||
			strings.EqualFold(seg, ".%2e") || strings.EqualFold(seg, "%2e.") {
			return bad(`has a "." or ".." path segment`)
		}
	}
	return nil
}

// sharedSecretMethods are the token endpoint authentication methods that
// need a secret shared with the server, which a Client ID Metadata
// Document client cannot have.
var sharedSecretMethods = []string{AuthClientSecretBasic, AuthClientSecretPost, "client_secret_jwt"}

// MetadataDocument renders the Client ID Metadata Document a program must
// publish at documentURL, as indented JSON, from the client metadata in req:
// client_id (documentURL), client_name, redirect_uris, grant_types,
// response_types, token_endpoint_auth_method, application_type and the
// other fields req names, with the defaults Request documents (except that
// the authentication method is always "none" unless req names one).
//
// It returns an error for a documentURL CheckMetadataURL refuses, for an
// authentication method that needs a shared secret (client_secret_basic,
// client_secret_post, client_secret_jwt), and for Extra fields that hold a
// secret or contradict the document (client_id, client_secret,
// client_secret_expires_at): a published document is public.
// req.InitialAccessToken is not used.
func MetadataDocument(documentURL string, req Request) ([]byte, error) {
	if err := CheckMetadataURL(documentURL); err != nil {
		return nil, err
	}
	method := req.TokenEndpointAuthMethod
	if method == "" {
		method = AuthNone
	}
	for _, m := range sharedSecretMethods {
		if method == m {
			return nil, fmt.Errorf("register: a client ID metadata document cannot use token_endpoint_auth_method %q, which needs a shared secret; use %q (or private_key_jwt with keys)", method, AuthNone)
		}
	}
	for _, k := range []string{"client_id", "client_secret", "client_secret_expires_at"} {
		if _, ok := req.Extra[k]; ok {
			return nil, fmt.Errorf("register: Request.Extra must not hold %q in a client ID metadata document: the document is public and its client_id is its URL", k)
		}
	}
	fields := req.fields(method)
	fields["client_id"] = documentURL
	out, err := json.MarshalIndent(fields, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("register: encoding the client ID metadata document for %s: %w (check Request.Extra)", documentURL, err)
	}
	return append(out, '\n'), nil
}
