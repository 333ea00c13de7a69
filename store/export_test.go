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

// SaveLockHeld reports whether a goroutine of this process holds the save
// lock of key in k's directory (the lock every Save takes), without
// waiting: it looks at the lock's in-process semaphore, which both lock
// implementations take first (its name is the lock file's path, and on
// systems with byte locks the path and the lock's name).
func SaveLockHeld(k *Keyring, key Key) bool {
	path := k.file.lockPath(key, saveLockName)
	for _, name := range []string{path, path + "\x00" + saveLockName} {
		if ch, ok := inProcess.Load(name); ok && len(ch.(chan struct{})) > 0 {
			return true
		}
	}
	return false
}
