package oauthtest

import (
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
	bad := func(code, desc string) {
		x.writeError(&oauthError{code: code, desc: desc}, false)
	}
	body := http.MaxBytesReader(nil, x.r.Body, 1<<20)
	var raw map[string]any
	if err := json.NewDecoder(body).Decode(&raw); err != nil || raw == nil {
		bad("invalid_client_metadata", "the body must be a JSON object")
		return
	}
	b, _ := json.Marshal(raw)
	var req registrationRequest
	if err := json.Unmarshal(b, &req); err != nil {
		bad("invalid_client_metadata", "malformed metadata: "+err.Error())
		return
	}
	if len(req.RedirectURIs) == 0 {
		bad("invalid_redirect_uri", "redirect_uris is required")
		return
	}
	for _, u := range req.RedirectURIs {
		if msg := checkRegisteredRedirect(u); msg != "" {
			bad("invalid_redirect_uri", msg)
			return
		}
	}
	method := req.TokenEndpointAuthMethod
	switch method {
	case "":
		method = AuthClientSecretBasic
	case AuthNone, AuthClientSecretBasic, AuthClientSecretPost:
	default:
		bad("invalid_client_metadata", "unsupported token_endpoint_auth_method "+method)
		return
	}
	for _, gt := range req.GrantTypes {
		if !slices.Contains([]string{"authorization_code", "refresh_token", "client_credentials"}, gt) {
			bad("invalid_client_metadata", "unsupported grant type "+gt)
			return
		}
	}
	if slices.Contains(req.GrantTypes, "client_credentials") && method == AuthNone {
		bad("invalid_client_metadata", "client_credentials needs a confidential client")
		return
	}
	for _, rt := range req.ResponseTypes {
		if rt != "code" {
			bad("invalid_client_metadata", "unsupported response type "+rt)
			return
		}
	}
	scopes, badScope := checkScopes(req.Scope, s.scopes)
	if badScope != "" {
		bad("invalid_client_metadata", "unsupported scope "+badScope)
		return
	}

	c := Client{
		ID:           "dyn-" + randomToken()[:22],
		AuthMethod:   method,
		RedirectURIs: req.RedirectURIs,
		Scopes:       scopes,
	}
	now := s.clock.Now()
	raw["client_id"] = c.ID
	raw["client_id_issued_at"] = now.Unix()
	raw["token_endpoint_auth_method"] = method
	if method != AuthNone {
		c.Secret = randomToken()
		raw["client_secret"] = c.Secret
		raw["client_secret_expires_at"] = 0
	}
	s.AddClient(c)
	x.clientID = c.ID
	x.writeJSON(http.StatusCreated, raw)
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
