package oauthtest

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// registrationRequest holds the client metadata (RFC 7591 §2) the server
// looks at; the rest is echoed back unchanged.
type registrationRequest struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	Scope                   string   `json:"scope"`
}

// handleRegister serves dynamic client registration (RFC 7591). A
// registered client can then use the other endpoints like a pre-registered
// one. token_endpoint_auth_method defaults to client_secret_basic, as
// RFC 7591 says; a public client must ask for "none".
func (s *Server) handleRegister(x *exchange) {
	noStore(x.Header())
	if s.registrationDenied(x) {
		return
	}
	c, raw, oerr := s.readClientMetadata(x)
	if oerr != nil {
		x.writeError(oerr, false)
		return
	}
	c.ID = "dyn-" + randomToken()[:22]
	if c.AuthMethod != AuthNone {
		c.Secret = randomToken()
	}
	s.mu.Lock()
	s.clients[c.ID] = c.clone()
	s.mu.Unlock()
	x.clientID = c.ID
	x.writeJSON(http.StatusCreated, s.clientInformation(c, raw, false))
}

// readClientMetadata reads and checks the client metadata of a
// registration or update request: the client it describes (without ID or
// secret) and the request's fields, to echo.
func (s *Server) readClientMetadata(x *exchange) (Client, map[string]any, *oauthError) {
	bad := func(code, desc string) (Client, map[string]any, *oauthError) {
		return Client{}, nil, &oauthError{code: code, desc: desc}
	}
	body := http.MaxBytesReader(nil, x.r.Body, 1<<20)
	var raw map[string]any
	if err := json.NewDecoder(body).Decode(&raw); err != nil || raw == nil {
		return bad("invalid_client_metadata", "the body must be a JSON object")
	}
	b, _ := json.Marshal(raw)
	var req registrationRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return bad("invalid_client_metadata", "malformed metadata: "+err.Error())
	}
	if len(req.RedirectURIs) == 0 {
		return bad("invalid_redirect_uri", "redirect_uris is required")
	}
	for _, u := range req.RedirectURIs {
		if msg := checkRegisteredRedirect(u); msg != "" {
			return bad("invalid_redirect_uri", msg)
		}
	}
	method := req.TokenEndpointAuthMethod
	switch method {
	case "":
		method = AuthClientSecretBasic
	case AuthNone, AuthClientSecretBasic, AuthClientSecretPost:
	default:
		return bad("invalid_client_metadata", "unsupported token_endpoint_auth_method "+method)
	}
	for _, gt := range req.GrantTypes {
		if !slices.Contains([]string{"authorization_code", "refresh_token", "client_credentials"}, gt) {
			return bad("invalid_client_metadata", "unsupported grant type "+gt)
		}
	}
	if slices.Contains(req.GrantTypes, "client_credentials") && method == AuthNone {
		return bad("invalid_client_metadata", "client_credentials needs a confidential client")
	}
	for _, rt := range req.ResponseTypes {
		if rt != "code" {
			return bad("invalid_client_metadata", "unsupported response type "+rt)
		}
	}
	scopes, badScope := checkScopes(req.Scope, s.scopes)
	if badScope != "" {
		return bad("invalid_client_metadata", "unsupported scope "+badScope)
	}
	// What the server sets itself is never taken from the request.
	for _, k := range []string{"client_id", "client_secret", "client_id_issued_at", "client_secret_expires_at", "registration_access_token", "registration_client_uri"} {
		delete(raw, k)
	}
	return Client{AuthMethod: method, RedirectURIs: req.RedirectURIs, Scopes: scopes}, raw, nil
}

// clientInformation is the registration response for c (RFC 7591 §3.2.1):
// the request's metadata with the server's fields, and, with
// Config.RegistrationManagement, the client configuration endpoint and a
// registration access token (RFC 7592 §3): a new one unless keep.
func (s *Server) clientInformation(c Client, raw map[string]any, keep bool) map[string]any {
	raw["client_id"] = c.ID
	raw["client_id_issued_at"] = s.clock.Now().Unix()
	raw["token_endpoint_auth_method"] = c.AuthMethod
	if c.Secret != "" {
		raw["client_secret"] = c.Secret
		raw["client_secret_expires_at"] = 0
	}
	if s.cfg.RegistrationManagement {
		s.mu.Lock()
		tok := s.regTokens[c.ID]
		if !keep || tok == "" {
			tok = randomToken()
			s.regTokens[c.ID] = tok
		}
		s.mu.Unlock()
		raw["registration_access_token"] = tok
		raw["registration_client_uri"] = s.Issuer() + clientConfigPrefix + url.PathEscape(c.ID)
	}
	return raw
}

// clientConfigPrefix is the path, after the issuer path, under which each
// client's configuration endpoint (RFC 7592) lives.
const clientConfigPrefix = "/register/"

// handleClientConfiguration serves a client configuration endpoint
// (RFC 7592 §2): GET reads the registration, PUT replaces its metadata
// (keeping its id and secret, rotating the registration access token),
// DELETE removes the client. Each needs the client's registration access
// token as a bearer token; an unknown client or a wrong token is 401
// invalid_token, as RFC 7592 §2 asks, so as not to tell which.
func (s *Server) handleClientConfiguration(x *exchange) {
	noStore(x.Header())
	id, err := url.PathUnescape(strings.TrimPrefix(x.r.URL.EscapedPath(), s.path+clientConfigPrefix))
	if err != nil {
		id = ""
	}
	x.clientID = id
	bearer, ok := strings.CutPrefix(x.r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	want, known := s.regTokens[id]
	c := s.clients[id]
	s.mu.Unlock()
	if !ok || !known || c == nil || subtle.ConstantTimeCompare([]byte(bearer), []byte(want)) != 1 {
		x.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		x.writeError(&oauthError{code: "invalid_token", desc: "unknown client or wrong registration access token", status: http.StatusUnauthorized}, false)
		return
	}
	switch x.r.Method {
	case http.MethodGet:
		raw := map[string]any{"redirect_uris": c.RedirectURIs, "scope": strings.Join(c.Scopes, " ")}
		x.writeJSON(http.StatusOK, s.clientInformation(*c.clone(), raw, true))
	case http.MethodDelete:
		s.mu.Lock()
		delete(s.clients, id)
		delete(s.regTokens, id)
		s.mu.Unlock()
		x.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		if s.registrationDenied(x) {
			return
		}
		nc, raw, oerr := s.readClientMetadata(x)
		if oerr == nil && (nc.AuthMethod == AuthNone) != (c.Secret == "") {
			oerr = &oauthError{code: "invalid_client_metadata", desc: "token_endpoint_auth_method cannot change between public and confidential"}
		}
		if oerr != nil {
			x.writeError(oerr, false)
			return
		}
		nc.ID, nc.Secret = c.ID, c.Secret
		s.mu.Lock()
		s.clients[id] = nc.clone()
		s.mu.Unlock()
		x.writeJSON(http.StatusOK, s.clientInformation(nc, raw, false))
	}
}

// DenyRegistration makes the next registration request (RFC 7591) or
// update (RFC 7592 PUT) fail with the OAuth error code, such as
// invalid_redirect_uri or invalid_client_metadata, and description: 400,
// or 401 for invalid_token. Several calls queue up.
func (s *Server) DenyRegistration(code, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.regDenials = append(s.regDenials, denial{code, description})
}

// registrationDenied answers a registration or update with the next
// DenyRegistration error, if one is queued, and reports whether it did.
func (s *Server) registrationDenied(x *exchange) bool {
	d := s.nextDenial(&s.regDenials)
	if d == nil {
		return false
	}
	e := &oauthError{code: d.code, desc: d.description}
	if d.code == "invalid_token" {
		e.status = http.StatusUnauthorized
	}
	x.writeError(e, false)
	return true
}

// checkRegisteredRedirect validates a redirect URI offered at registration:
// absolute, no fragment; http only on a loopback host; https or a
// private-use scheme (with a dot, RFC 8252 §7.1) otherwise. It returns what
// is wrong, or "".
func checkRegisteredRedirect(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs():
		return "redirect URI " + s + " is not an absolute URI"
	case strings.Contains(s, "#"):
		return "redirect URI " + s + " has a fragment"
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		return "redirect URI " + s + " uses http on a host that is not loopback"
	case u.Scheme == "http", u.Scheme == "https" && u.Host != "":
		return ""
	case u.Scheme != "https" && strings.Contains(u.Scheme, "."):
		return ""
	default:
		return "redirect URI " + s + " has an unsupported scheme"
	}
}
