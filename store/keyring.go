package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zalando/go-keyring"
)

// DefaultService is the keyring service name under which Default keeps
// authloop's secrets.
const DefaultService = "authloop"

// Keyring is a Store that keeps the secrets of each record — the access
// and refresh tokens, the tokens in Token.Extra (id_token and any other
// field whose name ends in "token" or holds "secret"), the client secret
// and the registration access token — in the OS keyring (macOS Keychain,
// the Secret Service on Linux and BSD, Windows Credential Manager) through
// github.com/zalando/go-keyring, and everything else, and the locks, in a
// File store's directory.
//
// The secrets of a record are one JSON document, split into keyring items
// of at most 1800 bytes each (the Keychain and Credential Manager refuse
// items over about 2.5 KB), named "<Key.ID()>.g<generation>.p<part>"
// under the store's service. The record file names the service, the number
// of parts and their SHA-256, and it is authoritative: Save writes the new
// generation's items first, then the record file, then deletes the
// previous generation's items. A crash in between leaves the previous
// record whole (plus at worst some unused items that a later Save of the
// key overwrites). A Load that finds the items missing or out of step
// with the file returns an error wrapping ErrSecretsMissing that names the
// key and says to log in again.
//
// A record file written by the File store (secrets in the file) is read as
// it is, and its next Save moves the secrets into the keyring.
//
// Keyring calls have no timeout of their own (a keyring may be waiting for
// the person to unlock it): they end when ctx is done, leaving the call to
// finish in the background.
type Keyring struct {
	file    *File
	service string
	backend secretBackend
	name    string // what kind of keyring, for messages
}

// secretBackend is the part of go-keyring that the store uses; tests
// substitute one with a platform's size limit.
type secretBackend interface {
	Set(service, user, secret string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

type osKeyring struct{}

func (osKeyring) Set(service, user, secret string) error   { return keyring.Set(service, user, secret) }
func (osKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }
func (osKeyring) Delete(service, user string) error        { return keyring.Delete(service, user) }

// keyringChunk is the most bytes of secrets kept in one keyring item.
// The tightest limits are Windows' 2560 bytes per credential and the
// Keychain's ~3000 bytes for service, account and base64 of the secret
// together.
const keyringChunk = 1800

// NewKeyring returns a store that keeps secrets in the OS keyring under
// service (DefaultService when empty) and the rest of each record, and the
// locks, in a file store in dir (see NewFile). It does not check that a
// keyring answers; Default does.
func NewKeyring(dir, service string) (*Keyring, error) {
	f, err := NewFile(dir)
	if err != nil {
		return nil, err
	}
	if service == "" {
		service = DefaultService
	}
	return &Keyring{file: f, service: service, backend: osKeyring{}, name: keyringName()}, nil
}

// keyringName names the platform's keyring for messages.
func keyringName() string {
	switch runtime.GOOS {
	case "darwin":
		return "macOS Keychain"
	case "windows":
		return "Windows Credential Manager"
	default:
		return "Secret Service"
	}
}

// Describe says which keyring, which service and which directory.
func (k *Keyring) Describe() string {
	return fmt.Sprintf("OS keyring (%s, service %q), with the rest of each record in %s", k.name, k.service, k.file.Describe())
}

// Dir returns the directory of the record files and locks.
func (k *Keyring) Dir() string { return k.file.Dir() }

// List returns the keys of all records, as File.List does.
func (k *Keyring) List(ctx context.Context) ([]Key, error) { return k.file.List(ctx) }

// Lock takes the named lock of key through the file store's lock files,
// as Store.Lock describes.
func (k *Keyring) Lock(ctx context.Context, key Key, name string) (func() error, error) {
	return k.file.Lock(ctx, key, name)
}

// secretBlob is the document kept in the keyring for one generation of a
// record.
type secretBlob struct {
	ID                      string         `json:"id"` // Key.ID(), to catch an item of another record
	Generation              uint64         `json:"generation"`
	AccessToken             string         `json:"access_token,omitempty"`
	RefreshToken            string         `json:"refresh_token,omitempty"`
	Extra                   map[string]any `json:"extra,omitempty"`
	ClientSecret            string         `json:"client_secret,omitempty"`
	RegistrationAccessToken string         `json:"registration_access_token,omitempty"`
	DPoPKey                 []byte         `json:"dpop_key,omitempty"`
}

// isSecretExtra reports whether a Token.Extra field is kept in the keyring.
func isSecretExtra(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, "token") || strings.Contains(n, "secret")
}

// splitSecrets moves the secrets of rec (which it changes) into a blob; it
// returns nil when rec holds none.
func splitSecrets(rec *Record) *secretBlob {
	var b secretBlob
	has := false
	if t := rec.Token; t != nil {
		b.AccessToken, t.AccessToken = t.AccessToken, ""
		b.RefreshToken, t.RefreshToken = t.RefreshToken, ""
		for name, v := range t.Extra {
			if isSecretExtra(name) {
				if b.Extra == nil {
					b.Extra = make(map[string]any)
				}
				b.Extra[name] = v
				delete(t.Extra, name)
			}
		}
		if t.Extra != nil && len(t.Extra) == 0 {
			t.Extra = nil
		}
		has = b.AccessToken != "" || b.RefreshToken != "" || b.Extra != nil
	}
	if c := rec.Client; c != nil {
		b.ClientSecret, c.ClientSecret = c.ClientSecret, ""
		b.RegistrationAccessToken, c.RegistrationAccessToken = c.RegistrationAccessToken, ""
		has = has || b.ClientSecret != "" || b.RegistrationAccessToken != ""
	}
	b.DPoPKey, rec.DPoPKey = rec.DPoPKey, nil
	has = has || len(b.DPoPKey) > 0
	if !has {
		return nil
	}
	return &b
}

// mergeSecrets puts the secrets of b back into rec.
func mergeSecrets(rec *Record, b *secretBlob) {
	if b.AccessToken != "" || b.RefreshToken != "" || b.Extra != nil {
		if rec.Token == nil {
			rec.Token = &Token{}
		}
		rec.Token.AccessToken = b.AccessToken
		rec.Token.RefreshToken = b.RefreshToken
		for name, v := range b.Extra {
			if rec.Token.Extra == nil {
				rec.Token.Extra = make(map[string]any, len(b.Extra))
			}
			rec.Token.Extra[name] = v
		}
	}
	if b.ClientSecret != "" || b.RegistrationAccessToken != "" {
		if rec.Client == nil {
			rec.Client = &Client{}
		}
		rec.Client.ClientSecret = b.ClientSecret
		rec.Client.RegistrationAccessToken = b.RegistrationAccessToken
	}
	rec.DPoPKey = b.DPoPKey // the keyring holds it, never the file
}

func itemName(id string, gen uint64, part int) string {
	return fmt.Sprintf("%s.g%d.p%d", id, gen, part)
}

// chunks splits s into pieces of at most n bytes, at UTF-8 boundaries.
func chunks(s string, n int) []string {
	var out []string
	for len(s) > n {
		i := n
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return append(out, s)
}

// call runs fn, a keyring call, until it returns or ctx is done.
func call[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("store: the OS keyring did not answer (is it locked, waiting to be unlocked?): %w", ctx.Err())
	}
}

func (k *Keyring) set(ctx context.Context, service, user, secret string) error {
	_, err := call(ctx, func() (struct{}, error) { return struct{}{}, k.backend.Set(service, user, secret) })
	return err
}

func (k *Keyring) get(ctx context.Context, service, user string) (string, error) {
	return call(ctx, func() (string, error) { return k.backend.Get(service, user) })
}

// deleteItems removes parts items of a generation, ignoring those already
// gone; it returns the first other error.
func (k *Keyring) deleteItems(ctx context.Context, service, id string, gen uint64, parts int) error {
	var first error
	for i := range parts {
		_, err := call(ctx, func() (struct{}, error) { return struct{}{}, k.backend.Delete(service, itemName(id, gen, i)) })
		if err != nil && !errors.Is(err, keyring.ErrNotFound) && first == nil {
			first = err
		}
	}
	return first
}

// Save stores rec as Store.Save describes: its secrets in the keyring, the
// rest in the record file.
func (k *Keyring) Save(ctx context.Context, rec *Record) (uint64, error) {
	if err := checkRecord(rec); err != nil {
		return 0, err
	}
	pub := rec.Clone()
	blob := splitSecrets(pub)
	id := rec.Key.ID()
	var prevRef *keyringRef
	var prevGen uint64
	err := k.file.update(ctx, rec.Key, func(prev *recordFile) (*recordFile, error) {
		if prev != nil {
			prevRef, prevGen = prev.Keyring, prev.Record.Generation
		}
		pub.Generation = nextGeneration(prev)
		pub.Updated = time.Now().UTC().Round(0)
		rf := &recordFile{Schema: schemaVersion, Record: pub}
		if blob == nil {
			return rf, nil
		}
		blob.ID, blob.Generation = id, pub.Generation
		data, err := json.Marshal(blob)
		if err != nil {
			return nil, fmt.Errorf("store: save %s: %w", rec.Key, err)
		}
		parts := chunks(string(data), keyringChunk)
		if len(parts) > maxKeyringParts {
			return nil, fmt.Errorf("store: save %s: its secrets take %d bytes, more than the %d the keyring store keeps per record", rec.Key, len(data), maxKeyringParts*keyringChunk)
		}
		for i, p := range parts {
			if err := k.set(ctx, k.service, itemName(id, pub.Generation, i), p); err != nil {
				_ = k.deleteItems(context.WithoutCancel(ctx), k.service, id, pub.Generation, i)
				return nil, fmt.Errorf("store: save the secrets of %s in the %s (service %q): %w", rec.Key, k.name, k.service, err)
			}
		}
		sum := sha256.Sum256(data)
		rf.Keyring = &keyringRef{Service: k.service, Parts: len(parts), SHA256: hex.EncodeToString(sum[:])}
		return rf, nil
	})
	if err != nil {
		return 0, err
	}
	// The record file now names the new items; the previous generation's
	// are unused. A failure to delete them leaves them behind, unread.
	if prevRef != nil && prevGen != pub.Generation {
		_ = k.deleteItems(ctx, prevRef.Service, id, prevGen, prevRef.Parts)
	}
	rec.Generation, rec.Updated = pub.Generation, pub.Updated
	return pub.Generation, nil
}

// Load returns the record of key with its secrets from the keyring, or an
// error wrapping ErrNotFound, ErrCorrupt or ErrSecretsMissing.
func (k *Keyring) Load(ctx context.Context, key Key) (*Record, error) {
	for attempt := 0; attempt < lockFreeLoads; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := k.load(ctx, key)
		if err == nil {
			return rec, nil
		}
		var lost *lostRace
		if !errors.As(err, &lost) {
			return nil, err
		}
	}
	// Saves kept replacing the items between the file's read and theirs:
	// read under the save lock, where no Save can replace them (a Save
	// deletes the items of a generation only once the file names the next).
	unlock, err := k.file.lock(ctx, key, saveLockName)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := k.load(ctx, key)
	var lost *lostRace
	if errors.As(err, &lost) {
		return nil, lost.err
	}
	return rec, err
}

// lockFreeLoads is how many times Load reads without the save lock before
// it takes it: a Load that loses to concurrent Saves that often waits for
// them instead.
const lockFreeLoads = 3

// lostRace is a read of a record's secrets that failed because a Save
// replaced the record meanwhile (its file names another generation now).
type lostRace struct{ err error }

func (e *lostRace) Error() string { return e.err.Error() }

// load reads the record file of key, then its secrets from the keyring.
func (k *Keyring) load(ctx context.Context, key Key) (*Record, error) {
	rf, err := k.file.read(key)
	if err != nil {
		return nil, err
	}
	if rf.Keyring == nil {
		return rf.Record, nil // written by a file store: the secrets are in the file
	}
	blob, err := k.readSecrets(ctx, key, rf)
	if err == nil {
		mergeSecrets(rf.Record, blob)
		return rf.Record, nil
	}
	// A Save that ran since the file was read deletes the items of the
	// generation it replaced.
	if again, err2 := k.file.read(key); err2 == nil && again.Record.Generation != rf.Record.Generation {
		return nil, &lostRace{err}
	}
	return nil, err
}

func (k *Keyring) readSecrets(ctx context.Context, key Key, rf *recordFile) (*secretBlob, error) {
	ref, gen, id := rf.Keyring, rf.Record.Generation, key.ID()
	var b strings.Builder
	for i := range ref.Parts {
		name := itemName(id, gen, i)
		s, err := k.get(ctx, ref.Service, name)
		if errors.Is(err, keyring.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s says the secrets of %s are in the %s as item %q of service %q, but there is no such item "+
				"(was the keyring reset, or the file copied from another account?): log in again to store new ones",
				ErrSecretsMissing, k.file.recordPath(key), key, k.name, name, ref.Service)
		}
		if err != nil {
			return nil, fmt.Errorf("store: read the secrets of %s from the %s (service %q): %w", key, k.name, ref.Service, err)
		}
		b.WriteString(s)
	}
	data := []byte(b.String())
	sum := sha256.Sum256(data)
	var blob secretBlob
	if hex.EncodeToString(sum[:]) != ref.SHA256 || json.Unmarshal(data, &blob) != nil || blob.ID != id || blob.Generation != gen {
		return nil, fmt.Errorf("%w: the secrets of %s in the %s (service %q) do not match %s, generation %d: log in again to store new ones",
			ErrSecretsMissing, key, k.name, ref.Service, k.file.recordPath(key), gen)
	}
	return &blob, nil
}

// Delete removes the record of key and its keyring items, or returns an
// error wrapping ErrNotFound. The record file goes first, so a failure
// leaves unused items rather than a record without secrets.
func (k *Keyring) Delete(ctx context.Context, key Key) error {
	return k.file.remove(ctx, key, func(rf *recordFile) error {
		if rf.Keyring == nil {
			return nil
		}
		if err := k.deleteItems(ctx, rf.Keyring.Service, key.ID(), rf.Record.Generation, rf.Keyring.Parts); err != nil {
			return fmt.Errorf("store: deleted the record of %s, but not all of its items in the %s (service %q): %w", key, k.name, rf.Keyring.Service, err)
		}
		return nil
	})
}
