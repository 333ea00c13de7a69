package dpop

// The small part of JWS (RFC 7515) that DPoP needs: compact serialization,
// base64url without padding, and ES256 signatures (RFC 7518 §3.4) as the
// 64 bytes R||S. Written here rather than taken from a JOSE library: one
// algorithm is a few dozen lines, and the library's go.mod stays small.

import (
	"bytes"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"unicode/utf8"
)

// sigSize is the size of an ES256 signature: R and S, 32 bytes each,
// big-endian, left-padded with zeros (RFC 7518 §3.4).
const sigSize = 64

// strictB64 decodes base64url without padding, refusing what a lenient
// decoder lets through: padding, line breaks (which encoding/base64 skips)
// and non-zero bits after the last character (two encodings of one value).
func strictB64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("byte %d is %q, not base64url", i, c)
		}
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// derToRaw turns an ASN.1 DER ECDSA signature (what a crypto.Signer
// returns) into JWS's R||S, each left-padded to 32 bytes.
func derToRaw(der []byte) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 {
		return nil, errors.New("the signer returned a signature that is not an ASN.1 ECDSA signature")
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
		return nil, errors.New("the signer returned an ECDSA signature whose R or S does not fit P-256")
	}
	raw := make([]byte, sigSize)
	sig.R.FillBytes(raw[:32])
	sig.S.FillBytes(raw[32:])
	return raw, nil
}

// rawToRS splits a JWS ES256 signature into R and S.
func rawToRS(raw []byte) (r, s *big.Int) {
	return new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])
}

// jsonObject reads one JSON object into its members, more strictly than
// encoding/json does: the text must be valid UTF-8 (encoding/json would
// replace bad bytes silently), a member name may appear once only (so that
// two readers cannot see two different "alg"s), names are matched exactly
// by the caller (encoding/json matches struct fields ignoring case), and
// nothing may follow the object.
func jsonObject(data []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	t, err := dec.Token()
	if err != nil {
		return nil, errors.New("not JSON")
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	members := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errors.New("not JSON")
		}
		name, ok := t.(string)
		if !ok {
			return nil, errors.New("not JSON")
		}
		if _, dup := members[name]; dup {
			return nil, fmt.Errorf("member %q appears twice", name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New("not JSON")
		}
		members[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, errors.New("not JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return members, nil
}

// stringMember returns the string member name of m; present reports whether
// it was there at all. A member that is there but not a string is an error.
func stringMember(m map[string]json.RawMessage, name string) (v string, present bool, err error) {
	raw, ok := m[name]
	if !ok {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil || (len(raw) > 0 && raw[0] != '"') {
		return "", true, fmt.Errorf("%q is not a string", name)
	}
	return v, true, nil
}
