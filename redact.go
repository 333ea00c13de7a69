package authloop

import (
	"crypto/sha256"
	"encoding/hex"
)

// Fingerprint returns a short, stable name for a secret (a token, a code):
// "sha256:" and the first 8 hex digits of its SHA-256. It lets logs and
// summaries tell two tokens apart, and match one across processes, without
// revealing either. The empty string gives "none".
func Fingerprint(secret string) string {
	if secret == "" {
		return "none"
	}
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:4])
}
