package assertion

import (
	"fmt"
	"io"
	"os"
)

// LoadSigner reads the private key file at path (PEM or a JWK, as
// ParsePrivateKey reads them) and makes its Signer. On unix the file must
// be open to its owner only: a file that its group or others may read or
// write is refused with an error naming chmod 600 (on Windows, where modes
// do not say who reads a file, nothing is checked). A file larger than
// MaxKeySize is refused unread.
//
// keyID, when set, is the kid of the assertions; "" keeps the JWK's kid,
// or for PEM (or a JWK without one) the key's RFC 7638 thumbprint.
func LoadSigner(path, keyID string) (*Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("assertion: LoadSigner: %w; pass the path of the client's private key file", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("assertion: LoadSigner: %w", err)
	}
	if err := ownerOnly(path, info); err != nil {
		return nil, fmt.Errorf("assertion: LoadSigner: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("assertion: LoadSigner: reading %s: %w", path, err)
	}
	key, kid, err := parsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("assertion: LoadSigner: %s: %w", path, err)
	}
	if keyID == "" {
		keyID = kid
	}
	s, err := newSigner(key, keyID)
	if err != nil {
		return nil, fmt.Errorf("assertion: LoadSigner: %s: %w", path, err)
	}
	return s, nil
}
