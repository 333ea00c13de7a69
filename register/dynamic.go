package register

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/oautherr"
	"github.com/authloop/authloop/store"
)

// Dynamic registers the client req describes at the authorization server's
// registration endpoint (md.RegistrationEndpoint), as RFC 7591 §3 describes,
// and returns the registration.
//
// The request is a POST of the client metadata as a JSON object (see
// Request for the defaults: a public native client for the authorization
// code and refresh token grants, redirect URI DefaultRedirectURI), with the
// initial access token as a bearer token when req has one. The endpoint
// must be https, or http on a loopback host; otherwise nothing is sent and
// the error wraps ErrInsecureURL. Redirects are not followed, and no cookies
// are sent.
//
// A 201 (or 200) response must be a JSON object of at most MaxBodySize bytes
// with a non-empty client_id; a client authenticating with a secret must get
// one. The result has Issuer md.Issuer, the client_id and client_secret,
// ClientSecretExpiresAt from client_secret_expires_at (the zero time for 0 or
// absent: the secret never expires), the RFC 7592 registration_access_token
// and registration_client_uri when given, and the whole response in Metadata.
//
// A refusal with an OAuth error object (RFC 7591 §3.2.2: invalid_redirect_uri,
// invalid_client_metadata, invalid_software_statement, ...; or invalid_token
// for a bad initial access token) is returned as an *oautherr.Error with
// Endpoint "registration". Any other failure is an *Error, which never
// quotes the response body.
//
// client nil means http.DefaultClient; its Jar and CheckRedirect are not
// used.
func Dynamic(ctx context.Context, client *http.Client, md *discovery.AuthServerMetadata, req Request) (*store.Client, error) {
	if md == nil || md.Issuer == "" {
		return nil, errors.New("register: no authorization server metadata (or no issuer in it): discover the server first")
	}
	if md.RegistrationEndpoint == "" {
		return nil, fmt.Errorf("%w: the authorization server %s has no registration_endpoint in its metadata, so it does not offer dynamic client registration (RFC 7591); pre-register a client there and pass its client id",
			ErrNotSupported, md.Issuer)
	}
	endpoint, err := checkEndpoint("registration endpoint", md.RegistrationEndpoint)
	if err != nil {
		return nil, err
	}
	method := req.TokenEndpointAuthMethod
	if method == "" {
		method = defaultAuthMethod(md.TokenEndpointAuthMethodsSupported)
	}
	resp, err := send(ctx, client, http.MethodPost, endpoint, req.InitialAccessToken, req.fields(method))
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusCreated && resp.status != http.StatusOK {
		return nil, resp.refusal()
	}
	c, problem := parseRegistration(md.Issuer, method, resp.data, nil)
	if problem != "" {
		return nil, resp.fail(problem, ErrInvalidResponse)
	}
	return c, nil
}

// response is an answer of a registration or client configuration
// endpoint.
type response struct {
	method   string // the request's: POST to register, PUT to update
	endpoint string // without user information
	status   int
	ct       string // media type
	data     []byte
}

// fail returns the *Error for a response that is not what was asked for.
func (r *response) fail(problem string, err error) error {
	return &Error{Method: r.method, Endpoint: r.endpoint, Status: r.status, Problem: problem, Err: err}
}

// refusal returns the error for an answer other than success: the OAuth
// error object it carries (RFC 7591 §3.2.2) as an *oautherr.Error with
// Endpoint "registration", or an *Error that says what the status means.
func (r *response) refusal() error {
	if oe := parseOAuthError(r.data); oe != nil {
		oe.StatusCode = r.status
		return oe
	}
	problem := "unexpected HTTP status " + strconv.Itoa(r.status)
	if r.ct != "" && r.ct != "application/json" {
		problem += " with a " + r.ct + " body"
	}
	switch {
	case r.status == 401 || r.status == 403:
		if r.method == http.MethodPost {
			problem += "; the server may require an initial access token (Request.InitialAccessToken) or allow registration only to known clients: ask its administrator"
		} else {
			problem += "; the server no longer accepts the registration access token, or no longer knows the client: register anew"
		}
	case r.status == 408 || r.status == 429 || r.status >= 500:
		problem += "; try again later"
	}
	return r.fail(problem, nil)
}

// send sends fields as a JSON object to endpoint with the HTTP method, with
// bearer as a bearer token when set, and returns the response. It fails,
// with an *Error, when no whole response of at most MaxBodySize bytes came,
// or the endpoint redirected.
func send(ctx context.Context, client *http.Client, method string, endpoint *url.URL, bearer string, fields map[string]any) (*response, error) {
	r := &response{method: method, endpoint: endpoint.Redacted()}
	body, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("register: encoding the client metadata for %s: %w (check Request.Extra)", r.endpoint, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return nil, r.fail("cannot build the request", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	if bearer != "" {
		hreq.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := noRedirects(client).Do(hreq)
	if err != nil {
		// The *url.Error names the URL and the cause; nothing secret is in
		// either (the token travels in a header).
		return nil, r.fail("request failed", err)
	}
	defer resp.Body.Close()
	r.status = resp.StatusCode
	r.ct = mediaType(resp.Header.Get("Content-Type"))
	r.data, err = io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		return nil, r.fail("reading the response failed", err)
	}
	if len(r.data) > MaxBodySize {
		return nil, r.fail(fmt.Sprintf("response larger than %d bytes refused", MaxBodySize), ErrInvalidResponse)
	}
	if r.status >= 300 && r.status < 400 {
		return nil, r.fail("the endpoint redirected (not followed); the server's metadata should name the endpoint itself", nil)
	}
	return r, nil
}

// defaultAuthMethod picks the token endpoint authentication method for a
// request that names none: "none", unless the server lists methods and
// "none" is not among them.
func defaultAuthMethod(supported []string) string {
	if len(supported) == 0 || slices.Contains(supported, AuthNone) {
		return AuthNone
	}
	for _, m := range []string{AuthClientSecretBasic, AuthClientSecretPost} {
		if slices.Contains(supported, m) {
			return m
		}
	}
	return AuthNone
}

// noRedirects returns a copy of client (http.DefaultClient when nil) that
// follows no redirect and keeps no cookies: a registration request carries
// the client metadata and maybe an initial access token, and goes only to
// the endpoint the metadata names.
func noRedirects(client *http.Client) *http.Client {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.Jar = nil
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// mediaType returns the media type of a Content-Type value, lower case, or
// "" when there is none.
func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return mt
}

// parseOAuthError returns the OAuth error object in data (RFC 7591
// §3.2.2), or nil when data is not one.
func parseOAuthError(data []byte) *oautherr.Error {
	var e struct {
		Code        any `json:"error"`
		Description any `json:"error_description"`
		URI         any `json:"error_uri"`
	}
	if json.Unmarshal(data, &e) != nil {
		return nil
	}
	code, _ := e.Code.(string)
	if code == "" {
		return nil
	}
	desc, _ := e.Description.(string)
	uri, _ := e.URI.(string)
	return &oautherr.Error{Code: code, Description: desc, URI: uri, Endpoint: "registration"}
}

// registration is the part of a registration response (RFC 7591 §3.2.1,
// RFC 7592 §3) that Dynamic reads.
type registration struct {
	ClientID                any             `json:"client_id"`
	ClientSecret            any             `json:"client_secret"`
	ClientSecretExpiresAt   json.RawMessage `json:"client_secret_expires_at"`
	RegistrationAccessToken any             `json:"registration_access_token"`
	RegistrationClientURI   any             `json:"registration_client_uri"`
	TokenEndpointAuthMethod any             `json:"token_endpoint_auth_method"`
}

// parseRegistration reads a successful registration (or update) response.
// It returns the client, or a problem that never quotes data. For an
// update, prev is the registration updated: a client that still
// authenticates with a secret, and whose response leaves it out, keeps
// prev's.
func parseRegistration(issuer, askedMethod string, data []byte, prev *store.Client) (*store.Client, string) {
	var r registration
	if err := json.Unmarshal(data, &r); err != nil || !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		return nil, "the response is not a JSON object"
	}
	id, ok := r.ClientID.(string)
	if !ok || id == "" {
		return nil, "the response has no client_id"
	}
	c := &store.Client{Issuer: issuer, ClientID: id}
	var bad []string
	str := func(v any, name string) string {
		s, ok := v.(string)
		if v != nil && !ok {
			bad = append(bad, name)
		}
		return s
	}
	c.ClientSecret = str(r.ClientSecret, "client_secret")
	c.RegistrationAccessToken = str(r.RegistrationAccessToken, "registration_access_token")
	c.RegistrationClientURI = str(r.RegistrationClientURI, "registration_client_uri")
	method := str(r.TokenEndpointAuthMethod, "token_endpoint_auth_method")
	if len(bad) > 0 {
		return nil, "the response's " + strings.Join(bad, ", ") + " is not a string"
	}
	exp, ok := parseUnixTime(r.ClientSecretExpiresAt)
	if !ok {
		return nil, "the response's client_secret_expires_at is not a number of seconds"
	}
	c.ClientSecretExpiresAt = exp
	if method == "" {
		method = askedMethod
	}
	if c.ClientSecret == "" && prev != nil && strings.HasPrefix(method, "client_secret_") {
		c.ClientSecret, c.ClientSecretExpiresAt = prev.ClientSecret, prev.ClientSecretExpiresAt
	}
	if strings.HasPrefix(method, "client_secret_") && c.ClientSecret == "" {
		return nil, "the server registered a client that authenticates with " + method + " but sent no client_secret"
	}
	c.Metadata = publicMetadata(data)
	return c, ""
}

// publicMetadata returns the registration response without its secrets
// (client_secret, registration_access_token), which store.Client keeps in
// fields of their own that stores protect; Metadata is kept as it is.
func publicMetadata(data []byte) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	// encoding/json matches field names without regard to case, so
	// "Client_Secret" filled ClientSecret: drop every spelling.
	for k := range m {
		for _, s := range secretFields {
			if strings.EqualFold(k, s) {
				delete(m, k)
			}
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return out
}

// secretFields are the fields of a registration response that hold
// secrets.
var secretFields = []string{"client_secret", "registration_access_token"}

// parseUnixTime reads client_secret_expires_at: absent, null or 0 mean
// never (the zero time); a number or a string of digits is seconds since
// the epoch.
func parseUnixTime(raw json.RawMessage) (time.Time, bool) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return time.Time{}, true
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1<<40 {
		return time.Time{}, false
	}
	if f == 0 {
		return time.Time{}, true
	}
	return time.Unix(int64(f), 0).UTC(), true
}
