package authloop

import (
	"context"
	"errors"

	"github.com/authloop/authloop/discovery"
)

// registerClient gives cfg a client when the configuration names none.
// Placeholder until register/ lands: it fails clearly.
func (s *Session) registerClient(ctx context.Context, cfg *Config, md *discovery.AuthServerMetadata) error {
	return errors.New("authloop: Config.OAuth2.ClientID is empty and client registration is not available yet; set the client id")
}

// dropRegistration forgets a registered client the server refused
// (invalid_client), and reports whether there was one to forget.
func (s *Session) dropRegistration(err error) bool {
	return false
}
