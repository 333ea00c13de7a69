package oauthtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// DefaultClientID is the ID of the public client a Server registers when
// Config.Clients is empty.
const DefaultClientID = "authloop-test-client"

// Config configures a Server. The zero value is a server with one public
// client (DefaultClientID) that auto-approves every authorization request,
// issues one-hour access tokens and rotating refresh tokens that never
// expire.
type Config struct {
	// AccessTokenTTL is the access tokens' lifetime; default one hour.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the refresh tokens' lifetime, counted from when
	// each was issued; 0 means they never expire.
	RefreshTokenTTL time.Duration
	// Clock is the server's time; nil means the real time.
	Clock Clock
	// IssuerPath is a path appended to the server's URL to form the issuer,
	// e.g. "/tenant/a" gives http://127.0.0.1:PORT/tenant/a. Metadata is
	// then served at the RFC 8414 path-inserted URL
	// (/.well-known/oauth-authorization-server/tenant/a) and at both
	// OpenID forms (/tenant/a/.well-known/openid-configuration and
	// /.well-known/openid-configuration/tenant/a). The endpoints live under
	// the issuer path.
	IssuerPath string
	// Scopes are the supported scopes; default openid profile email
	// offline_access read write.
	Scopes []string
	// Clients are the pre-registered clients. If empty, the server
	// registers one public client with ID DefaultClientID that accepts any
	// loopback redirect URI.
	Clients []Client

	// ExactRedirectURIs makes the authorization endpoint compare a redirect
	// URI with the registered ones character for character, as many
	// servers do (those built into common MCP server frameworks among
	// them): a loopback URI matches only with the port it was registered
	// with, and one registered without a port matches only without one.
	// Off, a registered loopback URI matches with any port (RFC 8252
	// §7.3). A client registered with no redirect URI accepts any loopback
	// URI either way.
	ExactRedirectURIs bool
	// RegistrationManagement gives every dynamically registered client a
	// client configuration endpoint (RFC 7592): the registration response
	// carries registration_client_uri and registration_access_token, and
	// that URI, with that token, reads (GET), updates (PUT) or deletes
	// (DELETE) the registration. An update replaces the client's metadata
	// and rotates its registration access token.
	RegistrationManagement bool

	// DisableRotation makes a refresh return no new refresh token; the old
	// one stays valid (Google behaves so).
	DisableRotation bool
	// DisableReuseDetection makes a reused (already rotated) refresh token
	// merely invalid_grant, without revoking the rest of its grant.
	DisableReuseDetection bool
	// RevokeRotatedIgnored makes revoking a refresh token that was already
	// rotated away do nothing (answered 200, as RFC 7009 §2.2 answers an
	// invalid token): only the live refresh token ends its grant, as at
	// servers whose revocation does not cascade from an old token.
	RevokeRotatedIgnored bool
	// DisableRefreshTokens stops the server from issuing refresh tokens.
	DisableRefreshTokens bool
	// Consent makes the authorization endpoint show an HTML page with
	// Approve and Deny buttons instead of approving at once.
	Consent bool
	// OmitIssuerInResponse leaves the iss parameter (RFC 9207) out of
	// authorization responses and metadata says so.
	OmitIssuerInResponse bool
	// JWTAccessTokens makes access tokens HS256-signed JWTs (RFC 9068
	// shaped) with iss, sub, aud (the resource, else the client ID), exp,
	// iat, jti, scope and client_id claims. See Server.SigningKey.
	JWTAccessTokens bool

	// Provider quirks, for testing clients against them.

	// ExpiresInAsString sends expires_in as a JSON string ("3600").
	ExpiresInAsString bool
	// OmitExpiresIn leaves expires_in out of token responses.
	OmitExpiresIn bool
	// TokenType is the token_type sent; default "Bearer".
	TokenType string
	// ErrorsWithStatus200 answers token-endpoint OAuth errors with HTTP 200
	// instead of 400/401, as GitHub does.
	ErrorsWithStatus200 bool
	// RefreshTokenExpiresInField, if set (e.g. "refresh_token_expires_in"
	// or "refresh_expires_in"), is the name under which token responses
	// carry the refresh token's remaining lifetime in seconds, when it has
	// one.
	RefreshTokenExpiresInField string
	// Subject is the user who approves authorization requests; default
	// "alice".
	Subject string

	// Device authorization grant (RFC 8628): see device.go.

	// DeviceCodeTTL is the device codes' lifetime; default 10 minutes.
	DeviceCodeTTL time.Duration
	// DeviceInterval is the polling interval in seconds the device
	// authorization response names: 0 means 1 (short, for tests); a
	// negative value leaves interval out (clients then wait 5 seconds).
	DeviceInterval int
	// DeviceAutoApprovePolls, when positive, approves a device request at
	// its Nth poll, as if the person had approved it in between.
	DeviceAutoApprovePolls int

	// ResourceIdentifier is the resource identifier (RFC 8707, RFC 9728
	// §2) of the protected API at ResourceEndpoint: the "resource" its
	// protected resource metadata states. A value starting with "/" is
	// relative to the issuer ("/resource/" gives Issuer()+"/resource/",
	// "/" the issuer with a trailing slash), so a test can name it before
	// the port is known. Default: ResourceEndpoint().
	ResourceIdentifier string
	// ExactResource makes the server know only ResourceIdentifier, as real
	// servers know their APIs by a registered identifier: a resource
	// parameter of an authorization, device authorization or token request
	// that is not that identifier byte for byte (not even one that differs
	// by a trailing slash) is refused with invalid_target.
	ExactResource bool

	// DPoP (RFC 9449): see dpop.go.

	// DPoP makes the server speak DPoP. The metadata lists
	// dpop_signing_alg_values_supported ["ES256"]. A token request (every
	// grant) with a DPoP header must carry one valid proof for POST to the
	// TokenEndpoint, never seen before (its jti), or is answered 400
	// invalid_dpop_proof; its access and refresh tokens are then bound to
	// the proof's key (cnf.jkt in a JWT access token), and token_type is
	// "DPoP". The refresh token is bound for every client, confidential
	// ones too (RFC 9449 §5 asks it for public clients only): refreshing a
	// bound refresh token needs a proof by the same key, or is answered
	// invalid_dpop_proof before anything is rotated or revoked, and the
	// new tokens keep the binding. An authorization request's dpop_jkt
	// (§10) binds the code: redeemed without a proof by that key, it is
	// invalid_grant, and not spent. A token request without a DPoP header
	// gets bearer tokens. The ResourceEndpoint takes DPoP-bound tokens
	// with the DPoP scheme and a proof, and refuses them as Bearer (see
	// ResourceEndpoint). Off, the server ignores DPoP headers, as a server
	// that does not know DPoP.
	DPoP bool
	// DPoPRequired refuses a token request without a DPoP proof (400
	// invalid_dpop_proof), so every token is DPoP-bound. It implies DPoP.
	DPoPRequired bool
	// DPoPNonce makes the server require a nonce in every proof, at the
	// token endpoint and at the resource (RFC 9449 §8, §9): one current
	// nonce for both, a random string that RotateDPoPNonce replaces. A
	// proof without it or with an older one is answered use_dpop_nonce
	// with the current nonce in a DPoP-Nonce header (400 at the token
	// endpoint, before the grant is looked at, so a code or refresh token
	// stays usable; 401 at the resource), and every response to a request
	// with a DPoP header carries DPoP-Nonce (an injected fault's answer
	// aside). It implies DPoP.
	DPoPNonce bool

	// Machine identities: private_key_jwt client authentication
	// (assertion.go), the JWT-bearer grant (jwtbearer.go) and the token
	// exchange of enterprise-managed authorization (idjag.go).

	// AssertionAudience is the aud a client assertion (and a JWT-bearer
	// grant that is not an ID-JAG) must name: "" accepts the issuer or the
	// token endpoint's URL, AudienceIssuer ("issuer") only the issuer,
	// AudienceTokenEndpoint ("token_endpoint") only the token endpoint.
	// NewServer panics on any other value.
	AssertionAudience string
	// MaxAssertionLifetime is how far a client assertion's exp may lie
	// after its iat and after now; default DefaultMaxAssertionLifetime
	// (5 minutes).
	MaxAssertionLifetime time.Duration
	// TrustedIssuers are the issuers whose JWTs the token endpoint takes
	// as JWT-bearer grants (JWTBearerGrantType): workload platforms, and
	// identity providers whose ID-JAGs it honours. None: every JWT-bearer
	// grant is refused (invalid_grant, untrusted iss).
	TrustedIssuers []TrustedIssuer
	// RequireJTI refuses a JWT-bearer assertion without a jti. A jti, when
	// present, is accepted once either way (until the assertion's exp); an
	// ID-JAG must always have one.
	RequireJTI bool
	// JWTBearerRefreshTokens makes the JWT-bearer grant issue a refresh
	// token (unless DisableRefreshTokens); by default it issues none, and
	// the client presents a new assertion when its access token expires.
	JWTBearerRefreshTokens bool
	// TokenExchange makes the server an enterprise identity provider: the
	// token endpoint takes a token exchange (RFC 8693,
	// TokenExchangeGrantType) of an ID token it issued for an ID-JAG (see
	// idjag.go). Off, token exchange is unsupported_grant_type.
	TokenExchange bool
	// IDJAGClientID maps the ID of a client of this server (the identity
	// provider) to its client ID at the authorization servers its ID-JAGs
	// go to: the ID-JAG's client_id claim. A client not in the map keeps
	// its own ID.
	IDJAGClientID map[string]string
}

// Server is an OAuth 2.1 authorization server listening on a loopback port,
// for tests. All its state lives in memory; it is safe for concurrent use.
// Create it with NewServer and stop it with Close.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT, without the issuer path.
	URL string

	cfg    Config
	clock  Clock
	path   string // issuer path, "" or "/a/b"
	scopes []string
	key    []byte     // HS256 key for JWT access tokens
	idKey  signingKey // ES256 key for ID tokens and ID-JAGs
	hs     *httptest.Server
	routes map[string]route

	done      chan struct{} // closed by Close, ends FaultDelay waits
	closeOnce sync.Once

	mu          sync.Mutex
	clients     map[string]*Client
	firstClient string
	codes       map[string]*authCode
	access      map[string]*accessToken
	refresh     map[string]*refreshToken
	grants      []*grant
	faults      []Fault
	denials     []denial
	regDenials  []denial          // DenyRegistration
	regTokens   map[string]string // registration access tokens by client id (RFC 7592)
	counts      map[string]int
	grantCounts map[string]int // token requests by grant_type
	log         []Request
	seenJTI     map[string]time.Time // assertions' jti, until their exp (assertion.go)

	dp           dpopState              // DPoP nonces and seen proofs (dpop.go)
	devices      map[string]*deviceCode // by device_code
	deviceOrder  []*deviceCode
	deviceScript []string // DeviceNext
}

// Request is one entry of the server's request log. It never contains
// codes, tokens, client secrets or PKCE verifiers.
type Request struct {
	// Time is when the request arrived, by the server's Clock.
	Time time.Time
	// Method is the HTTP method.
	Method string
	// Endpoint names the endpoint: "metadata", "authorize", "token",
	// "register", "client_configuration" (RFC 7592), "revoke", "resource",
	// "resource_metadata", "device_authorization" or "device" (the
	// verification page).
	Endpoint string
	// GrantType is the grant_type of a token request (see CountGrant).
	GrantType string
	// ClientID is the client the request named, if any.
	ClientID string
	// Status is the HTTP status answered; 0 if none was (FaultReset, or the
	// request went away during a FaultDelay).
	Status int
	// Error is the OAuth error code answered, if any.
	Error string
	// Fault is the injected fault this request met, or 0.
	Fault FaultKind
	// DPoPJKT is the JWK thumbprint of the key of the DPoP proof the
	// server accepted with a token or resource request, or "" (no proof,
	// or one refused).
	DPoPJKT string
	// DPoPNonce is the nonce claim of the request's DPoP proof, accepted
	// or not, or "".
	DPoPNonce string
}

type route struct {
	name    string
	methods []string
	handle  func(*exchange)
}

// NewServer starts a Server on 127.0.0.1 with a random port. It panics if it
// cannot listen, like httptest.NewServer.
func NewServer(cfg Config) *Server {
	s := &Server{
		cfg:       cfg,
		clock:     cfg.Clock,
		scopes:    slices.Clone(cfg.Scopes),
		key:       randomBytes(32),
		idKey:     newSigningKey(),
		done:      make(chan struct{}),
		clients:   make(map[string]*Client),
		codes:     make(map[string]*authCode),
		access:    make(map[string]*accessToken),
		refresh:   make(map[string]*refreshToken),
		counts:    make(map[string]int),
		devices:   make(map[string]*deviceCode),
		regTokens: make(map[string]string),

		grantCounts: make(map[string]int),
		seenJTI:     make(map[string]time.Time),
	}
	switch cfg.AssertionAudience {
	case "", AudienceIssuer, AudienceTokenEndpoint:
	default:
		panic("oauthtest: Config.AssertionAudience is " + strconv.Quote(cfg.AssertionAudience) + `; use "", "issuer" or "token_endpoint"`)
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.cfg.AccessTokenTTL <= 0 {
		s.cfg.AccessTokenTTL = time.Hour
	}
	if s.cfg.TokenType == "" {
		s.cfg.TokenType = "Bearer"
	}
	if s.cfg.Subject == "" {
		s.cfg.Subject = "alice"
	}
	if len(s.scopes) == 0 {
		s.scopes = []string{"openid", "profile", "email", "offline_access", "read", "write"}
	}
	s.path = "/" + strings.Trim(cfg.IssuerPath, "/")
	if s.path == "/" {
		s.path = ""
	}
	clients := cfg.Clients
	if len(clients) == 0 {
		clients = []Client{{ID: DefaultClientID}}
	}
	for _, c := range clients {
		s.AddClient(c)
	}
	s.firstClient = clients[0].ID
	s.initDPoP()
	s.routes = s.buildRoutes()

	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.URL = "http://" + s.hs.Listener.Addr().String()
	s.hs.Start()
	return s
}

func (s *Server) buildRoutes() map[string]route {
	p := s.path
	rs := map[string]route{
		p + "/authorize": {"authorize", []string{http.MethodGet, http.MethodPost}, s.handleAuthorize},
		p + "/token":     {"token", []string{http.MethodPost}, s.handleToken},
		p + "/register":  {"register", []string{http.MethodPost}, s.handleRegister},
		p + "/revoke":    {"revoke", []string{http.MethodPost}, s.handleRevoke},
		p + "/resource":  {"resource", []string{http.MethodGet, http.MethodPost}, s.handleResource},
		p + "/jwks":      {"jwks", []string{http.MethodGet, http.MethodHead}, s.handleJWKS},

		p + "/device_authorization": {"device_authorization", []string{http.MethodPost}, s.handleDeviceAuthorization},
		p + "/device":               {"device", []string{http.MethodGet, http.MethodPost}, s.handleDevicePage},
	}
	meta := route{"metadata", []string{http.MethodGet, http.MethodHead}, s.handleMetadata}
	rs["/.well-known/oauth-authorization-server"+p] = meta
	rs["/.well-known/openid-configuration"+p] = meta
	rs[p+"/.well-known/openid-configuration"] = meta
	rs["/.well-known/oauth-protected-resource"+p+"/resource"] = route{"resource_metadata", []string{http.MethodGet, http.MethodHead}, s.handleResourceMetadata}
	return rs
}

// Close stops the server: it ends pending FaultDelay waits, waits for the
// requests under way and closes every connection, so no goroutine of the
// server is left. Close may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.hs.Close()
	})
}

// Issuer returns the issuer identifier: URL plus Config.IssuerPath.
func (s *Server) Issuer() string { return s.URL + s.path }

// AuthorizationEndpoint returns the authorization endpoint's URL.
func (s *Server) AuthorizationEndpoint() string { return s.Issuer() + "/authorize" }

// TokenEndpoint returns the token endpoint's URL.
func (s *Server) TokenEndpoint() string { return s.Issuer() + "/token" }

// RegistrationEndpoint returns the dynamic client registration (RFC 7591)
// endpoint's URL.
func (s *Server) RegistrationEndpoint() string { return s.Issuer() + "/register" }

// RevocationEndpoint returns the token revocation (RFC 7009) endpoint's URL.
func (s *Server) RevocationEndpoint() string { return s.Issuer() + "/revoke" }

// ResourceEndpoint returns the URL of a protected API. A GET (or POST) with a
// valid bearer access token is answered 200 with a JSON object holding sub,
// scope, client_id and aud; anything else with 401 and a WWW-Authenticate
// Bearer challenge: error="invalid_token" for a bad token, no error
// parameter when there was no token. The challenge also carries the
// resource_metadata URL (RFC 9728).
//
// With Config.DPoP (RFC 9449 §7), it also takes a DPoP-bound token as
// "Authorization: DPoP <token>" with one DPoP header: a proof for the
// request's method and this URL (never the Host header), with ath for the
// token, signed by the token's key, never seen before (jti), carrying the
// nonce when one is required. The answer then also holds cnf.jkt. A
// refused proof is 401 with error="invalid_dpop_proof"; a proof by
// another key than the token's, a DPoP-bound token sent as Bearer
// (§7.2), and a bearer token sent with the DPoP scheme (it has no key to
// prove) are 401 invalid_token; a missing or old nonce is 401
// use_dpop_nonce with a DPoP-Nonce header (§9; see
// ChallengeResourceNonce). These challenges use the DPoP scheme with
// algs="ES256"; a challenge without an error offers both schemes (only
// DPoP with Config.DPoPRequired).
func (s *Server) ResourceEndpoint() string { return s.Issuer() + "/resource" }

// ResourceIdentifier returns the protected API's resource identifier:
// Config.ResourceIdentifier (resolved against the issuer when it starts
// with "/"), or ResourceEndpoint().
func (s *Server) ResourceIdentifier() string {
	switch id := s.cfg.ResourceIdentifier; {
	case id == "":
		return s.ResourceEndpoint()
	case strings.HasPrefix(id, "/"):
		return s.Issuer() + id
	default:
		return id
	}
}

// ResourceMetadataURL returns the URL of the ResourceEndpoint's protected
// resource metadata (RFC 9728), which names this server as its
// authorization server.
func (s *Server) ResourceMetadataURL() string {
	return s.URL + "/.well-known/oauth-protected-resource" + s.path + "/resource"
}

// MetadataURL returns the RFC 8414 authorization server metadata URL (the
// path-inserted form for an issuer with a path).
func (s *Server) MetadataURL() string {
	return s.URL + "/.well-known/oauth-authorization-server" + s.path
}

// Endpoint returns the authorization and token endpoints for
// golang.org/x/oauth2. Its AuthStyle fits the first client's authentication
// method, so x/oauth2 never has to guess (and replay a code).
func (s *Server) Endpoint() oauth2.Endpoint {
	e := oauth2.Endpoint{AuthURL: s.AuthorizationEndpoint(), TokenURL: s.TokenEndpoint()}
	s.mu.Lock()
	c := s.clients[s.firstClient]
	s.mu.Unlock()
	if c != nil && c.authMethod() == AuthClientSecretBasic {
		e.AuthStyle = oauth2.AuthStyleInHeader
	} else {
		e.AuthStyle = oauth2.AuthStyleInParams
	}
	return e
}

// ClientID returns the ID of the first client: Config.Clients[0], or
// DefaultClientID.
func (s *Server) ClientID() string { return s.firstClient }

// AddClient registers c, replacing any client with the same ID. The server
// keeps its own copy.
func (s *Server) AddClient(c Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = c.clone()
}

// Client returns a copy of the client registered with id, pre-registered
// or dynamically, and whether there is one.
func (s *Server) Client(id string) (Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[id]
	if c == nil {
		return Client{}, false
	}
	return *c.clone(), true
}

// Count returns how many requests the named endpoint has received so far:
// "metadata", "authorize", "token", "register", "client_configuration",
// "revoke", "resource", "resource_metadata", "device_authorization",
// "device" or "jwks". A request is counted as soon as it arrives.
func (s *Server) Count(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[endpoint]
}

// Requests returns a copy of the request log, oldest first. An entry's
// Status and Error are filled in before its response is sent, so once a
// client has a response, its entry is complete.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// SigningKey returns a copy of the HS256 key that signs JWT access tokens
// (Config.JWTAccessTokens), for tests that verify them. ID tokens and
// ID-JAGs are signed with the ES256 key of PublicKey.
func (s *Server) SigningKey() []byte { return slices.Clone(s.key) }

// serveHTTP routes a request, counts it and logs it.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := s.routes[r.URL.Path]
	if !ok && strings.HasPrefix(r.URL.Path, s.path+clientConfigPrefix) {
		rt, ok = route{"client_configuration", []string{http.MethodGet, http.MethodPut, http.MethodDelete}, s.handleClientConfiguration}, true
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	s.counts[rt.name]++
	s.log = append(s.log, Request{Time: s.clock.Now(), Method: r.Method, Endpoint: rt.name})
	idx := len(s.log) - 1
	s.mu.Unlock()

	x := &exchange{s: s, w: w, r: r, idx: idx}
	if !slices.Contains(rt.methods, r.Method) {
		w.Header().Set("Allow", strings.Join(rt.methods, ", "))
		x.errCode = "method_not_allowed"
		http.Error(x, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rt.handle(x)
	if x.held != nil {
		x.sendHeld()
	}
}

// exchange is one request with its response writer. It records the status,
// error code, grant type and client in the request log at the moment the
// response header is written.
type exchange struct {
	s   *Server
	w   http.ResponseWriter
	r   *http.Request
	idx int

	clientID, grantType, errCode string
	dpopJKT, dpopNonce           string // Request.DPoPJKT, Request.DPoPNonce
	fault                        FaultKind
	committed                    bool
	held                         *heldAnswer // FaultHoldAnswer: the answer, sent by sendHeld
}

func (x *exchange) Header() http.Header { return x.w.Header() }

func (x *exchange) WriteHeader(status int) {
	if !x.committed {
		x.commit(status)
	}
	if x.held != nil {
		if x.held.status == 0 {
			x.held.status = status
		}
		return
	}
	x.w.WriteHeader(status)
}

func (x *exchange) Write(b []byte) (int, error) {
	if !x.committed {
		x.WriteHeader(http.StatusOK)
	}
	if x.held != nil {
		x.held.body = append(x.held.body, b...)
		return len(b), nil
	}
	return x.w.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (FaultReset).
func (x *exchange) Unwrap() http.ResponseWriter { return x.w }

// commit writes the request's outcome to the log.
func (x *exchange) commit(status int) {
	x.committed = true
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	e := &x.s.log[x.idx]
	e.Status = status
	e.Error = x.errCode
	e.GrantType = x.grantType
	e.ClientID = x.clientID
	e.Fault = x.fault
	e.DPoPJKT = x.dpopJKT
	e.DPoPNonce = x.dpopNonce
}

// writeJSON answers with v as JSON.
func (x *exchange) writeJSON(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(x, err.Error(), http.StatusInternalServerError)
		return
	}
	x.Header().Set("Content-Type", "application/json")
	x.WriteHeader(status)
	_, _ = x.Write(b)
}

// oauthError is an OAuth error response (RFC 6749 §5.2).
type oauthError struct {
	code, desc string
	status     int  // 0: 401 for invalid_client, else 400
	basic      bool // send WWW-Authenticate: Basic with a 401
}

// writeError answers e as a JSON error. quirks applies
// Config.ErrorsWithStatus200 (token endpoint only).
func (x *exchange) writeError(e *oauthError, quirks bool) {
	status := e.status
	if status == 0 {
		status = http.StatusBadRequest
		if e.code == "invalid_client" {
			status = http.StatusUnauthorized
		}
	}
	if status == http.StatusUnauthorized && e.basic {
		x.Header().Set("WWW-Authenticate", `Basic realm="oauthtest"`)
	}
	if quirks && x.s.cfg.ErrorsWithStatus200 {
		status = http.StatusOK
	}
	x.errCode = e.code
	body := map[string]string{"error": e.code}
	if e.desc != "" {
		body["error_description"] = e.desc
	}
	x.writeJSON(status, body)
}

func noStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}
