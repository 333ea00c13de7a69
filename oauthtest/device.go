package oauthtest

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DeviceCodeGrantType is the grant_type of the device access token request
// (RFC 8628 §3.4).
const DeviceCodeGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// defaultDeviceCodeTTL is how long a device code lives when
// Config.DeviceCodeTTL is 0.
const defaultDeviceCodeTTL = 10 * time.Minute

// userCodeAlphabet has no vowels and no look-alikes (RFC 8628 §6.1).
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// deviceCode is one device authorization request (RFC 8628 §3.1) waiting
// for the person to approve it at the verification page.
type deviceCode struct {
	clientID  string
	userCode  string // as shown, "BCDF-GHJK"
	scopes    []string
	resources []string
	expires   time.Time
	polls     int
	approved  bool
	denied    bool
	used      bool // tokens were issued; the code is spent
}

// ErrUnknownUserCode is returned by ApproveDevice and DenyDevice for a user
// code the server never issued, that expired or that was already used.
var ErrUnknownUserCode = errors.New("oauthtest: unknown, expired or used user code")

// DeviceAuthorizationEndpoint returns the device authorization endpoint's
// URL (RFC 8628 §3.1).
func (s *Server) DeviceAuthorizationEndpoint() string { return s.Issuer() + "/device_authorization" }

// VerificationURI returns the page where the person enters (or, with
// ?user_code=, confirms) the user code and approves the device. Browse on
// the verification_uri_complete approves it, as a person would.
func (s *Server) VerificationURI() string { return s.Issuer() + "/device" }

// ApproveDevice approves the device authorization request with userCode
// (with or without its dash, any case), as the person would at the
// verification page: the next poll gets the tokens.
func (s *Server) ApproveDevice(userCode string) error {
	return s.decideDevice(userCode, true)
}

// DenyDevice refuses the device authorization request with userCode: the
// next poll gets access_denied.
func (s *Server) DenyDevice(userCode string) error {
	return s.decideDevice(userCode, false)
}

func (s *Server) decideDevice(userCode string, approve bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dc := s.findUserCodeLocked(userCode)
	if dc == nil {
		return ErrUnknownUserCode
	}
	dc.approved, dc.denied = approve, !approve
	return nil
}

// PendingUserCodes returns the user codes of the device authorization
// requests that wait for the person, oldest first.
func (s *Server) PendingUserCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var out []string
	for _, dc := range s.deviceOrder {
		if !dc.used && !dc.approved && !dc.denied && now.Before(dc.expires) {
			out = append(out, dc.userCode)
		}
	}
	return out
}

// DeviceNext makes the next device access token requests (polls with a
// known device code) answer with the given error codes, one per poll, in
// order, whatever the state of the request: "authorization_pending",
// "slow_down", "expired_token", "access_denied", ... Calls append.
func (s *Server) DeviceNext(codes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deviceScript = append(s.deviceScript, codes...)
}

// findUserCodeLocked finds a live device request by user code. The caller
// holds s.mu.
func (s *Server) findUserCodeLocked(userCode string) *deviceCode {
	want := normalizeUserCode(userCode)
	now := s.clock.Now()
	for _, dc := range s.deviceOrder {
		if normalizeUserCode(dc.userCode) == want && !dc.used && now.Before(dc.expires) {
			return dc
		}
	}
	return nil
}

// normalizeUserCode drops dashes and spaces and upper-cases (RFC 8628 §6.1).
func normalizeUserCode(c string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(c))
}

func newUserCode() string {
	b := randomBytes(8)
	var sb strings.Builder
	for i, v := range b {
		if i == 4 {
			sb.WriteByte('-')
		}
		sb.WriteByte(userCodeAlphabet[int(v)%len(userCodeAlphabet)])
	}
	return sb.String()
}

// handleDeviceAuthorization serves the device authorization endpoint (RFC
// 8628 §3.1, §3.2). The client authenticates as at the token endpoint.
func (s *Server) handleDeviceAuthorization(x *exchange) {
	noStore(x.Header())
	form, cc, ok := x.clientForm()
	if !ok {
		return
	}

	s.mu.Lock()
	client, oerr := s.authenticateLocked(cc)
	s.mu.Unlock()
	if oerr != nil {
		x.writeError(oerr, false)
		return
	}
	scopes, bad := checkScopes(form.Get("scope"), s.allowedScopes(client))
	if bad != "" {
		x.writeError(&oauthError{code: "invalid_scope", desc: "scope " + bad + " is not allowed"}, false)
		return
	}
	resources := dedupe(form["resource"])
	for _, res := range resources {
		if oerr := s.checkResource(res); oerr != nil {
			x.writeError(oerr, false)
			return
		}
	}
	ttl := s.cfg.DeviceCodeTTL
	if ttl <= 0 {
		ttl = defaultDeviceCodeTTL
	}
	device := randomToken()
	dc := &deviceCode{
		clientID:  client.ID,
		userCode:  newUserCode(),
		scopes:    scopes,
		resources: resources,
		expires:   s.clock.Now().Add(ttl),
	}
	s.mu.Lock()
	s.devices[device] = dc
	s.deviceOrder = append(s.deviceOrder, dc)
	s.mu.Unlock()

	body := map[string]any{
		"device_code":               device,
		"user_code":                 dc.userCode,
		"verification_uri":          s.VerificationURI(),
		"verification_uri_complete": s.VerificationURI() + "?user_code=" + dc.userCode,
		"expires_in":                int64(ttl / time.Second),
	}
	switch iv := s.cfg.DeviceInterval; {
	case iv == 0:
		body["interval"] = 1
	case iv > 0:
		body["interval"] = iv
	}
	x.writeJSON(http.StatusOK, body)
}

// deviceTokenLocked answers a device access token request (RFC 8628 §3.4,
// §3.5). The caller holds s.mu.
func (s *Server) deviceTokenLocked(client *Client, form url.Values, jkt string) (tokenSet, *oauthError) {
	code := form.Get("device_code")
	if code == "" {
		return tokenSet{}, &oauthError{code: "invalid_request", desc: "device_code is missing"}
	}
	dc := s.devices[code]
	switch {
	case dc == nil:
		return tokenSet{}, &oauthError{code: "invalid_grant", desc: "unknown device code"}
	case dc.clientID != client.ID:
		return tokenSet{}, &oauthError{code: "invalid_grant", desc: "device code was issued to another client"}
	case dc.used:
		return tokenSet{}, &oauthError{code: "invalid_grant", desc: "device code already used"}
	}
	dc.polls++
	if len(s.deviceScript) > 0 {
		next := s.deviceScript[0]
		s.deviceScript = s.deviceScript[1:]
		return tokenSet{}, &oauthError{code: next, desc: deviceErrorText[next]}
	}
	if n := s.cfg.DeviceAutoApprovePolls; n > 0 && dc.polls >= n && !dc.denied {
		dc.approved = true
	}
	switch {
	case !s.clock.Now().Before(dc.expires):
		return tokenSet{}, &oauthError{code: "expired_token", desc: deviceErrorText["expired_token"]}
	case dc.denied:
		dc.used = true
		return tokenSet{}, &oauthError{code: "access_denied", desc: deviceErrorText["access_denied"]}
	case !dc.approved:
		return tokenSet{}, &oauthError{code: "authorization_pending", desc: deviceErrorText["authorization_pending"]}
	}
	dc.used = true
	g := &grant{
		clientID:  client.ID,
		subject:   s.cfg.Subject,
		scopes:    dc.scopes,
		resources: dc.resources,
		authTime:  s.clock.Now(),
	}
	aud, oerr := s.resourcesFor(g, form, true)
	if oerr != nil {
		return tokenSet{}, oerr
	}
	s.grants = append(s.grants, g)
	return s.issueLocked(g, g.scopes, aud, !s.cfg.DisableRefreshTokens, jkt), nil
}

var deviceErrorText = map[string]string{
	"authorization_pending": "the user has not yet approved the request",
	"slow_down":             "polling too fast; add 5 seconds to the interval",
	"expired_token":         "the device code expired; start again",
	"access_denied":         "the user denied the request",
}

// handleDevicePage serves the verification page (RFC 8628 §3.3): a form
// with the user code and Approve and Deny buttons, and its answer.
func (s *Server) handleDevicePage(x *exchange) {
	r := x.r
	if r.Method == http.MethodGet {
		x.renderHTML(http.StatusOK, devicePage, deviceData{
			Action:   template.URL(s.VerificationURI()),
			UserCode: r.URL.Query().Get("user_code"),
			Subject:  s.cfg.Subject,
		})
		return
	}
	if err := r.ParseForm(); err != nil {
		x.showError("invalid_request", "cannot parse the form")
		return
	}
	code := r.PostForm.Get("user_code")
	var err error
	switch r.PostForm.Get("decision") {
	case "approve":
		err = s.ApproveDevice(code)
	default:
		err = s.DenyDevice(code)
	}
	if err != nil {
		x.errCode = "invalid_request"
		x.renderHTML(http.StatusBadRequest, deviceDonePage, "That code is not valid (unknown, expired or already used). Check it and try again.")
		return
	}
	if r.PostForm.Get("decision") == "approve" {
		x.renderHTML(http.StatusOK, deviceDonePage, "Device approved. You can return to your device.")
		return
	}
	x.renderHTML(http.StatusOK, deviceDonePage, "Request denied.")
}

type deviceData struct {
	Action   template.URL
	UserCode string
	Subject  string
}

// devicePage is marked as a consent form, so Browse submits it choosing
// Approve: keep it in step with formRE and inputRE in browse.go.
var devicePage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("device").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Connect a device</title></head>
<body>
<h1>Connect a device</h1>
<p>Signed in as {{.Subject}}. Check that the code matches the one your device shows.</p>
{{if .UserCode}}<form method="post" action="{{.Action}}" data-oauthtest="consent">
<input type="hidden" name="user_code" value="{{.UserCode}}">
<p>Code: <code>{{.UserCode}}</code></p>
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>{{else}}<form method="post" action="{{.Action}}">
<label>Code: <input type="text" name="user_code" autocomplete="off"></label>
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>{{end}}
</body></html>
`))
})

var deviceDonePage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("device_done").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Connect a device</title></head>
<body><h1>{{.}}</h1></body></html>
`))
})
