package mcpauth_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: a
// session's refresh timer, a transport's stream, a login's listener.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
