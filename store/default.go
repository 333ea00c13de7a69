package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
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
// timeout. For the Secret Service it first checks that a D-Bus session bus
// is there to ask: without one, go-keyring's D-Bus library would start a
// new bus (dbus-launch) on every run of the program and leave it behind.
func probe(backend secretBackend, service string, timeout time.Duration) error {
	if _, ok := backend.(osKeyring); ok && usesDBus {
		if err := sessionBus(); err != nil {
			return err
		}
	}
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

// usesDBus is true where go-keyring talks to the Secret Service.
var usesDBus = runtime.GOOS != "darwin" && runtime.GOOS != "windows"

// sessionBus reports whether a D-Bus session bus can be found the way the
// D-Bus library finds one without starting it: $DBUS_SESSION_BUS_ADDRESS,
// or the bus socket of the systemd user session.
func sessionBus() error {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return nil
	}
	run := filepath.Join("/run/user", strconv.Itoa(os.Getuid()))
	for _, name := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(filepath.Join(run, name)); err == nil {
			return nil
		}
	}
	return errors.New("no D-Bus session bus for the Secret Service ($DBUS_SESSION_BUS_ADDRESS is unset)")
}
