package register

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/store"
)

// ExpirySkew is how long before its client_secret_expires_at a client
// secret counts as expired, so that a login does not start with a secret
// that dies halfway.
const ExpirySkew = time.Minute

// Choose returns the client to sign in with at the authorization server md
// describes, in the MCP specification's order, and whether it is new (not
// kept): the caller saves a new client with the credential record.
//
//  1. opts.ClientID set: that pre-registered client, with opts.ClientSecret.
//  2. opts.MetadataDocumentURL set and the server advertises
//     client_id_metadata_document_supported: the Client ID Metadata
//     Document client (see ClientIDMetadata). An unacceptable URL is an
//     error, whether or not the server supports documents; a server that
//     does not is not an error, Choose goes on.
//  3. kept, when it is a registration this package made by Dynamic (its
//     Metadata holds the registration response) for this very issuer
//     (kept.Issuer and md.Issuer the same by discovery.SameIssuer), for
//     the redirect URIs opts.Registration asks for (and its authentication
//     method, when it names one), whose secret has not expired (or expires
//     more than ExpirySkew from now).
//  4. The server has a registration_endpoint: a new registration of
//     opts.Registration (see Dynamic).
//  5. Otherwise an error wrapping ErrNoClient that says what the person can
//     do: pre-register a client and pass its id (or, where the server
//     accepts them, publish a Client ID Metadata Document).
//
// In steps 1 and 2, kept is returned (not new) when it is the same client
// for the same issuer. kept is never used for another issuer: a
// registration is valid only where it was made. After the server answered
// invalid_client (IsInvalidClient), call Choose with kept nil to register
// anew; that helps only for dynamic registrations, and the caller should do
// it once per failure, not in a loop.
//
// client nil means http.DefaultClient; it is used only for dynamic
// registration.
func Choose(ctx context.Context, client *http.Client, md *discovery.AuthServerMetadata, opts Options, kept *store.Client) (*store.Client, bool, error) {
	if md == nil || md.Issuer == "" {
		return nil, false, errors.New("register: no authorization server metadata (or no issuer in it): discover the server first")
	}
	if kept != nil && !discovery.SameIssuer(kept.Issuer, md.Issuer) {
		kept = nil // another server's registration: never used here
	}
	same := func(c *store.Client) (*store.Client, bool, error) {
		if kept != nil && kept.ClientID == c.ClientID && kept.ClientSecret == c.ClientSecret {
			return kept, false, nil
		}
		return c, true, nil
	}

	if opts.ClientID != "" {
		return same(&store.Client{Issuer: md.Issuer, ClientID: opts.ClientID, ClientSecret: opts.ClientSecret})
	}
	if opts.MetadataDocumentURL != "" {
		if err := CheckMetadataURL(opts.MetadataDocumentURL); err != nil {
			return nil, false, fmt.Errorf("%w (Options.MetadataDocumentURL)", err)
		}
		if md.ClientIDMetadataDocumentSupported {
			c, err := ClientIDMetadata(md, opts.MetadataDocumentURL)
			if err != nil {
				return nil, false, err
			}
			return same(c)
		}
	}
	if kept != nil && reusable(kept, &opts.Registration, time.Now()) {
		return kept, false, nil
	}
	if md.RegistrationEndpoint != "" {
		c, err := Dynamic(ctx, client, md, opts.Registration)
		if err != nil {
			return nil, false, err
		}
		return c, true, nil
	}
	return nil, false, noClientError(md, opts)
}

// reusable reports whether kept is a dynamic registration for the redirect
// URIs (and the authentication method, when it names one) that req asks
// for, whose secret is still good at now.
func reusable(kept *store.Client, req *Request, now time.Time) bool {
	if kept.ClientID == "" || len(kept.Metadata) == 0 {
		return false
	}
	var m struct {
		ClientID     string   `json:"client_id"`
		RedirectURIs []string `json:"redirect_uris"`
	}
	if json.Unmarshal(kept.Metadata, &m) != nil || m.ClientID != kept.ClientID {
		return false
	}
	if m.RedirectURIs != nil && !sameSet(m.RedirectURIs, req.redirectURIs()) {
		return false
	}
	if req.TokenEndpointAuthMethod != "" && req.TokenEndpointAuthMethod != AuthMethod(kept) {
		return false
	}
	return !SecretExpired(kept, now)
}

// SecretExpired reports whether c's client secret has expired at now, or
// expires within ExpirySkew of it. A client without a secret, or whose
// secret never expires (ClientSecretExpiresAt zero), never expires.
func SecretExpired(c *store.Client, now time.Time) bool {
	if c == nil || c.ClientSecret == "" || c.ClientSecretExpiresAt.IsZero() {
		return false
	}
	return !now.Add(ExpirySkew).Before(c.ClientSecretExpiresAt)
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// noClientError explains that no client can be had at md's server, and
// what to do.
func noClientError(md *discovery.AuthServerMetadata, opts Options) error {
	var msg string
	switch {
	case md.ClientIDMetadataDocumentSupported:
		msg = fmt.Sprintf("the authorization server %s has no registration_endpoint (RFC 7591 dynamic registration); it accepts Client ID Metadata Documents: publish one (see register.MetadataDocument) and pass its https URL as the metadata document URL, or pre-register a client there and pass its client id (and secret, if it has one)", md.Issuer)
	case opts.MetadataDocumentURL != "":
		msg = fmt.Sprintf("the authorization server %s neither accepts Client ID Metadata Documents (no client_id_metadata_document_supported), so %s cannot be used, nor has a registration_endpoint (RFC 7591 dynamic registration); pre-register a client there (ask its administrator) and pass its client id (and secret, if it has one)", md.Issuer, opts.MetadataDocumentURL)
	default:
		msg = fmt.Sprintf("the authorization server %s has no registration_endpoint (RFC 7591 dynamic registration) and does not accept Client ID Metadata Documents; pre-register a client there (ask its administrator) and pass its client id (and secret, if it has one)", md.Issuer)
	}
	return fmt.Errorf("%w: %s", ErrNoClient, msg)
}
