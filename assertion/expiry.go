package assertion

import (
	"strings"
	"time"

	"github.com/authloop/authloop/internal/jose"
)

// MaxJWTSize is the largest JWT Expiry reads, in bytes.
const MaxJWTSize = 64 << 10

// Expiry returns the exp claim (RFC 7519 §4.1.4) of a compact JWT WITHOUT
// verifying its signature or anything else: for a client to know when an
// ID token or a workload token it holds runs out, never to trust it. ok is
// false for anything that is not a compact JWS of at most MaxJWTSize bytes
// with three base64url parts (no padding), a JSON object as header and as
// claims (valid UTF-8, no repeated member), and an exp that is a number of
// seconds between 1970 and 9999.
func Expiry(jwt string) (exp time.Time, ok bool) {
	if len(jwt) > MaxJWTSize || strings.Count(jwt, ".") != 2 {
		return time.Time{}, false
	}
	parts := strings.Split(jwt, ".")
	header, err := jose.Decode(parts[0])
	if err != nil {
		return time.Time{}, false
	}
	if _, err := jose.Object(header); err != nil {
		return time.Time{}, false
	}
	payload, err := jose.Decode(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	claims, err := jose.Object(payload)
	if err != nil {
		return time.Time{}, false
	}
	if _, err := jose.Decode(parts[2]); err != nil {
		return time.Time{}, false
	}
	exp, err = jose.NumericDate(claims["exp"])
	if err != nil {
		return time.Time{}, false
	}
	return exp, true
}
