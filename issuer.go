// The issuer rules: an authorization response's iss (RFC 9207), and a
// token's refresh token sent only to the server that issued it.

package authloop

import (
	"context"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/authloop/authloop/internal/urlrule"
)

// checkIssuer applies RFC 9207 §2.4: a response that names another issuer
// is refused; an absent iss is refused only when the server promised one.
// When the issuer was discovered, iss must be exactly the issuer of the
// server's metadata, by simple string comparison as §2.4 asks: that is
// the string the server publishes and sends. When the program configured
// the endpoints itself, the issuer is the one it typed, and "another
// issuer" is decided by urlrule.SameIssuer (discovery.SameIssuer): a
// trailing slash typed or left out cannot tell two servers apart, so
// refusing it would protect nothing and fail the sign-in.
func (c *Config) checkIssuer(iss string) error {
	if c.Issuer == "" {
		return nil
	}
	if iss == "" {
		if c.RequireIssuer {
			return &IssuerMismatchError{Want: c.Issuer}
		}
		return nil
	}
	if c.discovered != nil && iss != c.Issuer || !urlrule.SameIssuer(iss, c.Issuer) {
		return &IssuerMismatchError{Want: c.Issuer, Got: iss}
	}
	return nil
}

// issuedElsewhere returns why a login is needed before tok's refresh token
// can be sent: tok names the authorization server that issued it and the
// session's server is now another one, to which it must not be sent; or
// the session registers its client dynamically and keeps no registration
// to send it as (the record lost it, or its secret expired), and a refresh
// never registers one. nil otherwise.
func (s *Session) issuedElsewhere(ctx context.Context, tok *oauth2.Token) (*LoginRequiredError, error) {
	iss, _ := tok.Extra(issuerKey).(string)
	if iss == "" && s.cfg.OAuth2.ClientID != "" {
		return nil, nil
	}
	cfg, err := s.endpoints(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.OAuth2.ClientID == "" {
		return &LoginRequiredError{Reason: "no client registration is kept for the session's refresh token (a new one is registered at the next login)"}, nil
	}
	if iss == "" || urlrule.SameIssuer(iss, cfg.Issuer) {
		return nil, nil
	}
	return &LoginRequiredError{Reason: fmt.Sprintf("the token was issued by %s, and the authorization server of %s is now %s, to which it is never sent", iss, s.cfg.Resource, cfg.Issuer)}, nil
}
