// DPoP (RFC 9449) in the session: which key proves, where it is kept, the
// latest nonce of each server, and the proofs of token and resource
// requests. The proofs themselves are the dpop package's.

package authloop

import (
	"bytes"
	"crypto"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/dpop"
	"github.com/authloop/authloop/internal/urlrule"
)

// DPoPMode says when a session proves possession of a key with its
// requests (DPoP, RFC 9449), so that its tokens are bound to that key and
// are worth nothing to whoever copies them without it.
type DPoPMode int

const (
	// DPoPAuto, the zero value, uses DPoP when the authorization server's
	// metadata lists ES256 in dpop_signing_alg_values_supported, when
	// Config.DPoPKey is set, or when the session's record already holds a
	// key (its tokens are bound to it).
	DPoPAuto DPoPMode = iota
	// DPoPOn sends a proof with every token request, whatever the
	// metadata says. A server that does not support DPoP ignores the
	// proofs and issues bearer tokens, which the session then uses as
	// such.
	DPoPOn
	// DPoPOff never sends a proof: the tokens are bearer tokens. A session
	// whose record holds tokens bound to a key cannot use them and signs
	// in again.
	DPoPOff
)

// String returns "auto", "on" or "off".
func (m DPoPMode) String() string {
	switch m {
	case DPoPAuto:
		return "auto"
	case DPoPOn:
		return "on"
	case DPoPOff:
		return "off"
	}
	return fmt.Sprintf("DPoPMode(%d)", int(m))
}

// ParseDPoPMode reads "auto", "on" or "off" (as String writes them).
func ParseDPoPMode(s string) (DPoPMode, error) {
	for _, m := range []DPoPMode{DPoPAuto, DPoPOn, DPoPOff} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("authloop: DPoP mode %q: want auto, on or off", s)
}

// maxNonce bounds a DPoP-Nonce kept from a response: a longer one would
// make every later proof large, and no server needs it.
const maxNonce = 1024

// dpopClient is a session's DPoP state, shared by the copies of its
// configuration: the key, and the latest nonce of each server.
type dpopClient struct {
	mode DPoPMode
	now  func() time.Time

	mu     sync.Mutex
	key    *dpop.Key
	der    []byte            // the key's PKCS#8 form, for the record; nil for the program's key
	given  bool              // the key is Config.DPoPKey: never stored, never replaced
	nonces map[string]string // by role and origin (nonceKey)
}

// newDPoPClient returns the DPoP state of a configuration that validate
// accepted, or nil when it never proves.
func newDPoPClient(c *Config) *dpopClient {
	if c.DPoP == DPoPOff {
		return nil
	}
	d := &dpopClient{mode: c.DPoP, now: c.now, nonces: map[string]string{}}
	if c.DPoPKey != nil {
		k, err := dpop.NewKey(c.DPoPKey)
		if err != nil {
			return nil // validate refused it already
		}
		d.key, d.given = k, true
	}
	return d
}

// checkDPoPKey is validate's check of Config.DPoPKey.
func checkDPoPKey(signer crypto.Signer) error {
	if signer == nil {
		return nil
	}
	if _, err := dpop.NewKey(signer); err != nil {
		return fmt.Errorf("authloop: Config.DPoPKey: %w", err)
	}
	return nil
}

// wants reports whether a new sign-in at the server of md should bind its
// tokens to a key.
func (d *dpopClient) wants(md *discovery.AuthServerMetadata) bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mode == DPoPOn || d.key != nil || md.SupportsDPoP("ES256")
}

// ensure makes the session's key if it has none. It is kept in memory
// until the record is saved with the tokens bound to it.
func (d *dpopClient) ensure() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.key != nil {
		return nil
	}
	k, err := dpop.GenerateKey()
	if err != nil {
		return fmt.Errorf("authloop: making a DPoP key: %w", err)
	}
	der, err := dpop.MarshalPrivateKey(k)
	if err != nil {
		return fmt.Errorf("authloop: making a DPoP key: %w", err)
	}
	d.key, d.der = k, der
	return nil
}

// adopt takes the key of a record read from the store: the key its tokens
// are bound to. The program's own key is never replaced.
func (d *dpopClient) adopt(der []byte) error {
	if d == nil || len(der) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.given || bytes.Equal(der, d.der) {
		return nil
	}
	k, err := dpop.ParsePrivateKey(der)
	if err != nil {
		return err
	}
	d.key, d.der = k, bytes.Clone(der)
	return nil
}

// forget drops a key authloop made (the record it was kept in is gone):
// the next sign-in makes another.
func (d *dpopClient) forget() {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.given {
		d.key, d.der = nil, nil
	}
}

// stored returns the key to keep in the record, or nil: none, or the
// program's own.
func (d *dpopClient) stored() []byte {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.der
}

// active returns the key that proves, or nil.
func (d *dpopClient) active() *dpop.Key {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.key
}

// thumbprint returns the key's RFC 7638 thumbprint, or "".
func (d *dpopClient) thumbprint() string {
	if k := d.active(); k != nil {
		return k.Thumbprint()
	}
	return ""
}

// proof makes a proof for one request to rawURL, with the latest nonce of
// its server; accessToken is set for a resource request (ath). It returns
// the nonce it used.
func (d *dpopClient) proof(k *dpop.Key, method, rawURL, accessToken string) (proof, nonce string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", fmt.Errorf("authloop: DPoP proof for %s: %w", urlrule.RedactURL(rawURL), err)
	}
	resource := accessToken != ""
	d.mu.Lock()
	nonce = d.nonces[nonceKey(u, resource)]
	if nonce == "" {
		// Not learnt for this role yet: a server on this origin in the
		// other role may share its nonce (oidc-provider's userinfo takes
		// the token endpoint's); if not, its challenge teaches its own.
		nonce = d.nonces[nonceKey(u, !resource)]
	}
	d.mu.Unlock()
	proof, err = k.Proof(dpop.ProofParams{Method: method, URL: rawURL, Nonce: nonce, AccessToken: accessToken, Now: d.now()})
	if err != nil {
		return "", "", fmt.Errorf("authloop: DPoP proof for %s %s: %w", method, urlrule.RedactURL(rawURL), err)
	}
	return proof, nonce, nil
}

// learn keeps the DPoP-Nonce of a response from the server at rawURL
// (RFC 9449 §8, §9), as a resource server's or as an authorization
// server's.
func (d *dpopClient) learn(rawURL string, resource bool, h http.Header) {
	n := h.Get("DPoP-Nonce")
	if d == nil || n == "" || len(n) > maxNonce {
		return
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nonces[nonceKey(u, resource)] = n
}

// nonceFor returns the latest nonce of the resource server of u, or "".
func (d *dpopClient) nonceFor(u *url.URL) string {
	if d == nil {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.nonces[nonceKey(u, true)]
}

// nonceKey is the key of a server's nonce: its role (an authorization
// server's token endpoint, or a resource server, whose nonces RFC 9449
// keeps apart, §8 and §9, even on one origin: once each has taught its
// own, a server that uses two costs no challenge at each switch), scheme
// and host (with port), in lower case.
func nonceKey(u *url.URL, resource bool) string {
	role := "token "
	if resource {
		role = "resource "
	}
	return role + strings.ToLower(u.Scheme+"://"+u.Host)
}

// isDPoPToken reports whether tok was issued as a DPoP-bound token.
func isDPoPToken(tok *oauth2.Token) bool {
	return tok != nil && isDPoPType(tok.TokenType)
}

// isDPoPType reports whether a token_type names a DPoP-bound token (RFC
// 9449 §5: "DPoP", compared case-insensitively).
func isDPoPType(tokenType string) bool {
	return strings.EqualFold(tokenType, "DPoP")
}

// useDPoPNonce reports whether a token endpoint's answer is the error
// use_dpop_nonce (RFC 9449 §8).
func useDPoPNonce(status int, body []byte) bool {
	if status != http.StatusBadRequest && status != http.StatusUnauthorized {
		return false
	}
	var e struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(body, &e) == nil && e.Error == "use_dpop_nonce"
}
