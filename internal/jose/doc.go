// Package jose is the small part of JOSE that authloop's packages share:
// compact JWS pieces (RFC 7515) — base64url without padding, strict JSON
// objects, JWT NumericDates (RFC 7519) — signatures in the JWS form of the
// algorithms authloop signs with (RFC 7518 §3: RS256, ES256/384/512; RFC
// 8037: EdDSA), and public JWKs with their RFC 7638 thumbprints.
//
// It is written here rather than taken from a JOSE library: the few
// algorithms are a few dozen lines over the standard library, and the
// library's go.mod stays small. dpop and assertion import it; it imports
// nothing of ours.
package jose
