package main

import (
	"errors"
	"strings"

	"github.com/authloop/authloop/store"
)

// checkKeyring fails a login that asks for the OS keyring (--store
// keyring, or a profile that keeps its tokens there) when no keyring
// answers, before anything is sent or a browser opened: signing in only to
// lose the tokens at the save wastes the person's time (issue 13 item 2).
// It asks the way --store auto does (store.Default's probe): where no
// D-Bus session bus is found it asks nothing, so no dbus-launch is started
// and no daemon left behind.
func checkKeyring(profile string) error {
	dir, err := configDir()
	if err != nil {
		return err
	}
	st, why, err := store.Default(dir)
	if err != nil {
		return err
	}
	if _, ok := st.(*store.Keyring); ok {
		return nil
	}
	if _, after, ok := strings.Cut(why, "no keyring answered: "); ok {
		why = after
	}
	return &cliError{code: exitFailure,
		err:  errors.New("--store keyring: no OS keyring can keep the tokens: " + why),
		hint: "keep them in a private file instead: authloop login --profile " + profile + " --store file (or unlock or start the keyring first)"}
}
