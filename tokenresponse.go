// The token response parser (RFC 6749 §5.1 success, §5.2 error): strict
// about types and size, lenient where providers differ (expires_in as a
// string, a JWT's exp when expires_in is absent).

package authloop

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/oautherr"
)

// maxTokenResponse bounds how much of a token endpoint's body is read.
const maxTokenResponse = 1 << 20

// parseTokenResponse turns a token endpoint's answer into a token or an
// error. sent is when the request was sent: expires_in counts from then,
// never from when the answer arrived, so a slow answer errs on the safe side.
//
// It copes with the usual provider quirks: expires_in as a number or a
// string, lower-case token_type, an absent scope or refresh token (then
// keep's are recorded: the scope asked for or held, the refresh token held,
// with its expiry), errors answered with HTTP 200 (GitHub), and
// non-JSON bodies (a proxy's HTML page), which become *TokenResponseError.
func parseTokenResponse(status int, header http.Header, body []byte, sent time.Time, keep keepFields) (*oauth2.Token, error) {
	ct := header.Get("Content-Type")
	retryAfter := header.Get("Retry-After")
	raw, jsonErr := decodeJSONObject(body)
	if jsonErr != nil {
		problem := "the body is not a JSON object (" + describeBody(ct, body) + ")"
		return nil, &TokenResponseError{StatusCode: status, ContentType: ct, Problem: problem, RetryAfter: retryAfter}
	}
	if code, ok := raw["error"].(string); ok && code != "" {
		return nil, &oautherr.Error{
			Code:        code,
			Description: stringField(raw, "error_description"),
			URI:         stringField(raw, "error_uri"),
			StatusCode:  status,
			Endpoint:    "token",
		}
	}
	if status < 200 || status > 299 {
		return nil, &TokenResponseError{StatusCode: status, ContentType: ct, Problem: "an error status without an OAuth error code", RetryAfter: retryAfter}
	}
	access := stringField(raw, "access_token")
	if access == "" {
		return nil, &TokenResponseError{StatusCode: status, ContentType: ct, Problem: "a success without an access_token"}
	}
	tok := &oauth2.Token{
		AccessToken:  access,
		TokenType:    normalizeTokenType(stringField(raw, "token_type")),
		RefreshToken: stringField(raw, "refresh_token"),
	}
	sent = sent.Round(0) // wall clock only: expiry must survive a sleeping laptop
	if secs, ok := seconds(raw["expires_in"]); ok {
		tok.ExpiresIn = secs
		tok.Expiry = sent.Add(time.Duration(secs) * time.Second)
	} else if exp, ok := jwtExpiry(access); ok && exp.After(sent) {
		// No expires_in: a JWT's exp claim is a hint (unverified; it only
		// ever makes authloop refresh sooner than "never").
		tok.Expiry = exp
		tok.ExpiresIn = int64(exp.Sub(sent) / time.Second)
	}
	extra := make(map[string]any, len(raw))
	for k, v := range raw {
		if k == "access_token" || k == "refresh_token" {
			continue // kept in the token's own fields only
		}
		extra[k] = v
	}
	if _, ok := extra["scope"].(string); !ok && keep.scope != "" {
		extra["scope"] = keep.scope
	}
	if tok.RefreshToken == "" && keep.refreshToken != "" {
		// No new refresh token: the one held stays (no rotation).
		tok.RefreshToken = keep.refreshToken
		if keep.refreshExpiry != nil {
			extra[RefreshExpiryKey] = keep.refreshExpiry
		}
	} else {
		for _, name := range []string{"refresh_token_expires_in", "refresh_expires_in"} {
			if secs, ok := seconds(raw[name]); ok && tok.RefreshToken != "" {
				extra[RefreshExpiryKey] = sent.Add(time.Duration(secs) * time.Second)
				break
			}
		}
	}
	return withExtra(tok, extra), nil
}

// jwtExpiry reads the exp claim of a JWT-shaped access token without
// verifying it.
func jwtExpiry(tok string) (time.Time, bool) {
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if !decodeJWTClaims(tok, 8192, &claims) {
		return time.Time{}, false
	}
	f, err := claims.Exp.Float64()
	if err != nil || f <= 0 || f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// decodeJWTClaims decodes the claims of a compact JWT into v, without verifying
// it: false when tok is not three dot-separated parts whose second, of at
// most limit characters, is base64url JSON that fits v.
func decodeJWTClaims(tok string, limit int, v any) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(parts[1]) > limit {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	return err == nil && json.Unmarshal(payload, v) == nil
}

func decodeJSONObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("null instead of an object")
	}
	return raw, nil
}

// describeBody says what a body looked like without quoting it: it may hold
// a secret, or markup meant to confuse a terminal.
func describeBody(contentType string, body []byte) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return "empty"
	case mt == "text/html" || bytes.HasPrefix(bytes.ToLower(trimmed), []byte("<!doctype html")) || bytes.HasPrefix(bytes.ToLower(trimmed), []byte("<html")):
		return fmt.Sprintf("an HTML page of %d bytes, perhaps from a proxy", len(body))
	default:
		return fmt.Sprintf("%d bytes of %s", len(body), orDefault(mt, "unknown type"))
	}
}

func stringField(raw map[string]any, key string) string {
	s, _ := raw[key].(string)
	return s
}

// seconds reads a lifetime in seconds sent as a JSON number or a string.
// Zero, negative, fractional-garbage and absurd values count as absent; a
// fraction is cut to whole seconds, and one under a second (0.01) counts
// as one, not as zero: the token is all but expired, never "no expiry".
func seconds(v any) (int64, bool) {
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0, false
		}
	case float64:
		f = x
	default:
		return 0, false
	}
	const maxLifetime = 10 * 365 * 24 * 3600 // ten years
	if math.IsNaN(f) || f <= 0 || f > maxLifetime {
		return 0, false
	}
	return max(int64(f), 1), true
}

// normalizeTokenType spells "bearer" in any case as "Bearer" (RFC 6750
// makes the type case-insensitive; some servers answer in lower case).
func normalizeTokenType(t string) string {
	if t == "" || strings.EqualFold(t, "bearer") {
		return "Bearer"
	}
	return t
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
