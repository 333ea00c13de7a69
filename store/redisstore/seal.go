// Records sealed with Options.SecretKey: AES-GCM with a random 96-bit
// nonce per save, bound to the record's key (additional data), so that a
// sealed record copied under another key does not open.

package redisstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/authloop/authloop/store"
)

// ErrWrongSecretKey is wrapped by the error of a Load whose record was
// sealed with another Options.SecretKey than the store's (or was altered
// in Redis).
var ErrWrongSecretKey = errors.New("redisstore: the record was sealed with another secret key, or altered")

// ErrNoSecretKey is wrapped by the error of a Load whose record is sealed
// while the store has no Options.SecretKey.
var ErrNoSecretKey = errors.New("redisstore: the record is sealed, and the store has no secret key (Options.SecretKey)")

// ErrNotSealed is wrapped by the error of a Load whose record is stored
// in clear while the store has Options.RequireSealed: a record that
// whoever may write to Redis, without the key, may have put there. The
// record is not returned; saving over it replaces it.
var ErrNotSealed = errors.New("redisstore: the record is stored in clear (not sealed), and the store requires sealed records (Options.RequireSealed): someone who may write to Redis, without the secret key, may have put it there")

func newAEAD(key []byte) (cipher.AEAD, error) {
	switch len(key) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("redisstore: Options.SecretKey is %d bytes; it must be 32 (AES-256), or 16 or 24: make one with: head -c 32 /dev/urandom | base64", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("redisstore: Options.SecretKey: %w", err)
	}
	return cipher.NewGCM(block)
}

// additionalData binds a sealed record to the key it is filed under.
func additionalData(key store.Key) []byte {
	return []byte("authloop redisstore record " + key.ID())
}

// seal returns nonce || AES-GCM(plain).
func (s *Store) seal(key store.Key, plain []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("sealing the record: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plain, additionalData(key)), nil
}

// open reverses seal, and decodes the record.
func (s *Store) open(key store.Key, sealed []byte) (*store.Record, error) {
	if s.aead == nil {
		return nil, ErrNoSecretKey
	}
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrWrongSecretKey
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], additionalData(key))
	if err != nil {
		return nil, ErrWrongSecretKey
	}
	var rec store.Record
	if err := json.Unmarshal(plain, &rec); err != nil {
		return nil, errors.New(`the sealed record is not a JSON record`)
	}
	return &rec, nil
}

// ParseSecretKey reads a secret key written as base64 (standard or URL
// alphabet, padded or not) or hex, as `head -c 32 /dev/urandom | base64`
// makes one. Surrounding spaces and newlines are ignored. The error names
// the length it found, never the key.
func ParseSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var key []byte
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
		hex.DecodeString,
	} {
		if k, err := dec(s); err == nil && validKeyLen(len(k)) {
			key = k
			break
		}
	}
	if key == nil {
		return nil, fmt.Errorf("redisstore: the secret key (%d characters) is not 16, 24 or 32 bytes in base64 or hex; make one with: head -c 32 /dev/urandom | base64", len(s))
	}
	return key, nil
}

func validKeyLen(n int) bool { return n == 16 || n == 24 || n == 32 }

// SecretKeyFromFile reads a secret key (see ParseSecretKey) from the file
// at path. On Unix it refuses a file that other users may read or write
// (any permission bit for group or others, as ssh does for its keys): the
// key opens every token in Redis, and whoever replaces it has the records
// saved from then on sealed with a key of their own.
func SecretKeyFromFile(path string) ([]byte, error) {
	b, err := readPrivateFile(path, "secret key file")
	if err != nil {
		return nil, err
	}
	key, err := ParseSecretKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return key, nil
}

// PasswordFromFile reads a Redis password from the first line of the file
// at path, without the line's end. Like SecretKeyFromFile it refuses, on
// Unix, a file that other users may read or write, and an empty password;
// its errors never hold the password.
func PasswordFromFile(path string) (string, error) {
	b, err := readPrivateFile(path, "Redis password file")
	if err != nil {
		return "", err
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("redisstore: the Redis password file %s is empty", path)
	}
	return pw, nil
}

// readPrivateFile reads the regular file at path, which no one but its
// owner may read or write (on Unix); what names it in errors.
func readPrivateFile(path, what string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("redisstore: the %s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("redisstore: the %s %s is not a regular file", what, path)
	}
	if groupOrOtherAccess(fi) {
		return nil, fmt.Errorf("redisstore: the %s %s may be read or written by other users (mode %v); run: chmod 600 %s", what, path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("redisstore: the %s: %w", what, err)
	}
	return b, nil
}

// SecretKeyFromEnv reads a secret key (see ParseSecretKey) from the
// environment variable name; unset or empty is an error naming it.
func SecretKeyFromEnv(name string) ([]byte, error) {
	v := os.Getenv(name)
	if v == "" {
		return nil, fmt.Errorf("redisstore: the environment variable %s, which should hold the secret key, is not set", name)
	}
	key, err := ParseSecretKey(v)
	if err != nil {
		return nil, fmt.Errorf("%w (in $%s)", err, name)
	}
	return key, nil
}
