package dpop

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authloop/authloop/internal/jose"
)

// ProofParams describes the one HTTP request a proof is for.
type ProofParams struct {
	// Method is the request's method exactly as sent ("POST", "GET"):
	// HTTP methods are case-sensitive, and the server compares htm with the
	// method it received.
	Method string
	// URL is the request's absolute http or https URL. The proof's htu is
	// this URL without its query and fragment (RFC 9449 §4.2).
	URL string
	// Nonce is the latest DPoP-Nonce the server sent, or "" for none
	// (RFC 9449 §8, §9).
	Nonce string
	// AccessToken is the access token the request carries in its
	// Authorization header, or "" for a token request. When set, the proof
	// binds to it with ath, the base64url SHA-256 of the token (§4.2).
	AccessToken string
	// Now is the time the proof is made (its iat, in whole seconds); zero
	// means time.Now().
	Now time.Time
}

// jtiBytes is the number of random bytes in a proof's jti: 128 bits, more
// than the 96 RFC 9449 §4.2 asks for.
const jtiBytes = 16

// Proof returns a new DPoP proof for the request p describes: a compact JWS
// signed with ES256, whose header is {"typ":"dpop+jwt","alg":"ES256",
// "jwk":…} and whose claims are jti (128 random bits), htm, htu, iat and,
// when p sets them, nonce and ath (RFC 9449 §4.2). Each call makes a proof
// with a new jti: a proof is for one request, never to be sent twice.
//
// It refuses a URL that is not an absolute http or https URL, a method that
// is not an HTTP token, a nonce with control characters or bytes that are
// not UTF-8 (no server can send one in a header that a proof could carry
// back unchanged), a time outside 1970 to 9999, and a proof that would be
// larger than MaxProofSize (a huge nonce or path): it makes no proof that
// Parse would refuse for its form.
//
// Proof blocks while the signer signs: a hardware key may wait for a
// touch or a PIN.
//
// With a foreign signer, Proof verifies each signature before it returns
// the proof, so that a signer whose key is not the one it announced fails
// here with an error rather than at the server.
func (k *Key) Proof(p ProofParams) (string, error) {
	if k == nil || k.signer == nil {
		return "", errors.New("dpop: Proof: the Key is zero; make one with GenerateKey, NewKey or ParsePrivateKey")
	}
	if !isToken(p.Method) {
		return "", fmt.Errorf("dpop: Proof: method %q is not an HTTP method; pass the request's method, such as \"POST\"", p.Method)
	}
	htu, err := targetURI(p.URL)
	if err != nil {
		return "", fmt.Errorf("dpop: Proof: %w", err)
	}
	if !utf8.ValidString(p.Nonce) || strings.IndexFunc(p.Nonce, isControl) >= 0 {
		return "", errors.New("dpop: Proof: the server's DPoP-Nonce has control characters or bytes that are not UTF-8; it cannot be sent back in a proof")
	}
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	if now.Unix() < 0 || now.Unix() > jose.MaxNumericDate {
		return "", fmt.Errorf("dpop: Proof: the time %v is not between 1970 and 9999, where a proof's iat must be; check the clock", now)
	}
	jti := make([]byte, jtiBytes)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("dpop: Proof: reading random bytes: %w", err)
	}
	c := claims{JTI: jose.Encode(jti), HTM: p.Method, HTU: htu, IAT: now.Unix(), Nonce: p.Nonce}
	if p.AccessToken != "" {
		c.ATH = accessTokenHash(p.AccessToken)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("dpop: Proof: %w", err)
	}
	header := `{"typ":"dpop+jwt","alg":"ES256","jwk":` + string(k.jwk) + `}`
	input := jose.Encode([]byte(header)) + "." + jose.Encode(body)
	if size := len(input) + 1 + jose.EncodedLen(jose.ES256.SignatureSize()); size > MaxProofSize {
		return "", fmt.Errorf("dpop: Proof: the proof would be %d bytes, more than the %d a server reads (the URL without its query is %d bytes, the nonce %d); a server that sends such a nonce or path cannot be called with DPoP", size, MaxProofSize, len(htu), len(p.Nonce))
	}
	sig, err := k.sign(input)
	if err != nil {
		return "", fmt.Errorf("dpop: Proof: %w", err)
	}
	return input + "." + jose.Encode(sig), nil
}

// claims are a proof's claims, in the order Proof writes them.
type claims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	Nonce string `json:"nonce,omitempty"`
	ATH   string `json:"ath,omitempty"`
}

// sign returns the ES256 signature (R||S) of the JWS signing input. A
// foreign signer's signature is verified, so that one whose key is not the
// one it announced fails here rather than at the server.
func (k *Key) sign(input string) ([]byte, error) {
	sig, err := jose.Sign(k.signer, jose.ES256, input)
	if err != nil {
		return nil, err
	}
	if k.priv == nil && !jose.Verify(k.pub, jose.ES256, input, sig) {
		return nil, fmt.Errorf("the signer's signature does not verify with its public key (%v): the signer signs with another key", k)
	}
	return sig, nil
}

// accessTokenHash is ath: base64url(SHA-256(the token's ASCII bytes)).
func accessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return jose.Encode(sum[:])
}

// targetURI checks that raw is an absolute http or https URL and returns
// it without userinfo, query and fragment: the htu of RFC 9449 §4.2.
func targetURI(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("the URL does not parse (%v); pass the request's absolute URL", redactURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", errors.New("the URL is not an absolute http or https URL; pass the request's absolute URL, such as https://api.example.com/path")
	}
	u.User = nil
	u.RawQuery, u.ForceQuery = "", false
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

// redactURLError keeps what url.Parse says is wrong, not the URL it quotes
// (a URL may carry a secret in its query).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// isToken reports whether s is a non-empty HTTP token (RFC 9110 §5.6.2),
// the syntax of a method.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isControl reports the C0 controls and DEL.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
