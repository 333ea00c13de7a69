package oauthtest

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// FaultKind is a way for the token endpoint to fail, for testing a
// client's retry and error handling.
type FaultKind int

const (
	// FaultServerError answers 500 with {"error":"server_error"}.
	FaultServerError FaultKind = iota + 1
	// FaultUnavailable answers 503, with Retry-After if Fault.RetryAfter is
	// set.
	FaultUnavailable
	// FaultTooManyRequests answers 429 with Retry-After (Fault.RetryAfter,
	// default "1").
	FaultTooManyRequests
	// FaultDelay waits Fault.Delay, then answers normally. The wait ends
	// early, without an answer, when the request's context ends or the
	// server closes.
	FaultDelay
	// FaultReset closes the connection without any response, with a TCP
	// RST where possible.
	FaultReset
	// FaultMalformed answers 200 with a body that is not valid JSON.
	FaultMalformed
	// FaultHTML answers 502 with an HTML page, as a proxy in front of the
	// server would.
	FaultHTML
	// FaultInvalidGrant answers 400 {"error":"invalid_grant"}.
	FaultInvalidGrant
	// FaultTemporarilyUnavailable answers 400
	// {"error":"temporarily_unavailable"}, or 503 if Fault.RetryAfter is
	// set (with that Retry-After).
	FaultTemporarilyUnavailable
	// FaultOAuthError answers with the OAuth error Fault.Code (RFC 6749
	// §5.2): HTTP 401 for invalid_client, 400 for any other code.
	FaultOAuthError
	// FaultHoldAnswer processes the request as usual (a refresh rotates
	// the refresh token, a code is spent) and then holds the finished
	// answer until Fault.Release is closed: the client has sent its
	// request and the server has acted on it, but the answer is not back
	// yet. A client that goes away meanwhile loses the answer, as on a
	// connection broken after the server acted; Close ends the hold with
	// a reset connection. The log entry is complete once the server has
	// acted.
	FaultHoldAnswer
	// FaultUseDPoPNonce answers 400 {"error":"use_dpop_nonce"} with a
	// fresh nonce in a DPoP-Nonce header (RFC 9449 §8), whatever the
	// request carries. With Config.DPoPNonce the fresh nonce becomes the
	// current one (as RotateDPoPNonce); without it, the next token
	// request's DPoP proof must carry it, once, or is answered
	// use_dpop_nonce with it again.
	FaultUseDPoPNonce
)

var faultNames = map[FaultKind]string{
	FaultServerError:            "FaultServerError",
	FaultUnavailable:            "FaultUnavailable",
	FaultTooManyRequests:        "FaultTooManyRequests",
	FaultDelay:                  "FaultDelay",
	FaultReset:                  "FaultReset",
	FaultMalformed:              "FaultMalformed",
	FaultHTML:                   "FaultHTML",
	FaultInvalidGrant:           "FaultInvalidGrant",
	FaultTemporarilyUnavailable: "FaultTemporarilyUnavailable",
	FaultOAuthError:             "FaultOAuthError",
	FaultHoldAnswer:             "FaultHoldAnswer",
	FaultUseDPoPNonce:           "FaultUseDPoPNonce",
}

// String returns the constant's name.
func (k FaultKind) String() string {
	if n, ok := faultNames[k]; ok {
		return n
	}
	if k == 0 {
		return "none"
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// Fault is one injected token-endpoint failure.
type Fault struct {
	// Kind is what goes wrong.
	Kind FaultKind
	// RetryAfter is the Retry-After header value for FaultUnavailable,
	// FaultTooManyRequests and FaultTemporarilyUnavailable.
	RetryAfter string
	// Delay is how long FaultDelay waits.
	Delay time.Duration
	// Code is the error code FaultOAuthError answers, such as
	// "invalid_client" or "invalid_target".
	Code string
	// Release, closed, ends a FaultHoldAnswer's hold; nil holds until the
	// client goes away or the server closes.
	Release <-chan struct{}
	// GrantType, if set, makes the fault meet only a token request with
	// that grant_type ("refresh_token", JWTBearerGrantType,
	// TokenExchangeGrantType...); requests with another one pass it by,
	// and it stays queued for the next that has it. "" meets any token
	// request.
	GrantType string
	// Held, if not nil, receives a value when a FaultHoldAnswer starts
	// holding, once the server has acted on the request (the send waits
	// for a receiver, or for the hold to end).
	Held chan<- struct{}
}

// FailNext makes the next n token requests meet fault f (the next n with
// grant_type f.GrantType, when set), before the request is otherwise
// looked at (an authorization code is not consumed by a faulted request,
// except after a FaultDelay, which then answers normally). Calls append to
// a queue; a request meets the first queued fault that fits its grant
// type.
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// injectFault applies the next queued fault, if any. It reports whether the
// request is finished.
func (s *Server) injectFault(x *exchange) bool {
	s.mu.Lock()
	i := slices.IndexFunc(s.faults, func(f Fault) bool { return f.GrantType == "" || f.GrantType == x.grantType })
	if i < 0 {
		s.mu.Unlock()
		return false
	}
	f := s.faults[i]
	s.faults = slices.Delete(s.faults, i, i+1)
	s.mu.Unlock()

	x.fault = f.Kind
	h := x.Header()
	switch f.Kind {
	case FaultServerError:
		x.writeError(&oauthError{code: "server_error", status: http.StatusInternalServerError}, false)
	case FaultUnavailable:
		if f.RetryAfter != "" {
			h.Set("Retry-After", f.RetryAfter)
		}
		http.Error(x, "service unavailable", http.StatusServiceUnavailable)
	case FaultTooManyRequests:
		ra := f.RetryAfter
		if ra == "" {
			ra = "1"
		}
		h.Set("Retry-After", ra)
		http.Error(x, "too many requests", http.StatusTooManyRequests)
	case FaultDelay:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
			return false
		case <-x.r.Context().Done():
			x.commit(0) // the client went away
		case <-s.done:
			x.commit(0)
			reset(x) // no half answer while Close waits for us
		}
		return true
	case FaultHoldAnswer:
		x.held = &heldAnswer{fault: f}
		return false // answered by handleToken, sent by sendHeld
	case FaultReset:
		x.commit(0)
		reset(x)
	case FaultMalformed:
		h.Set("Content-Type", "application/json")
		x.WriteHeader(http.StatusOK)
		_, _ = x.Write([]byte(`{"access_token": "trunc`))
	case FaultHTML:
		h.Set("Content-Type", "text/html; charset=utf-8")
		x.WriteHeader(http.StatusBadGateway)
		_, _ = x.Write([]byte("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>proxy</center></body></html>\n"))
	case FaultInvalidGrant:
		x.writeError(&oauthError{code: "invalid_grant", desc: "injected fault"}, true)
	case FaultTemporarilyUnavailable:
		e := &oauthError{code: "temporarily_unavailable", desc: "injected fault"}
		if f.RetryAfter != "" {
			h.Set("Retry-After", f.RetryAfter)
			e.status = http.StatusServiceUnavailable
		}
		x.writeError(e, true)
	case FaultOAuthError:
		x.writeError(&oauthError{code: f.Code, desc: "injected fault"}, true)
	case FaultUseDPoPNonce:
		s.faultUseDPoPNonce(x)
	default:
		x.writeError(&oauthError{code: "server_error", desc: "unknown fault kind " + f.Kind.String(), status: http.StatusInternalServerError}, false)
	}
	return true
}

// heldAnswer is the response of a request under FaultHoldAnswer, kept
// until the hold ends.
type heldAnswer struct {
	fault  Fault
	status int
	body   []byte
}

// sendHeld holds the answer kept in x.held as its fault says, then sends
// it, unless the client went away (the answer is lost) or the server
// closes (the connection is reset).
func (x *exchange) sendHeld() {
	h := x.held
	if h.status == 0 {
		return // nothing was answered
	}
	if h.fault.Held != nil {
		select {
		case h.fault.Held <- struct{}{}:
		case <-h.fault.Release:
		case <-x.r.Context().Done():
		case <-x.s.done:
		}
	}
	select {
	case <-h.fault.Release:
	case <-x.r.Context().Done():
		return // the client went away: the answer is lost
	case <-x.s.done:
		reset(x)
		return
	}
	x.w.WriteHeader(h.status)
	_, _ = x.w.Write(h.body)
}

// reset drops the connection without a response: hijack it, ask for a RST
// (SO_LINGER 0) and close it.
func reset(x *exchange) {
	conn, _, err := http.NewResponseController(x.w).Hijack()
	if err != nil {
		// Cannot hijack (HTTP/2): abort the handler, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
