package dpop

import (
	"errors"
	"fmt"
)

// ErrInvalidProof is what every error of Parse and Proof.Check for a bad
// proof matches with errors.Is: a server answers it with the error code
// invalid_dpop_proof (RFC 9449 §5, §7.1), and the client makes a new proof.
var ErrInvalidProof = errors.New("dpop: invalid DPoP proof")

// ErrNonceRequired is what Proof.Check's error matches with errors.Is when
// the server expects a nonce and the proof carries none or another one: a
// server answers it with the error code use_dpop_nonce and a DPoP-Nonce
// header with the nonce to use (RFC 9449 §8, §9), and the client makes a
// new proof with it. It does not match ErrInvalidProof.
var ErrNonceRequired = errors.New("dpop: the server requires a DPoP nonce")

// invalid wraps ErrInvalidProof with a reason.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidProof}, args...)...)
}
