package mcpauth

import (
	"context"
	"errors"

	"github.com/authloop/authloop"
	"golang.org/x/oauth2"
)

// requestToken returns the token the go-sdk handler's token source hands
// out, or nil to have the go-sdk send the request without one: the same
// rule as the challenge-driven authloop.Transport (which mcpauth.Transport
// is). A session that holds no token yet sends none: the server's 401
// tells Session.Authorize where to sign in and with which scope, which a
// login started from Token could not know. A session whose grant died
// without a way to sign in again (ErrLoginRequired) sends none too, and
// Authorize, called on the 401, reports that error to the caller.
func requestToken(ctx context.Context, s *authloop.Session) (*oauth2.Token, error) {
	if s.Cached() == nil {
		return nil, nil
	}
	tok, err := s.Token(ctx)
	if errors.Is(err, authloop.ErrLoginRequired) {
		return nil, nil
	}
	return tok, err
}
