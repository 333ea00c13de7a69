package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
)

// MarshalPrivateKey returns k's private key as PKCS#8 DER, for a store to
// keep beside the session it proves for (ParsePrivateKey reads it back).
// Only a key held in memory can be marshalled: one from GenerateKey or
// ParsePrivateKey, or NewKey of an *ecdsa.PrivateKey. A Key on a foreign
// crypto.Signer (a hardware module) cannot be, and the error says so: such
// a key stays where it is, and the program supplies it again at each start.
//
// The bytes are the secret itself: keep them as a token is kept (a 0600
// file, the OS keyring), never in a log.
func MarshalPrivateKey(k *Key) ([]byte, error) {
	if k == nil {
		return nil, errors.New("dpop: MarshalPrivateKey: the key is nil")
	}
	if k.priv == nil {
		return nil, fmt.Errorf("dpop: MarshalPrivateKey: %v signs through a %T, whose private key this process cannot read; keep that signer and pass it to NewKey at every start instead of storing the key", k, k.signer)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, fmt.Errorf("dpop: MarshalPrivateKey: %w", err)
	}
	return der, nil
}

// ParsePrivateKey reads a key that MarshalPrivateKey wrote (PKCS#8 DER of
// an ECDSA P-256 key). Anything else is refused; the error never quotes the
// bytes.
func ParsePrivateKey(der []byte) (*Key, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("dpop: ParsePrivateKey: the bytes are not a PKCS#8 private key (a stored DPoP key is damaged: delete it and sign in again to make a new one)")
	}
	p, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("dpop: ParsePrivateKey: the stored key is a %T; a DPoP key is ECDSA P-256 (delete it and sign in again to make a new one)", parsed)
	}
	if p.Curve != elliptic.P256() {
		return nil, fmt.Errorf("dpop: ParsePrivateKey: the stored key is on %s; a DPoP key is ECDSA P-256 (delete it and sign in again to make a new one)", p.Curve.Params().Name)
	}
	return NewKey(p)
}
