package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// probeTimeout bounds the keyring probe of Default: a Secret Service that
// is missing, locked or waiting for a prompt can block forever.
const probeTimeout = 2 * time.Second

// Default returns the store authloop uses when the caller chose none, and
// says which it picked and why: the OS keyring (NewKeyring(dir,
// DefaultService)) when one answers a set, get and delete of a test item
// within 2 seconds, and the file store in dir otherwise. An empty dir
// means DefaultDir(). A probe that hangs is left behind in a goroutine.
func Default(dir string) (Store, string, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, "", err
		}
		dir = d
	}
	k, err := NewKeyring(dir, DefaultService)
	if err != nil {
		return nil, "", err
	}
	perr := probe(k.backend, DefaultService, probeTimeout)
	if perr == nil {
		return k, k.Describe(), nil
	}
	return k.file, fmt.Sprintf("%s: no keyring answered: %v", k.file.Describe(), perr), nil
}

// probe checks that backend can set, get and delete an item within
// timeout.
func probe(backend secretBackend, service string, timeout time.Duration) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	user, value := "authloop-probe-"+hex.EncodeToString(b[:]), "probe"
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			if err := backend.Set(service, user, value); err != nil {
				return err
			}
			got, err := backend.Get(service, user)
			if err != nil {
				return err
			}
			if err := backend.Delete(service, user); err != nil {
				return err
			}
			if got != value {
				return errors.New("the keyring returned another value than it was given")
			}
			return nil
		}()
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("the %s did not answer within %s", keyringName(), timeout)
	}
}
