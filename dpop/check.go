package dpop

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// DefaultMaxAge is how old a proof's iat may be when Check.MaxAge is zero.
const DefaultMaxAge = 5 * time.Minute

// futureLeeway is how far in the future a proof's iat may be: the client's
// clock may run a little ahead of the server's.
const futureLeeway = time.Minute

// Check is what a server knows about the request a proof arrived with, and
// what it requires of the proof (see Proof.Check).
type Check struct {
	// Method is the request's method (required). htm must equal it exactly:
	// HTTP methods are case-sensitive.
	Method string
	// URL is the request's absolute URL (required): the server's own
	// public origin, from its configuration, and the request's path, such
	// as "https://api.example.com" + r.URL.RequestURI(). Not the Host
	// header, which the client chooses: a proof captured on its way to
	// another server would name that server, and pass. Its query and
	// fragment are ignored.
	URL string
	// Now is the server's time; zero means time.Now().
	Now time.Time
	// MaxAge is how old iat may be; zero means DefaultMaxAge. An iat more
	// than a minute in the future is refused whatever MaxAge says.
	MaxAge time.Duration
	// Nonce, when set, is the nonce the server requires: a proof without it
	// or with another fails with ErrNonceRequired. A server that accepts
	// several nonces at once (the current and the previous) leaves Nonce
	// empty and compares Proof.Nonce itself.
	Nonce string
	// AccessToken, when set, is the access token the request carries: the
	// proof's ath must be its hash (RFC 9449 §4.3 step 12), binding the
	// proof to that token.
	AccessToken string
	// JKT, when set, is the thumbprint of the key the access token (or the
	// refresh token, or dpop_jkt) is bound to: the proof must be signed by
	// that key (RFC 9449 §6, §7).
	JKT string
}

// Check compares the proof with the request it arrived with and with what
// the server requires (RFC 9449 §4.3): htm equals c.Method; htu names
// c.URL, compared without query and fragment, with scheme and host
// compared case-insensitively, a default port (443 for https, 80 for http)
// equal to none, an empty path equal to "/", and percent-encodings
// compared after normalization (RFC 3986 §6.2.2, §6.2.3; dot segments
// are compared as they are, not removed); iat is at most
// c.MaxAge old and at most a minute in the future; ath matches
// c.AccessToken and the key's thumbprint matches c.JKT when those are set;
// and the proof carries c.Nonce when that is set.
//
// A proof that fails any of these gives an error matching ErrInvalidProof,
// except a missing or different nonce, which matches ErrNonceRequired and
// is checked last, so that a proof with another fault is called invalid.
// A Check without Method or with a URL that is not absolute http(s) is the
// server's mistake: its error matches neither.
//
// Check does not look for replays: see Proof.
func (p *Proof) Check(c Check) error {
	if c.Method == "" {
		return errors.New("dpop: Check.Method is empty; pass the method of the request the proof came with")
	}
	want, err := normalURL(c.URL)
	if err != nil {
		return fmt.Errorf("dpop: Check.URL: %w", err)
	}
	if p.HTM != c.Method {
		return invalid("the proof is for method %.40q, the request is %.40q; make a new proof for each request", p.HTM, c.Method)
	}
	got, err := normalURL(p.HTU)
	if err != nil || got != want {
		return invalid("the proof is for another URL (htu %.200q, the request is to %.200q); make a new proof for each request", got, want)
	}
	if c.AccessToken != "" {
		if p.ATH == "" {
			return invalid("the request carries an access token but the proof has no ath; make the proof with the access token")
		}
		if subtle.ConstantTimeCompare([]byte(p.ATH), []byte(accessTokenHash(c.AccessToken))) != 1 {
			return invalid("the proof's ath is the hash of another access token than the request's; make the proof with the token it is sent with")
		}
	}
	if c.JKT != "" && subtle.ConstantTimeCompare([]byte(p.jkt), []byte(c.JKT)) != 1 {
		return invalid("the proof is signed by another key (thumbprint %s) than the token is bound to (%s); only the key the token was issued to may use it", p.jkt, c.JKT)
	}
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	maxAge := c.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if age := now.Sub(p.IAT); age > maxAge {
		return invalid("the proof was made %v ago (iat), more than the %v allowed; make a new proof for each request (or check the client's clock)", age.Truncate(time.Second), maxAge)
	}
	if ahead := p.IAT.Sub(now); ahead > futureLeeway {
		return invalid("the proof's iat is %v in the future; check the client's clock", ahead.Truncate(time.Second))
	}
	if c.Nonce != "" {
		if p.Nonce == "" {
			return fmt.Errorf("%w: the proof carries no nonce; make a new proof with the nonce of the DPoP-Nonce header", ErrNonceRequired)
		}
		if subtle.ConstantTimeCompare([]byte(p.Nonce), []byte(c.Nonce)) != 1 {
			return fmt.Errorf("%w: the proof carries another nonce than the current one; make a new proof with the nonce of the DPoP-Nonce header", ErrNonceRequired)
		}
	}
	return nil
}

// normalURL is the form in which Check compares htu with the request's URL
// (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2 and §6.2.3): scheme and host in
// lower case, no default port, no userinfo, query or fragment, an empty
// path as "/", percent-encodings in upper case and unreserved characters
// decoded.
func normalURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("the URL does not parse (%v)", redactURLError(err))
	}
	scheme := u.Scheme // url.Parse writes it in lower case
	if scheme != "http" && scheme != "https" || u.Host == "" {
		return "", errors.New("the URL is not an absolute http or https URL")
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") { // IPv6: keep [::1]:8443 apart from [::1:8443]
		host = "[" + host + "]"
	}
	port := u.Port()
	if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	path := normalPercent(u.EscapedPath())
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

// normalPercent writes every percent-encoding in upper case and decodes
// those of unreserved characters (RFC 3986 §2.3, §6.2.2.2).
func normalPercent(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			c := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(c) {
				b.WriteByte(c)
			} else {
				b.WriteString(strings.ToUpper(s[i : i+3]))
			}
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
