package store

// Hooks for the external tests.

// SecretBackend is the keyring interface the Keyring store uses.
type SecretBackend = secretBackend

// NewKeyringWithBackend is NewKeyring with another keyring behind it.
func NewKeyringWithBackend(dir, service string, b SecretBackend) (*Keyring, error) {
	k, err := NewKeyring(dir, service)
	if err != nil {
		return nil, err
	}
	k.backend = b
	return k, nil
}

// KeyringChunk is the most bytes kept in one keyring item.
const KeyringChunk = keyringChunk

// Probe is the keyring probe of Default.
var Probe = probe

// OSKeyring is the OS keyring, as NewKeyring uses it.
var OSKeyring SecretBackend = osKeyring{}

// LockPath is the file that holds the lock called name of key.
func LockPath(f *File, key Key, name string) string { return f.lockPath(key, name) }
