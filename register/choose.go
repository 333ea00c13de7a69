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
	"github.com/authloop/authloop/internal/urlrule"
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
//  3. kept, when it is a registration this package made by Dynamic or
//     Update (its Metadata holds the registration response) for this very
//     issuer (kept.Issuer and md.Issuer the same by discovery.SameIssuer),
//     for the redirect URIs opts.Registration asks for (and its
//     authentication method, when it names one), whose secret has not
//     expired (or expires more than ExpirySkew from now).
//  4. kept fits but for its redirect URIs, and the server gave it a client
//     configuration endpoint (RFC 7592: RegistrationClientURI and
//     RegistrationAccessToken): kept updated to opts.Registration (see
//     Update), the same client id, reported as new. A refused update is no
//     error: Choose goes on.
//  5. The server has a registration_endpoint: a new registration of
//     opts.Registration (see Dynamic).
//  6. Otherwise an error wrapping ErrNoClient that says what the person can
//     do: pre-register a client and pass its id (or, where the server
//     accepts them, publish a Client ID Metadata Document).
//
// With opts.DeferRegistration, steps 4 and 5 are left to a later call:
// step 3 then takes kept whatever redirect URIs it names, and where step 4
// or 5 would send a request, Choose returns a nil client and no error.
//
// In steps 1 and 2, kept is returned (not new) when it is the same client
// for the same issuer. kept is never used for another issuer: a
// registration is valid only where it was made. After the server answered
// invalid_client (IsInvalidClient), call Choose with kept nil to register
// anew; that helps only for dynamic registrations, and the caller should do
// it once per failure, not in a loop.
//
// client nil means http.DefaultClient; it is used only for dynamic
// registration and its updates.
func Choose(ctx context.Context, client *http.Client, md *discovery.AuthServerMetadata, opts Options, kept *store.Client) (*store.Client, bool, error) {
	if md == nil || md.Issuer == "" {
		return nil, false, errors.New("register: no authorization server metadata (or no issuer in it): discover the server first")
	}
	if kept != nil && !urlrule.SameIssuer(kept.Issuer, md.Issuer) {
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
	req := &opts.Registration
	fits := kept != nil && reusable(kept, req, time.Now())
	if fits && (opts.DeferRegistration || coversRedirects(kept, req)) {
		return kept, false, nil
	}
	if opts.DeferRegistration && md.RegistrationEndpoint != "" {
		return nil, false, nil
	}
	var updateErr error
	if fits && kept.RegistrationClientURI != "" && kept.RegistrationAccessToken != "" {
		c, err := Update(ctx, client, md, kept, *req)
		if err == nil {
			return c, true, nil
		}
		updateErr = err
	}
	if md.RegistrationEndpoint != "" {
		c, err := Dynamic(ctx, client, md, *req)
		if err != nil {
			if updateErr != nil {
				err = fmt.Errorf("%w (before it, updating the kept registration %s failed: %v)", err, kept.ClientID, updateErr)
			}
			return nil, false, err
		}
		return c, true, nil
	}
	if updateErr != nil {
		return nil, false, fmt.Errorf("register: updating the registration %s at %s for redirect URIs %q: %w (and the server has no registration_endpoint to register anew)", kept.ClientID, md.Issuer, req.redirectURIs(), updateErr)
	}
	return nil, false, noClientError(md, opts)
}

// reusable reports whether kept is a dynamic registration (a consistent
// registration response in its Metadata) for the authentication method
// req names, if any, whose secret is still good at now. Its redirect URIs
// are coversRedirects' business.
func reusable(kept *store.Client, req *Request, now time.Time) bool {
	if kept.ClientID == "" || len(kept.Metadata) == 0 {
		return false
	}
	var m struct {
		ClientID string `json:"client_id"`
	}
	if json.Unmarshal(kept.Metadata, &m) != nil || m.ClientID != kept.ClientID {
		return false
	}
	if req.TokenEndpointAuthMethod != "" && req.TokenEndpointAuthMethod != AuthMethod(kept) {
		return false
	}
	return !SecretExpired(kept, now)
}

// coversRedirects reports whether the registration kept names the redirect
// URIs req asks for: the same set, compared exactly, or no redirect_uris
// in its registration response at all.
func coversRedirects(kept *store.Client, req *Request) bool {
	got := RedirectURIs(kept)
	return got == nil || sameSet(got, req.redirectURIs())
}

// RedirectURIs returns the redirect URIs of the registration c, as the
// server's registration (or update) response listed them in c.Metadata;
// nil when it listed none, or c is no dynamic registration.
func RedirectURIs(c *store.Client) []string {
	if c == nil || len(c.Metadata) == 0 {
		return nil
	}
	var m struct {
		RedirectURIs []string `json:"redirect_uris"`
	}
	if json.Unmarshal(c.Metadata, &m) != nil {
		return nil
	}
	return m.RedirectURIs
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
