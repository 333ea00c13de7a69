package urlrule

import (
	"crypto/sha256"
	"encoding/hex"
)

// Fingerprint returns a short, stable name for a secret (a token, a code):
// "sha256:" and the first 8 hex digits of its SHA-256, or "none" for the
// empty string. It tells two secrets apart, and matches one across
// processes, without revealing either. authloop.Fingerprint is its public
// name.
func Fingerprint(secret string) string {
	if secret == "" {
		return "none"
	}
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:4])
}
