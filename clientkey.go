// private_key_jwt (RFC 7523 §2.2): the client authenticates with a JWT
// signed by its key (Config.ClientKey) instead of a secret.

package authloop

import (
	"errors"
	"fmt"

	"github.com/authloop/authloop/assertion"
)

// checkClientKey refuses a ClientKey that cannot sign, or that comes with
// a secret or without a client id.
func (c *Config) checkClientKey() error {
	if c.ClientKey == nil {
		if c.ClientKeyID != "" || c.ClientKeyAudience != "" {
			return errors.New("authloop: Config.ClientKeyID or ClientKeyAudience is set without Config.ClientKey; set the client's key, or clear them")
		}
		return nil
	}
	if c.OAuth2.ClientSecret != "" {
		return errors.New("authloop: Config.ClientKey and Config.OAuth2.ClientSecret are both set; a client authenticates one way: clear the secret to use the key (private_key_jwt), or the key to use the secret")
	}
	if c.OAuth2.ClientID == "" {
		return errors.New("authloop: Config.ClientKey is set and Config.OAuth2.ClientID is empty; set the id of the client registered with this key's public half")
	}
	if _, err := assertion.NewSigner(c.ClientKey, c.ClientKeyID); err != nil {
		return fmt.Errorf("authloop: Config.ClientKey: %w", err)
	}
	return nil
}

// clientAssertion returns a new client assertion (its own jti) for one
// request: iss and sub the client id, aud ClientKeyAudience, else the
// issuer, else the token endpoint.
func (c *Config) clientAssertion() (string, error) {
	sg, err := assertion.NewSigner(c.ClientKey, c.ClientKeyID)
	if err != nil {
		return "", fmt.Errorf("authloop: Config.ClientKey: %w", err)
	}
	aud := c.ClientKeyAudience
	switch {
	case aud != "":
	case c.Issuer != "":
		aud = c.Issuer
	default:
		aud = c.OAuth2.Endpoint.TokenURL
	}
	a, err := sg.ClientAssertion(c.OAuth2.ClientID, aud, c.now())
	if err != nil {
		return "", fmt.Errorf("authloop: signing the client assertion with Config.ClientKey: %w", err)
	}
	return a, nil
}
