package assertion

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// MaxKeySize is the largest input ParsePrivateKey reads, and the largest
// key file LoadSigner reads, in bytes: a private key is a few kilobytes.
const MaxKeySize = 64 << 10

// ParsePrivateKey reads one private key: PEM of PKCS#8 ("PRIVATE KEY"),
// PKCS#1 ("RSA PRIVATE KEY") or SEC1 ("EC PRIVATE KEY", with or without
// the "EC PARAMETERS" block openssl writes before it), or a private JWK
// (RFC 7517, 7518 §6, 8037: kty RSA, EC or OKP with crv Ed25519), or a JWK
// Set holding one such key. It returns the key and, for a JWK, its kid
// ("" for PEM). Certificates and public keys beside a PEM key are ignored.
//
// It refuses, each with an error that names the problem and the fix: an
// encrypted key, a public key or certificate without a private key, more
// than one private key, text other than whitespace around the PEM blocks
// or the JSON, an OpenSSH or DER file, a symmetric or public JWK, a JWK
// whose members disagree (its public part is not that of d, its alg or use
// is not for this key's signatures), and input larger than MaxKeySize. An
// error never quotes the key's bytes.
//
// Which keys sign assertions is NewSigner's to decide: a parsed RSA key
// of 1024 bits or an ECDSA key on P-224 is returned here and refused there.
func ParsePrivateKey(data []byte) (key crypto.Signer, keyID string, err error) {
	key, keyID, err = parsePrivateKey(data)
	if err != nil {
		return nil, "", fmt.Errorf("assertion: ParsePrivateKey: %w", err)
	}
	return key, keyID, nil
}

// parsePrivateKey is ParsePrivateKey, with errors that do not name it.
func parsePrivateKey(data []byte) (crypto.Signer, string, error) {
	if len(data) > MaxKeySize {
		return nil, "", fmt.Errorf("the key is %d bytes, more than the %d a private key needs; pass the key file itself", len(data), MaxKeySize)
	}
	text := bytes.TrimSpace(data)
	switch {
	case len(text) == 0:
		return nil, "", errors.New("the key is empty; pass a PEM private key or a private JWK")
	case text[0] == '{':
		return parseJWK(text)
	case bytes.HasPrefix(text, []byte("-----BEGIN ")):
		key, err := parsePEM(text)
		return key, "", err
	case text[0] == 0x30:
		return nil, "", errors.New("the key is not PEM or a JWK; it looks like DER: convert it with openssl pkey -inform DER -in KEY.der -out KEY.pem")
	case bytes.HasPrefix(text, []byte("ssh-")), bytes.HasPrefix(text, []byte("ecdsa-sha2-")):
		return nil, "", errors.New("the key is an OpenSSH public key; pass the private key, converted to PEM (ssh-keygen -p -m PKCS8 -f A_COPY_OF_THE_PRIVATE_KEY)")
	}
	return nil, "", errors.New("the key is neither PEM (-----BEGIN PRIVATE KEY-----) nor a JWK ({\"kty\":…}); pass a private key file, with nothing before it")
}

// parsePEM reads text of PEM blocks only (between which only whitespace may
// stand), exactly one of which is a private key.
func parsePEM(text []byte) (crypto.Signer, error) {
	var (
		keys   []crypto.Signer
		public []string
		rest   = text
	)
	for n := 1; len(rest) > 0; n++ {
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return nil, fmt.Errorf("text that is not PEM follows PEM block %d; remove it, keeping the BEGIN and END lines of the key and what is between them", n-1)
		}
		// pem.Decode skips a damaged block and reads the next one: decode
		// up to the next BEGIN line only, so that no block is skipped.
		end := len(rest)
		if i := bytes.Index(rest[1:], []byte("-----BEGIN ")); i >= 0 {
			end = i + 1
		}
		block, after := pem.Decode(rest[:end])
		if block == nil {
			return nil, fmt.Errorf("PEM block %d is damaged (its END line, headers or base64); export the key again", n)
		}
		rest = bytes.TrimLeft(rest[end-len(after):], " \t\r\n")
		key, err := pemKey(block)
		switch {
		case err != nil:
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		case key != nil:
			keys = append(keys, key)
		case block.Type != "EC PARAMETERS":
			public = append(public, block.Type)
		}
	}
	switch {
	case len(keys) > 1:
		return nil, fmt.Errorf("the file holds %d private keys; keep the one to sign with, one key per file", len(keys))
	case len(keys) == 0 && len(public) > 0:
		return nil, fmt.Errorf("the file holds a %s and no private key; pass the private key that goes with it", public[0])
	case len(keys) == 0:
		return nil, errors.New("the file holds no private key; pass a PEM private key")
	}
	return keys[0], nil
}

// pemKey reads one PEM block: a private key, nil for a certificate, a
// public key or EC parameters, an error for anything else.
func pemKey(block *pem.Block) (crypto.Signer, error) {
	if block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("the key is encrypted (PKCS#8 with a passphrase); decrypt it into a file of mode 600: openssl pkcs8 -in KEY.pem -out PLAIN.pem")
	}
	if procType, ok := block.Headers["Proc-Type"]; ok && bytes.Contains([]byte(procType), []byte("ENCRYPTED")) {
		return nil, errors.New("the key is encrypted (a passphrase in PEM headers); decrypt it into a file of mode 600: openssl pkey -in KEY.pem -out PLAIN.pem")
	}
	var (
		parsed any
		err    error
		form   string
	)
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		form = "PKCS#8"
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		form = "PKCS#1 RSA"
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
		form = "SEC1 EC"
	case "CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE", "PUBLIC KEY", "RSA PUBLIC KEY", "EC PARAMETERS":
		return nil, nil
	case "OPENSSH PRIVATE KEY":
		return nil, errors.New("the key is in OpenSSH's format; convert a copy of an RSA or ECDSA key to PKCS#8 (ssh-keygen -p -m PKCS8 -f A_COPY_OF_THE_KEY), or make a new key for the client (ssh-keygen cannot export an Ed25519 key)")
	case "DSA PRIVATE KEY":
		return nil, fmt.Errorf("the key is DSA; use one of: %s", accepted)
	default:
		return nil, fmt.Errorf("a block of type %.40q is not a private key; pass a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("the %s block does not parse as a %s private key (damaged, or of a kind this does not read); export the key again as PKCS#8: openssl pkey -in KEY.pem -out NEW.pem", block.Type, form)
	}
	switch k := parsed.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	case *ecdh.PrivateKey:
		return nil, fmt.Errorf("the key is %v, for key agreement, not signatures; use one of: %s", k.Curve(), accepted)
	}
	return nil, fmt.Errorf("the key is a %T; use one of: %s", parsed, accepted)
}
