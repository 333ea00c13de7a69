package register

// This file implements the update of a registration at its client
// configuration endpoint, RFC 7592 §2.2.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/internal/urlrule"
	"github.com/authloop/authloop/store"
)

// Update replaces the metadata of the registration c, made by Dynamic or
// an earlier Update at md's server, with the client req describes (new
// redirect URIs, say), as RFC 7592 §2.2 describes, and returns the
// registration as the server now holds it: the same client id, with the
// server's new client secret and registration access token where it
// rotated them, and c's where the response leaves them out.
//
// The request is a PUT of the whole client metadata (as Dynamic sends it,
// with c's token endpoint authentication method unless req names one),
// plus c's client_id, to c.RegistrationClientURI, with
// c.RegistrationAccessToken as a bearer token. Without either, nothing is
// sent and the error wraps ErrNotSupported; a URI that is not https (or
// http on a loopback host) wraps ErrInsecureURL; a URI on another origin
// (scheme, host and port) than both md.RegistrationEndpoint and md.Issuer
// wraps ErrForeignEndpoint, and nothing is sent to it either: the
// registration access token goes only to the server that issued it.
// req.InitialAccessToken is not used.
//
// A refusal with an OAuth error object (invalid_redirect_uri,
// invalid_client_metadata; invalid_token when the server no longer accepts
// the registration access token, or no longer knows the client) is an
// *oautherr.Error with Endpoint "registration". Any other failure, a
// response for another client id among them, is an *Error, which never
// quotes the response body. After a failed update, c is unchanged at the
// server (or gone); a new registration (Dynamic) is the way on.
func Update(ctx context.Context, client *http.Client, md *discovery.AuthServerMetadata, c *store.Client, req Request) (*store.Client, error) {
	if md == nil || md.Issuer == "" {
		return nil, errors.New("register: no authorization server metadata (or no issuer in it): discover the server first")
	}
	if c == nil || c.ClientID == "" || c.RegistrationClientURI == "" || c.RegistrationAccessToken == "" {
		return nil, fmt.Errorf("%w: the registration has no client configuration endpoint (RFC 7592 registration_client_uri and registration_access_token); register anew", ErrNotSupported)
	}
	endpoint, err := checkEndpoint("client configuration endpoint", c.RegistrationClientURI)
	if err != nil {
		return nil, err
	}
	if !sameOrigin(endpoint, md.RegistrationEndpoint) && !sameOrigin(endpoint, md.Issuer) {
		return nil, fmt.Errorf("%w: the client configuration endpoint %s (the registration's registration_client_uri) is on another origin than the registration endpoint and the issuer %s; the registration access token is sent nowhere else: register anew",
			ErrForeignEndpoint, endpoint.Redacted(), md.Issuer)
	}
	method := req.TokenEndpointAuthMethod
	if method == "" {
		method = AuthMethod(c)
	}
	fields := req.fields(method)
	fields["client_id"] = c.ClientID
	resp, err := send(ctx, client, http.MethodPut, endpoint, c.RegistrationAccessToken, fields)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK && resp.status != http.StatusCreated {
		return nil, resp.refusal()
	}
	nc, problem := parseRegistration(md.Issuer, method, resp.data, c)
	if problem == "" && nc.ClientID != c.ClientID {
		problem = "the response is for another client_id"
	}
	if problem != "" {
		return nil, resp.fail(problem, ErrInvalidResponse)
	}
	if nc.RegistrationAccessToken == "" {
		nc.RegistrationAccessToken = c.RegistrationAccessToken
	}
	if nc.RegistrationClientURI == "" {
		nc.RegistrationClientURI = c.RegistrationClientURI
	}
	return nc, nil
}

// sameOrigin reports whether u and the URL raw have the same origin
// (urlrule.SameOrigin). An empty or unparsable raw has no origin.
func sameOrigin(u *url.URL, raw string) bool {
	v, err := url.Parse(raw)
	return err == nil && urlrule.SameOrigin(u, v)
}
