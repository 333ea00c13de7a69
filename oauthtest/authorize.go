package oauthtest

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// denial is a scripted answer for an authorization request (DenyNext).
type denial struct{ code, description string }

// DenyNext makes the next authorization request (with a valid client and
// redirect URI) fail with an error redirect carrying code (access_denied,
// invalid_scope, server_error, temporarily_unavailable, ...) and
// description. Several calls queue up.
func (s *Server) DenyNext(code, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denials = append(s.denials, denial{code, description})
}

// nextDenial takes the first denial of the queue q, or returns nil when
// none is queued.
func (s *Server) nextDenial(q *[]denial) *denial {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(*q) == 0 {
		return nil
	}
	d := (*q)[0]
	*q = (*q)[1:]
	return &d
}

// authzResponse is where and how an authorization response goes.
type authzResponse struct {
	redirect string // the redirect URI to send the response to
	mode     string // "query" or "form_post"
	state    string
}

// handleAuthorize serves the authorization endpoint: GET, or POST with the
// parameters in the body (also how the consent page answers).
func (s *Server) handleAuthorize(x *exchange) {
	r := x.r
	var q url.Values
	decision := ""
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			x.showError("invalid_request", "cannot parse the form: "+err.Error())
			return
		}
		q = r.PostForm
		decision = q.Get("decision")
		q.Del("decision")
	} else {
		q = r.URL.Query()
	}

	// Until client and redirect URI are known good, errors are shown here,
	// never redirected (RFC 6749 §4.1.2.1).
	clientID := q.Get("client_id")
	x.clientID = clientID
	if len(q["client_id"]) > 1 {
		x.showError("invalid_request", "client_id given more than once")
		return
	}
	if clientID == "" {
		x.showError("invalid_request", "client_id is missing")
		return
	}
	s.mu.Lock()
	client := s.clients[clientID]
	s.mu.Unlock()
	if client == nil {
		x.showError("invalid_client", "unknown client_id "+strconv.Quote(clientID))
		return
	}
	redirectParam := q.Get("redirect_uri")
	if len(q["redirect_uri"]) > 1 {
		x.showError("invalid_request", "redirect_uri given more than once")
		return
	}
	redirect := redirectParam
	switch {
	case redirectParam == "" && len(client.RedirectURIs) == 1:
		redirect = client.RedirectURIs[0]
	case redirectParam == "":
		x.showError("invalid_request", "redirect_uri is missing")
		return
	case !matchRedirectURI(client.RedirectURIs, redirectParam, s.cfg.ExactRedirectURIs):
		x.showError("invalid_request", "redirect_uri "+strconv.Quote(redirectParam)+" is not registered for this client")
		return
	}

	resp := authzResponse{redirect: redirect, mode: "query", state: q.Get("state")}
	if m := q.Get("response_mode"); m == "form_post" {
		resp.mode = m
	} else if m != "" && m != "query" {
		s.redirectError(x, resp, "invalid_request", "unsupported response_mode")
		return
	}

	deny := s.nextDenial(&s.denials)
	if deny != nil {
		s.redirectError(x, resp, deny.code, deny.description)
		return
	}

	for k, v := range q {
		if len(v) > 1 && k != "resource" {
			s.redirectError(x, resp, "invalid_request", k+" given more than once")
			return
		}
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		s.redirectError(x, resp, "invalid_request", "response_type is missing")
		return
	default:
		s.redirectError(x, resp, "unsupported_response_type", "only response_type=code is supported")
		return
	}
	challenge := q.Get("code_challenge")
	if challenge == "" {
		s.redirectError(x, resp, "invalid_request", "code_challenge is required (PKCE)")
		return
	}
	if q.Get("code_challenge_method") != "S256" {
		s.redirectError(x, resp, "invalid_request", "code_challenge_method must be S256")
		return
	}
	if !validChallenge(challenge) {
		s.redirectError(x, resp, "invalid_request", "code_challenge is not a base64url SHA-256 hash")
		return
	}
	scopes, bad := checkScopes(q.Get("scope"), s.allowedScopes(client))
	if bad != "" {
		s.redirectError(x, resp, "invalid_scope", "scope "+strconv.Quote(bad)+" is not allowed")
		return
	}
	resources := q["resource"]
	for _, res := range resources {
		if oerr := s.checkResource(res); oerr != nil {
			s.redirectError(x, resp, oerr.code, oerr.desc)
			return
		}
	}

	if s.cfg.Consent {
		switch decision {
		case "":
			data := formData{
				Action:   template.URL(s.AuthorizationEndpoint()),
				ClientID: clientID,
				Subject:  s.cfg.Subject,
				Scopes:   scopes,
			}
			keys := make([]string, 0, len(q))
			for k := range q {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				for _, v := range q[k] {
					data.Fields = append(data.Fields, formField{k, v})
				}
			}
			x.renderHTML(http.StatusOK, consentPage, data)
			return
		case "approve":
		default:
			s.redirectError(x, resp, "access_denied", "the user denied the request")
			return
		}
	}

	now := s.clock.Now()
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = &authCode{
		clientID:      clientID,
		redirectParam: redirectParam,
		challenge:     challenge,
		scopes:        scopes,
		resources:     dedupe(resources),
		nonce:         q.Get("nonce"),
		dpopJKT:       s.dpopJKTParam(q),
		expires:       now.Add(codeTTL),
		authTime:      now,
	}
	s.mu.Unlock()
	s.respond(x, resp, url.Values{"code": {code}})
}

// redirectError sends an error authorization response.
func (s *Server) redirectError(x *exchange, resp authzResponse, code, desc string) {
	x.errCode = code
	v := url.Values{"error": {code}}
	if desc != "" {
		v.Set("error_description", desc)
	}
	s.respond(x, resp, v)
}

// respond sends an authorization response: a 302 to the redirect URI, or a
// self-submitting form for response_mode=form_post.
func (s *Server) respond(x *exchange, resp authzResponse, params url.Values) {
	if resp.state != "" {
		params.Set("state", resp.state)
	}
	if !s.cfg.OmitIssuerInResponse {
		params.Set("iss", s.Issuer())
	}
	if resp.mode == "form_post" {
		data := formData{Action: template.URL(resp.redirect)}
		for _, k := range []string{"code", "error", "error_description", "state", "iss"} {
			if v, ok := params[k]; ok {
				data.Fields = append(data.Fields, formField{k, v[0]})
			}
		}
		x.renderHTML(http.StatusOK, formPostPage, data)
		return
	}
	u, _ := url.Parse(resp.redirect) // validated before
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	x.Header().Set("Location", u.String())
	x.Header().Set("Cache-Control", "no-store")
	x.WriteHeader(http.StatusFound)
}

// validChallenge reports whether c looks like base64url(SHA-256(verifier)).
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if !isB64URL(c[i]) {
			return false
		}
	}
	return true
}

func isB64URL(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_'
}

// validResource checks an RFC 8707 resource indicator: an absolute URI
// without a fragment.
func validResource(r string) bool {
	u, err := url.Parse(r)
	return err == nil && u.IsAbs() && !strings.Contains(r, "#")
}

// checkResource checks a resource parameter: a valid indicator and, with
// Config.ExactResource, the protected API's identifier byte for byte.
func (s *Server) checkResource(res string) *oauthError {
	if !validResource(res) {
		return &oauthError{code: "invalid_target", desc: "resource must be an absolute URI without fragment"}
	}
	if s.cfg.ExactResource && res != s.ResourceIdentifier() {
		return &oauthError{code: "invalid_target", desc: "unknown resource " + strconv.Quote(res) + " (this server knows only " + strconv.Quote(s.ResourceIdentifier()) + ")"}
	}
	return nil
}
