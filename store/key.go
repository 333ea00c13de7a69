package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
)

// Key names one credential record: the authorization server (Issuer), the
// client registered there (ClientID), the protected resource the tokens are
// for (Resource, RFC 8707; may be empty), which of the person's accounts
// (Account; may be empty) and, for tokens a program obtains with no person
// present, the grant it obtains them with (Grant: the grant_type, such as
// "client_credentials"; empty for a person's sign-in), so that a program's
// tokens and a person's never share a record. None of its fields is a
// secret.
type Key struct {
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	Resource string `json:"resource,omitempty"`
	Account  string `json:"account,omitempty"`
	Grant    string `json:"grant,omitempty"`
}

// String describes the key for messages, as issuer, client, resource and
// account; it holds nothing secret.
func (k Key) String() string {
	var b strings.Builder
	b.WriteString("issuer ")
	b.WriteString(strconv.Quote(k.Issuer))
	b.WriteString(" client ")
	b.WriteString(strconv.Quote(k.ClientID))
	if k.Resource != "" {
		b.WriteString(" resource ")
		b.WriteString(strconv.Quote(k.Resource))
	}
	if k.Account != "" {
		b.WriteString(" account ")
		b.WriteString(strconv.Quote(k.Account))
	}
	if k.Grant != "" {
		b.WriteString(" grant ")
		b.WriteString(strconv.Quote(k.Grant))
	}
	return b.String()
}

// idVersion is the first thing hashed by ID; it changes only if the
// canonical encoding ever has to, which would rename every record file.
const idVersion = "authloop store key v1\x00"

// ID returns a stable name for the key that is safe as a file name and as a
// keyring item name: the first 32 hex digits of the SHA-256 of a canonical,
// length-prefixed encoding of the fields (Grant only when set). The same key gives the same
// ID in every process and every version of authloop; different keys give
// different IDs (short of a 128-bit hash collision).
func (k Key) ID() string {
	h := sha256.New()
	h.Write([]byte(idVersion))
	var n [binary.MaxVarintLen64]byte
	fields := [...]string{k.Issuer, k.ClientID, k.Resource, k.Account, k.Grant}
	used := fields[:]
	if k.Grant == "" {
		// The grant is hashed only when set, so that every key without
		// one keeps the ID (and file name) it had before keys had one.
		used = fields[:4]
	}
	for _, f := range used {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
