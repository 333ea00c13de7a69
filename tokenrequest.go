// The token endpoint's wire code, in one unit: every token, device
// authorization and revocation request is one authenticated POST
// (clientPost), with the client authentication of RFC 6749 §2.3.1
// (client_secret_basic or client_secret_post) and bounded waits.

package authloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/assertion"
	"github.com/authloop/authloop/dpop"
	"github.com/authloop/authloop/internal/urlrule"
	"github.com/authloop/authloop/store"
)

// clientAuth is how the client authenticates at the token endpoint. It is
// chosen once from the configuration: authloop never probes by sending the
// same single-use code or refresh token a second time with another method,
// which is what x/oauth2's AuthStyleAutoDetect does.
type clientAuth int

const (
	authNone  clientAuth = iota // public client: client_id in the body
	authBasic                   // client_secret_basic (RFC 6749 §2.3.1)
	authPost                    // client_secret_post
	authKey                     // private_key_jwt (RFC 7523 §2.2): Config.ClientKey
)

func (a clientAuth) String() string {
	switch a {
	case authBasic:
		return "client_secret_basic"
	case authPost:
		return "client_secret_post"
	case authKey:
		return "private_key_jwt"
	default:
		return "none"
	}
}

// chooseClientAuth picks the method from the x/oauth2 configuration: no
// secret means a public client; AuthStyleInParams means client_secret_post;
// otherwise client_secret_basic, which RFC 6749 requires every server to
// support.
func chooseClientAuth(c *oauth2.Config) clientAuth {
	switch {
	case c.ClientSecret == "":
		return authNone
	case c.Endpoint.AuthStyle == oauth2.AuthStyleInParams:
		return authPost
	default:
		return authBasic
	}
}

// tokenRequest sends one request to the token endpoint and parses the
// answer. The form holds the grant's parameters; client authentication is
// added here. keep holds what an answer may leave out (RFC 6749 §5.1, §6):
// the scope asked for or held, the refresh token held. It never retries:
// retrying is the caller's policy.
func (c *Config) tokenRequest(ctx context.Context, form url.Values, keep keepFields) (*oauth2.Token, error) {
	resp, body, sent, err := c.clientPost(ctx, "token", c.OAuth2.Endpoint.TokenURL, form)
	if err != nil {
		return nil, err
	}
	if len(body) > maxTokenResponse {
		return nil, &TokenResponseError{StatusCode: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Problem: fmt.Sprintf("the body is larger than %d bytes", maxTokenResponse)}
	}
	tok, err := parseTokenResponse(resp.StatusCode, resp.Header, body, sent, keep)
	if err == nil && resp.JKT != "" && isDPoPToken(tok) {
		extra := extraOf(tok)
		extra[dpopJKTKey] = resp.JKT
		tok = withExtra(tok, extra)
	}
	if err != nil && resp.Header.Get("Retry-After") != "" {
		return nil, &retryHint{err: err, after: resp.Header.Get("Retry-After")}
	}
	return tok, err
}

// exchangeTimeout bounds a code exchange or device poll whose context has no
// deadline once the caller stopped waiting for it.
const exchangeTimeout = 30 * time.Second

// answeredContext is the context for a token request that must be answered
// once it is sent, even when ctx is cancelled meanwhile (Close, Ctrl+C): the
// answer may carry the only copy of a grant (a rotated refresh token, the
// tokens a spent code or device code was exchanged for). It keeps ctx's
// values and deadline, or, without one, ends after limit.
func answeredContext(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(context.WithoutCancel(ctx), dl)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), limit)
}

// answer is what clientPost read of a response.
type answer struct {
	StatusCode int
	Header     http.Header
	JKT        string // the thumbprint of the DPoP key the request proved, or ""
}

// clientPost sends an authenticated form POST to one of the authorization
// server's endpoints (token, device authorization, revocation): the form,
// the client authentication chosen from the configuration, Accept JSON. It
// returns the response's status and header, its body (at most
// maxTokenResponse+1 bytes, so a caller can tell an oversized one), and the
// moment the request was sent. what names the endpoint in errors, which
// never hold the URL's query or a secret.
func (c *Config) clientPost(ctx context.Context, what, endpoint string, form url.Values) (*answer, []byte, time.Time, error) {
	oc := c.OAuth2
	form = cloneValues(form)
	auth := chooseClientAuth(oc)
	if c.ClientKey != nil {
		auth = authKey
	}
	switch auth {
	case authNone, authKey:
		form.Set("client_id", oc.ClientID)
	case authPost:
		form.Set("client_id", oc.ClientID)
		form.Set("client_secret", oc.ClientSecret)
	}
	// A token request proves the session's DPoP key (RFC 9449 §5), when it
	// has one. A server that asks for a nonce (use_dpop_nonce, §8) other
	// than the one the proof carried has refused the request before acting
	// on it: it is sent once more, with the nonce, and a new proof (not
	// when the lease of the lock it was sent under may have passed on).
	var key *dpop.Key
	if what == "token" {
		key = c.dp.active()
	}
	for retried := false; ; retried = true {
		if auth == authKey {
			// A new assertion for every request, the nonce retry's too:
			// servers refuse a jti seen before.
			a, err := c.clientAssertion()
			if err != nil {
				return nil, nil, time.Time{}, err
			}
			form.Set("client_assertion_type", assertion.ClientAssertionType)
			form.Set("client_assertion", a)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, nil, time.Time{}, fmt.Errorf("authloop: building the %s request for %s: %w", what, urlrule.RedactURL(endpoint), err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		if auth == authBasic {
			// RFC 6749 §2.3.1: form-urlencode both parts before Basic encoding.
			req.SetBasicAuth(url.QueryEscape(oc.ClientID), url.QueryEscape(oc.ClientSecret))
		}
		var nonce string
		if key != nil {
			var proof string
			if proof, nonce, err = c.dp.proof(key, http.MethodPost, endpoint, ""); err != nil {
				return nil, nil, time.Time{}, err
			}
			req.Header.Set("DPoP", proof)
		}
		sent := c.now()
		resp, err := c.httpClient().Do(req)
		if err != nil {
			return nil, nil, sent, fmt.Errorf("authloop: %s request to %s failed: %w", what, urlrule.RedactURL(endpoint), urlrule.RedactURLError(err))
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
		resp.Body.Close()
		if err != nil {
			return nil, nil, sent, fmt.Errorf("authloop: reading the %s response from %s: %w", what, urlrule.RedactURL(endpoint), err)
		}
		c.dp.learn(endpoint, false, resp.Header)
		if n := resp.Header.Get("DPoP-Nonce"); key != nil && !retried && n != "" && n != nonce && len(n) <= maxNonce && useDPoPNonce(resp.StatusCode, body) {
			// The retry presents the grant again: under a lease (a store
			// kept in a server) it goes only while the lease surely
			// holds, as the first request did (refreshWithRetry).
			if err := store.LeaseHeld(ctx, leaseMargin); err != nil {
				return nil, nil, sent, fmt.Errorf("authloop: the %s request's retry with the server's DPoP nonce was not sent: %w", what, err)
			}
			c.logger().Debug("authloop: the server asked for a DPoP nonce; sending the request again with it", "endpoint", what)
			continue
		}
		a := &answer{StatusCode: resp.StatusCode, Header: resp.Header}
		if key != nil {
			a.JKT = key.Thumbprint()
		}
		return a, body, sent, nil
	}
}

// retryHint carries a response's Retry-After along with its error.
type retryHint struct {
	err   error
	after string
}

func (e *retryHint) Error() string { return e.err.Error() }
func (e *retryHint) Unwrap() error { return e.err }

// retryAfter is the delay a failed response asked for (RFC 9110 §10.2.3:
// seconds or an HTTP date); 0 when none. Session.retryAfter caps it.
func retryAfter(err error, now time.Time) time.Duration {
	var h *retryHint
	if !errors.As(err, &h) {
		return 0
	}
	var d time.Duration
	if secs, perr := strconv.Atoi(strings.TrimSpace(h.after)); perr == nil {
		d = time.Duration(secs) * time.Second
	} else if t, perr := http.ParseTime(h.after); perr == nil {
		d = t.Sub(now)
	}
	return max(d, 0)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+2)
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
