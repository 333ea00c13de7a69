// Package callback receives an OAuth 2.0 authorization response on a
// loopback redirect URI, as native apps do under RFC 8252 §7.3: a command-line
// tool or desktop app opens the authorization URL in the user's browser, the
// authorization server redirects the browser to http://127.0.0.1:PORT/callback,
// and this package answers that request with a page the person can read and
// hands the code (or the error) to the program.
//
// Listen binds a loopback port at once, so the redirect URI is known before
// the authorization URL is built, and starts serving; Wait then returns the
// first authorization response whose state matches. The receiver is
// deliberately strict: it binds only loopback addresses, checks the Host
// header (a defence against DNS rebinding), compares state in constant time,
// and ignores responses with a missing or wrong state instead of aborting the
// login, so a page or process that guesses the port cannot end a sign-in.
//
// The iss parameter of RFC 9207 is returned as Response.Issuer, on success
// and on error responses alike, so the caller can check that the response
// came from the authorization server it started with.
//
// Basic use:
//
//	rcv, err := callback.Listen(callback.Config{State: state})
//	if err != nil { ... }
//	defer rcv.Close()
//	authURL := oauthConfig.AuthCodeURL(state, oauth2.SetAuthURLParam("redirect_uri", rcv.RedirectURI()), ...)
//	// open authURL in the browser
//	resp, err := rcv.Wait(ctx)
package callback

import (
	"html/template"
	"net/url"
	"strings"
	"time"
)

// DefaultPath is the callback path used when Config.Path is empty.
const DefaultPath = "/callback"

// DefaultTimeout is how long Wait waits when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Minute

// DefaultAppName is the name shown on the pages when Config.AppName is empty.
const DefaultAppName = "authloop"

// MaxBodyBytes bounds the body of a form_post response; a larger body is
// refused with 413 and does not end the wait.
const MaxBodyBytes = 64 << 10

// Config configures a Receiver. Its zero value is useful except for State,
// which must be set.
type Config struct {
	// Addr is the loopback address to listen on, as host or host:port.
	// "" means "127.0.0.1:0": the operating system picks a free port.
	// "[::1]:0" or "[::1]" listens on the IPv6 loopback address.
	// "127.0.0.1:8085" is a fixed port, for providers that register one.
	// "localhost" or "localhost:PORT" binds 127.0.0.1 but writes localhost
	// in the redirect URI, for providers that insist on that name.
	// Any other host (0.0.0.0, ::, a LAN address, a host name) is refused.
	Addr string

	// Path is the callback path; "" means DefaultPath. It must start with "/".
	Path string

	// State is the state value sent in the authorization request. It is
	// required: only a response carrying exactly this state ends the wait.
	State string

	// Timeout bounds Wait. 0 means DefaultTimeout; a negative value means
	// no timeout of the receiver's own (only Wait's context ends the wait).
	Timeout time.Duration

	// AppName is the program's name as shown on the pages, such as
	// "You're signed in to AppName". "" means DefaultAppName.
	AppName string

	// SuccessTemplate, if set, renders the page shown after a successful
	// response. It is executed with a PageData. nil means the embedded page.
	SuccessTemplate *template.Template

	// ErrorTemplate, if set, renders every other page: error responses from
	// the authorization server and refused requests (400, 404, 405, 410, ...).
	// It is executed with a PageData. nil means the embedded page.
	ErrorTemplate *template.Template

	// OnRequest, if set, is called for every request the receiver answers,
	// after the answer has been written, for logging and debugging. It may be
	// called from several goroutines at once. The Request it gets never
	// holds the query, the code or the state.
	OnRequest func(Request)
}

// Response is an authorization response received at the redirect URI whose
// state matched Config.State.
type Response struct {
	// Code is the authorization code; "" in an error response.
	Code string
	// State is the state parameter; it equals Config.State.
	State string
	// Issuer is the iss parameter (RFC 9207), or "" if the response had none.
	// The caller compares it with the issuer it expects.
	Issuer string
	// Params holds every parameter received, including those above.
	Params url.Values
	// Method is "GET" for a query response or "POST" for response_mode=form_post.
	Method string
}

// Request describes one request the receiver answered, for Config.OnRequest.
// It never holds the query, the body, the code or the state.
type Request struct {
	// Method is the request method as received.
	Method string
	// Path is the request path (without the query).
	Path string
	// RemoteAddr is the client's address, such as "127.0.0.1:53211".
	RemoteAddr string
	// Status is the HTTP status code of the answer.
	Status int
	// Outcome says in a few words what the receiver made of the request:
	// "accepted", "error response", "wrong state", "missing state",
	// "not found", "method not allowed", "bad host", "already completed",
	// "malformed".
	Outcome string
}

// Outcomes reported in Request.Outcome.
const (
	OutcomeAccepted         = "accepted"
	OutcomeErrorResponse    = "error response"
	OutcomeWrongState       = "wrong state"
	OutcomeMissingState     = "missing state"
	OutcomeNotFound         = "not found"
	OutcomeMethodNotAllowed = "method not allowed"
	OutcomeBadHost          = "bad host"
	OutcomeAlreadyCompleted = "already completed"
	OutcomeMalformed        = "malformed"
)

// PageData is what SuccessTemplate and ErrorTemplate are executed with.
// Every field may come partly from outside (the error fields come from the
// authorization server), so templates must rely on html/template escaping.
type PageData struct {
	// AppName is Config.AppName, or DefaultAppName.
	AppName string
	// Title is the page's heading, such as "You're signed in to authloop".
	Title string
	// Message is one or two sentences telling the person what happened and
	// what to do next.
	Message string
	// Status is the HTTP status code of the page.
	Status int
	// ErrorCode, ErrorDescription and ErrorURI are the error, error_description
	// and error_uri parameters of an error response; "" otherwise.
	ErrorCode, ErrorDescription, ErrorURI string
	// Final reports whether this page ended the sign-in with a failure (an
	// error response, or a malformed one), as opposed to a refused request
	// that leaves the sign-in waiting. It is false on the success page.
	Final bool
}

// ErrorLink returns ErrorURI if it is an absolute http or https URL, fit to
// be a link, and "" otherwise (javascript:, data:, relative or malformed).
// Templates use it as {{with .ErrorLink}}<a href="{{.}}">...{{end}}.
func (p PageData) ErrorLink() string {
	u, err := url.Parse(p.ErrorURI)
	if err != nil || u.Host == "" || (!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) {
		return ""
	}
	return p.ErrorURI
}
