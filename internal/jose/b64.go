package jose

import (
	"encoding/base64"
	"fmt"
)

// Encode is base64url without padding (RFC 7515 §2).
func Encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// EncodedLen is the length of n bytes in base64url without padding.
func EncodedLen(n int) int { return (n*8 + 5) / 6 }

// Decode decodes base64url without padding, refusing what a lenient
// decoder lets through: padding, line breaks (which encoding/base64 skips)
// and non-zero bits after the last character (two encodings of one value).
// Its error names the first bad byte's position, never the text.
func Decode(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("byte %d is %q, not base64url", i, c)
		}
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}
