package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/authloop/authloop/internal/urlrule"
)

// Token is the stored form of an OAuth token response. Unlike
// golang.org/x/oauth2's Token, whose raw response fields are unexported,
// every field here survives a round trip through the store.
type Token struct {
	AccessToken   string         `json:"access_token"`
	TokenType     string         `json:"token_type,omitempty"`
	RefreshToken  string         `json:"refresh_token,omitempty"`
	Expiry        time.Time      `json:"expiry,omitzero"`
	ExpiresIn     int64          `json:"expires_in,omitempty"`    // lifetime as issued, seconds
	RefreshExpiry time.Time      `json:"refresh_expiry,omitzero"` // when the refresh token expires, if known
	Extra         map[string]any `json:"extra,omitempty"`         // other response fields: scope, id_token, ...
}

// String describes the token without revealing it: the access and refresh
// tokens (and any token in Extra) appear only as short SHA-256
// fingerprints, which tell two tokens apart but cannot be turned back into
// either.
func (t *Token) String() string {
	if t == nil {
		return "Token(nil)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Token(access %s", urlrule.Fingerprint(t.AccessToken))
	if t.TokenType != "" {
		fmt.Fprintf(&b, ", type %q", t.TokenType)
	}
	fmt.Fprintf(&b, ", refresh %s", urlrule.Fingerprint(t.RefreshToken))
	if !t.Expiry.IsZero() {
		fmt.Fprintf(&b, ", expiry %s", t.Expiry.UTC().Format(time.RFC3339))
	}
	if t.ExpiresIn != 0 {
		fmt.Fprintf(&b, ", expires_in %d", t.ExpiresIn)
	}
	if !t.RefreshExpiry.IsZero() {
		fmt.Fprintf(&b, ", refresh expiry %s", t.RefreshExpiry.UTC().Format(time.RFC3339))
	}
	if len(t.Extra) > 0 {
		fmt.Fprintf(&b, ", %d extra fields", len(t.Extra))
	}
	b.WriteString(")")
	return b.String()
}

// Client is a client registration kept per issuer: pre-registered, from a
// client ID metadata document, or from dynamic registration (RFC 7591).
type Client struct {
	Issuer                  string          `json:"issuer"`
	ClientID                string          `json:"client_id"`
	ClientSecret            string          `json:"client_secret,omitempty"`
	ClientSecretExpiresAt   time.Time       `json:"client_secret_expires_at,omitzero"`
	RegistrationAccessToken string          `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string          `json:"registration_client_uri,omitempty"`
	Metadata                json.RawMessage `json:"metadata,omitempty"` // the registration response, opaque to the store
}

// String describes the registration without its secrets.
func (c *Client) String() string {
	if c == nil {
		return "Client(nil)"
	}
	return fmt.Sprintf("Client(issuer %q, id %q, secret %s, registration token %s)",
		c.Issuer, c.ClientID, urlrule.Fingerprint(c.ClientSecret), urlrule.Fingerprint(c.RegistrationAccessToken))
}

// Record is everything kept for one Key.
type Record struct {
	Key        Key             `json:"key"`
	Generation uint64          `json:"generation"` // set by Save: 1 for the first save of a key, then +1 on every save
	Token      *Token          `json:"token,omitempty"`
	Client     *Client         `json:"client,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"` // discovered server metadata the session needs; opaque to the store
	// NotBefore, when set, is the earliest time of the next token request
	// for this record: the authorization server asked for a wait
	// (Retry-After), or refreshes failed and back off. Every process
	// sharing the record honours it.
	NotBefore time.Time `json:"not_before,omitzero"`
	Updated   time.Time `json:"updated,omitzero"` // set by Save
	// DPoPKey is the session's DPoP private key (RFC 9449), PKCS#8 DER,
	// when its tokens are bound to a key authloop made: a secret like the
	// refresh token it goes with, kept where the store keeps those (the
	// keyring, for Keyring). nil for bearer sessions.
	DPoPKey []byte `json:"dpop_key,omitempty"`
}

// String describes the record without revealing any secret.
func (r *Record) String() string {
	if r == nil {
		return "Record(nil)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Record(%s, generation %d", r.Key, r.Generation)
	if r.Token != nil {
		fmt.Fprintf(&b, ", %s", r.Token)
	}
	if r.Client != nil {
		fmt.Fprintf(&b, ", %s", r.Client)
	}
	if len(r.Metadata) > 0 {
		fmt.Fprintf(&b, ", %d bytes of metadata", len(r.Metadata))
	}
	if !r.NotBefore.IsZero() {
		fmt.Fprintf(&b, ", no token request before %s", r.NotBefore.UTC().Format(time.RFC3339))
	}
	if !r.Updated.IsZero() {
		fmt.Fprintf(&b, ", updated %s", r.Updated.UTC().Format(time.RFC3339))
	}
	if len(r.DPoPKey) > 0 {
		b.WriteString(", a DPoP key")
	}
	b.WriteString(")")
	return b.String()
}

// Clone returns a deep copy of r: no change to the copy, down to the
// values inside Token.Extra, is seen in r. Clone of nil is nil.
func (r *Record) Clone() *Record {
	if r == nil {
		return nil
	}
	c := *r
	c.Metadata = cloneBytes(r.Metadata)
	c.DPoPKey = cloneBytes(r.DPoPKey)
	if r.Token != nil {
		t := *r.Token
		t.Extra = cloneMap(r.Token.Extra)
		c.Token = &t
	}
	if r.Client != nil {
		cl := *r.Client
		cl.Metadata = cloneBytes(r.Client.Metadata)
		c.Client = &cl
	}
	return &c
}

func cloneBytes(b json.RawMessage) json.RawMessage {
	if b == nil {
		return nil
	}
	return append(json.RawMessage{}, b...)
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = cloneValue(v)
	}
	return c
}

// cloneValue copies the containers a JSON decode produces (maps, slices,
// raw messages); other values are copied as they are.
func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneMap(v)
	case []any:
		if v == nil {
			return v
		}
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = cloneValue(e)
		}
		return c
	case json.RawMessage:
		return cloneBytes(v)
	case []byte:
		if v == nil {
			return v
		}
		return append([]byte{}, v...)
	case []string:
		if v == nil {
			return v
		}
		return append([]string{}, v...)
	default:
		return v
	}
}
