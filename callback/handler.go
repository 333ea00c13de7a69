package callback

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/authloop/authloop/oautherr"
)

// singleParams are the parameters that must not appear more than once in an
// authorization response.
var singleParams = []string{"state", "code", "error", "error_description", "error_uri", "iss"}

// answer is what the handler decided for one request.
type answer struct {
	status  int
	outcome string
	page    PageData
	success bool // use the success template
}

// serveHTTP answers every request that reaches the receiver.
func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	a := r.decide(w, req)
	a.page.AppName = r.appName
	a.page.Status = a.status
	t := r.failure
	if a.success {
		t = r.success
	}
	writePage(w, a.status, render(t, a.page))
	if r.onRequest != nil {
		path := ""
		if req.URL != nil {
			path = req.URL.Path
		}
		r.onRequest(Request{Method: req.Method, Path: path, RemoteAddr: req.RemoteAddr, Status: a.status, Outcome: a.outcome})
	}
}

// decide checks the request, delivers the first valid response to Wait, and
// returns the page to show. Only a request that passes every check and
// carries the expected state can end the wait.
func (r *Receiver) decide(w http.ResponseWriter, req *http.Request) answer {
	if !strings.EqualFold(req.Host, r.hostHeader) {
		return r.refuse(http.StatusBadRequest, OutcomeBadHost, "Request refused",
			"This sign-in listener answers only requests addressed to "+r.hostHeader+".")
	}
	if req.URL == nil || req.URL.Path != r.path {
		return r.refuse(http.StatusNotFound, OutcomeNotFound, "Page not found",
			"This address only receives the sign-in response for "+r.appName+". There is nothing else here.")
	}
	if req.Method != http.MethodGet && req.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		return r.refuse(http.StatusMethodNotAllowed, OutcomeMethodNotAllowed, "Method not allowed",
			"The sign-in response must arrive as a GET or a form POST.")
	}
	if r.isComplete() {
		return r.alreadyComplete()
	}

	params, status, why := readParams(req)
	if status != 0 {
		return r.refuse(status, OutcomeMalformed, "Sign-in response not understood", why)
	}
	for _, name := range singleParams {
		if len(params[name]) > 1 {
			return r.refuse(http.StatusBadRequest, OutcomeMalformed, "Sign-in response not understood",
				"The response repeats the "+name+" parameter, so it cannot be trusted. Start the sign-in again from "+r.appName+".")
		}
	}
	if _, ok := params["state"]; !ok {
		return r.refuse(http.StatusBadRequest, OutcomeMissingState, "Sign-in response not recognised",
			"This response has no state parameter, so it cannot belong to the sign-in "+r.appName+" is waiting for. "+
				"Finish signing in from the browser tab "+r.appName+" opened, or start again.")
	}
	if !sameSecret(params.Get("state"), r.state) {
		return r.refuse(http.StatusBadRequest, OutcomeWrongState, "Sign-in response not recognised",
			"This response belongs to a different sign-in than the one "+r.appName+" is waiting for. "+
				"If you started several sign-ins, finish the latest one; otherwise start again from "+r.appName+".")
	}

	// The state matches: this response ends the wait, unless another one
	// with the right state got here first.
	r.mu.Lock()
	if r.complete {
		r.mu.Unlock()
		return r.alreadyComplete()
	}
	r.complete = true
	r.mu.Unlock()

	// The browser need not keep this connection: the receiver stops next.
	w.Header().Set("Connection", "close")
	resp := &Response{
		Code:   params.Get("code"),
		State:  params.Get("state"),
		Issuer: params.Get("iss"),
		Params: params,
		Method: req.Method,
	}
	switch {
	case params.Has("error"):
		oerr := &oautherr.Error{
			Code:        params.Get("error"),
			Description: params.Get("error_description"),
			URI:         params.Get("error_uri"),
			Endpoint:    "authorization",
		}
		r.result <- outcome{resp, oerr}
		return answer{status: http.StatusOK, outcome: OutcomeErrorResponse, page: PageData{
			Title:            "Sign-in failed",
			Message:          errorMessage(oerr.Code, r.appName),
			ErrorCode:        oerr.Code,
			ErrorDescription: oerr.Description,
			ErrorURI:         oerr.URI,
			Final:            true,
		}}
	case resp.Code != "":
		r.result <- outcome{resp, nil}
		return answer{status: http.StatusOK, outcome: OutcomeAccepted, success: true, page: PageData{
			Title:   "You're signed in to " + r.appName,
			Message: "You can close this tab and return to " + r.appName + ".",
		}}
	default:
		err := fmt.Errorf("%w: the response at %s had the right state but neither a code nor an error parameter; "+
			"try signing in again, and report it to the provider if it happens again", ErrMalformedResponse, r.redirectURI)
		r.result <- outcome{resp, err}
		return answer{status: http.StatusBadRequest, outcome: OutcomeMalformed, page: PageData{
			Title:   "Sign-in failed",
			Message: "The sign-in response had neither an authorization code nor an error. Return to " + r.appName + " and try again.",
			Final:   true,
		}}
	}
}

func (r *Receiver) isComplete() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.complete
}

func (r *Receiver) refuse(status int, outcome, title, message string) answer {
	return answer{status: status, outcome: outcome, page: PageData{Title: title, Message: message}}
}

func (r *Receiver) alreadyComplete() answer {
	return r.refuse(http.StatusGone, OutcomeAlreadyCompleted, "Sign-in already finished",
		"This sign-in to "+r.appName+" has already finished. You can close this tab.")
}

// readParams returns the response parameters: the query of a GET, or the
// urlencoded body of a POST (never its query). A non-zero status means the
// request is refused, for the reason given.
func readParams(req *http.Request) (url.Values, int, string) {
	const notUnderstood = "The sign-in response could not be read"
	if req.Method == http.MethodGet {
		v, err := url.ParseQuery(req.URL.RawQuery)
		if err != nil {
			return nil, http.StatusBadRequest, notUnderstood + ": its query is malformed."
		}
		return v, 0, ""
	}
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, http.StatusUnsupportedMediaType, notUnderstood + ": a POST must carry an application/x-www-form-urlencoded form."
	}
	if req.Body == nil {
		return url.Values{}, 0, ""
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, http.StatusBadRequest, notUnderstood + ": its body could not be read."
	}
	if len(body) > MaxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge, notUnderstood + ": its body is too large."
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, http.StatusBadRequest, notUnderstood + ": its form is malformed."
	}
	return v, 0, ""
}

// sameSecret compares two secrets in constant time. Hashing first makes the
// time independent of the lengths too.
func sameSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// errorMessage explains an error code from the authorization server to a person.
func errorMessage(code, app string) string {
	switch code {
	case "access_denied":
		return "Access was denied, or the sign-in was cancelled. Return to " + app + " to try again."
	case "temporarily_unavailable", "server_error":
		return "The sign-in service had a problem. Wait a moment, then return to " + app + " and try again."
	case "login_required", "consent_required", "interaction_required":
		return "The sign-in service needs you to sign in or give consent. Return to " + app + " and start again."
	default:
		return "The sign-in service reported an error. Return to " + app + " and try again."
	}
}
