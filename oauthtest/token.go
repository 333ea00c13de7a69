package oauthtest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"slices"
)

// readForm parses a POST body that must be application/x-www-form-urlencoded
// and rejects repeated parameters (RFC 6749 §3.2), except resource.
func readForm(r *http.Request) (url.Values, *oauthError) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return nil, &oauthError{code: "invalid_request", desc: "the body must be application/x-www-form-urlencoded"}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return nil, &oauthError{code: "invalid_request", desc: "cannot parse the form"}
	}
	return r.PostForm, nil
}

func checkDuplicates(form url.Values) *oauthError {
	for k, v := range form {
		if len(v) > 1 && k != "resource" {
			return &oauthError{code: "invalid_request", desc: k + " given more than once"}
		}
	}
	return nil
}

// clientForm reads the form of a request to an endpoint where the client
// authenticates as at the token endpoint (device authorization,
// revocation), and the client's credentials. On a bad request it has
// answered with the error and returns false.
func (x *exchange) clientForm() (url.Values, clientCredentials, bool) {
	form, oerr := readForm(x.r)
	if oerr == nil {
		x.clientID = form.Get("client_id")
		oerr = checkDuplicates(form)
	}
	if oerr != nil {
		x.writeError(oerr, false)
		return nil, clientCredentials{}, false
	}
	cc, oerr := readClientCredentials(x.r, form)
	if oerr != nil {
		x.writeError(oerr, false)
		return nil, clientCredentials{}, false
	}
	x.clientID = cc.id
	return form, cc, true
}

// handleToken serves the token endpoint.
func (s *Server) handleToken(x *exchange) {
	noStore(x.Header())
	form, oerr := readForm(x.r)
	if form != nil {
		x.grantType = form.Get("grant_type")
		x.clientID = form.Get("client_id")
		if user, _, ok := x.r.BasicAuth(); ok {
			if id, err := url.QueryUnescape(user); err == nil {
				x.clientID = id
			}
		}
	}
	if form != nil {
		s.mu.Lock()
		s.grantCounts[x.grantType]++
		s.mu.Unlock()
	}
	proof := s.readTokenProof(x)
	if s.injectFault(x) {
		return
	}
	s.dpopNonceHeader(x)
	if oerr == nil {
		oerr = checkDuplicates(form)
	}
	if oerr != nil {
		x.writeError(oerr, true)
		return
	}
	cc, oerr := readClientCredentials(x.r, form)
	if oerr != nil {
		x.writeError(oerr, true)
		return
	}
	if cc.id != "" {
		x.clientID = cc.id // a client assertion's sub, when no client_id came
	}

	s.mu.Lock()
	var body map[string]any
	jkt, oerr := s.tokenProofLocked(x, proof)
	if oerr == nil {
		body, oerr = s.tokenLocked(cc, form, jkt)
	}
	s.dpopNonceHeaderLocked(x, proof)
	s.mu.Unlock()
	if oerr != nil {
		x.writeError(oerr, true)
		return
	}
	x.writeJSON(http.StatusOK, body)
}

// tokenLocked authenticates the client and runs the grant; the tokens are
// bound to the DPoP key whose thumbprint is jkt, or bearer tokens when jkt
// is "". The caller holds s.mu.
func (s *Server) tokenLocked(cc clientCredentials, form url.Values, jkt string) (map[string]any, *oauthError) {
	client, oerr := s.authenticateLocked(cc)
	if oerr != nil {
		return nil, oerr
	}
	if oerr := s.tokenBindingLocked(form, jkt); oerr != nil {
		return nil, oerr
	}
	var ts tokenSet
	switch gt := form.Get("grant_type"); gt {
	case TokenExchangeGrantType:
		return s.tokenExchangeLocked(client, form)
	case JWTBearerGrantType:
		ts, oerr = s.jwtBearerLocked(client, form, jkt)
	case "authorization_code":
		ts, oerr = s.exchangeCodeLocked(client, form, jkt)
	case "refresh_token":
		ts, oerr = s.refreshLocked(client, form, jkt)
	case "client_credentials":
		ts, oerr = s.clientCredentialsLocked(client, form, jkt)
	case DeviceCodeGrantType:
		ts, oerr = s.deviceTokenLocked(client, form, jkt)
	case "":
		oerr = &oauthError{code: "invalid_request", desc: "grant_type is missing"}
	default:
		oerr = &oauthError{code: "unsupported_grant_type", desc: "grant_type " + gt + " is not supported"}
	}
	if oerr != nil {
		return nil, oerr
	}
	return s.tokenResponse(ts), nil
}

func (s *Server) exchangeCodeLocked(client *Client, form url.Values, jkt string) (tokenSet, *oauthError) {
	invalid := func(desc string) (tokenSet, *oauthError) {
		return tokenSet{}, &oauthError{code: "invalid_grant", desc: desc}
	}
	code := form.Get("code")
	if code == "" {
		return tokenSet{}, &oauthError{code: "invalid_request", desc: "code is missing"}
	}
	verifier := form.Get("code_verifier")
	if verifier == "" {
		return tokenSet{}, &oauthError{code: "invalid_request", desc: "code_verifier is missing"}
	}
	ac := s.codes[code]
	if ac == nil {
		return invalid("unknown authorization code")
	}
	if ac.used {
		// RFC 6749 §4.1.2 / OAuth 2.1 §4.1.3: revoke what the code gave.
		if ac.grant != nil {
			ac.grant.revoked = true
		}
		return invalid("authorization code already used; its tokens are revoked")
	}
	ac.used = true // single use, whatever happens next
	now := s.clock.Now()
	switch {
	case !now.Before(ac.expires):
		return invalid("authorization code expired")
	case ac.clientID != client.ID:
		return invalid("authorization code was issued to another client")
	case form.Get("redirect_uri") != ac.redirectParam:
		return invalid("redirect_uri differs from the authorization request's")
	case !checkVerifier(verifier, ac.challenge):
		return invalid("code_verifier does not match code_challenge")
	}
	g := &grant{
		clientID:  client.ID,
		subject:   s.cfg.Subject,
		scopes:    ac.scopes,
		resources: ac.resources,
		nonce:     ac.nonce,
		authTime:  ac.authTime,
	}
	aud, oerr := s.resourcesFor(g, form, true)
	if oerr != nil {
		return tokenSet{}, oerr
	}
	ac.grant = g
	s.grants = append(s.grants, g)
	return s.issueLocked(g, g.scopes, aud, !s.cfg.DisableRefreshTokens, jkt), nil
}

// resourcesFor checks the token request's resource parameters against the
// grant and returns the access token's audience. At the code exchange
// (adopt), a grant without resources takes the ones asked for.
func (s *Server) resourcesFor(g *grant, form url.Values, adopt bool) ([]string, *oauthError) {
	asked := dedupe(form["resource"])
	for _, res := range asked {
		if oerr := s.checkResource(res); oerr != nil {
			return nil, oerr
		}
		if len(g.resources) == 0 && adopt {
			continue
		}
		if !slices.Contains(g.resources, res) {
			return nil, &oauthError{code: "invalid_target", desc: "resource " + res + " was not granted"}
		}
	}
	if len(g.resources) == 0 && adopt {
		g.resources = asked
	}
	if len(asked) > 0 {
		return asked, nil
	}
	return g.resources, nil
}

// checkVerifier checks a PKCE S256 code_verifier (RFC 7636 §4.1, §4.6).
func checkVerifier(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for i := 0; i < len(verifier); i++ {
		if b := verifier[i]; !isB64URL(b) && b != '.' && b != '~' {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

func (s *Server) refreshLocked(client *Client, form url.Values, jkt string) (tokenSet, *oauthError) {
	invalid := func(desc string) (tokenSet, *oauthError) {
		return tokenSet{}, &oauthError{code: "invalid_grant", desc: desc}
	}
	tok := form.Get("refresh_token")
	if tok == "" {
		return tokenSet{}, &oauthError{code: "invalid_request", desc: "refresh_token is missing"}
	}
	rt := s.refresh[tok]
	now := s.clock.Now()
	switch {
	case rt == nil:
		return invalid("unknown refresh token")
	case rt.grant.clientID != client.ID:
		return invalid("refresh token was issued to another client")
	case rt.grant.revoked:
		return invalid("refresh token revoked")
	case rt.rotated:
		if !s.cfg.DisableReuseDetection {
			rt.grant.revoked = true
			return invalid("refresh token reused; every token of its grant is revoked")
		}
		return invalid("refresh token already used")
	case !rt.expires.IsZero() && !now.Before(rt.expires):
		return invalid("refresh token expired")
	}
	g := rt.grant
	scopes := g.scopes
	if sp, ok := form["scope"]; ok {
		var bad string
		scopes, bad = checkScopes(sp[0], g.scopes)
		if bad != "" {
			return tokenSet{}, &oauthError{code: "invalid_scope", desc: "scope " + bad + " exceeds the grant"}
		}
	}
	aud, oerr := s.resourcesFor(g, form, false)
	if oerr != nil {
		return tokenSet{}, oerr
	}
	rotate := !s.cfg.DisableRotation
	ts := s.issueLocked(g, scopes, aud, rotate, jkt)
	if rotate {
		rt.rotated = true
	} else if !rt.expires.IsZero() {
		ts.refreshTTL = rt.expires.Sub(now)
	}
	return ts, nil
}

func (s *Server) clientCredentialsLocked(client *Client, form url.Values, jkt string) (tokenSet, *oauthError) {
	if client.authMethod() == AuthNone {
		return tokenSet{}, &oauthError{code: "unauthorized_client", desc: "client_credentials needs a confidential client"}
	}
	scopes, bad := checkScopes(form.Get("scope"), s.allowedScopes(client))
	if bad != "" {
		return tokenSet{}, &oauthError{code: "invalid_scope", desc: "scope " + bad + " is not allowed"}
	}
	g := &grant{clientID: client.ID, subject: client.ID, scopes: scopes, authTime: s.clock.Now(), machine: true}
	aud, oerr := s.resourcesFor(g, form, true)
	if oerr != nil {
		return tokenSet{}, oerr
	}
	s.grants = append(s.grants, g)
	return s.issueLocked(g, scopes, aud, false, jkt), nil
}
