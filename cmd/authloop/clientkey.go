package main

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"

	"github.com/authloop/authloop/assertion"
)

// clientKey reads the client's private key (private_key_jwt) from the
// file profile p names, at each run: nil when it names none. The file
// must be the owner's only, as assertion.LoadSigner asks (on unix: a key
// that its group or others may read is refused, naming chmod 600). kid is
// --key-id, else the JWK's own kid, else "" (the library then uses the
// key's RFC 7638 thumbprint). Nothing of the key appears in an error.
func (p *Profile) clientKey() (key crypto.Signer, kid string, err error) {
	if p.PrivateKeyFile == "" {
		return nil, "", nil
	}
	fail := func(msg, hint string) (crypto.Signer, string, error) {
		return nil, "", &cliError{code: exitFailure, err: errors.New(msg), hint: hint}
	}
	flagHint := "check --private-key-file with authloop login --profile " + p.Name + " (a PEM or JWK private key, unencrypted, chmod 600)"
	f, err := os.Open(p.PrivateKeyFile)
	if err != nil {
		why := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			why = pe.Err.Error()
		}
		return fail("the client's private key file "+p.PrivateKeyFile+" cannot be read ("+why+")", flagHint)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fail("the client's private key file "+p.PrivateKeyFile+" cannot be read ("+err.Error()+")", flagHint)
	}
	if perm := info.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return fail(fmt.Sprintf("the client's private key file %s is open to its group or others (mode %04o)", p.PrivateKeyFile, perm),
			"run: chmod 600 "+p.PrivateKeyFile+" (the key is the client's identity: only its owner may read it)")
	}
	data, err := io.ReadAll(io.LimitReader(f, assertion.MaxKeySize+1))
	if err != nil {
		return fail("the client's private key file "+p.PrivateKeyFile+" cannot be read ("+err.Error()+")", flagHint)
	}
	key, kid, err = assertion.ParsePrivateKey(data)
	if err != nil {
		why := strings.TrimPrefix(err.Error(), "assertion: ParsePrivateKey: ")
		return fail(tidy("the client's private key file "+p.PrivateKeyFile+" holds no usable key: "+why), flagHint)
	}
	if p.KeyID != "" {
		kid = p.KeyID
	}
	return key, kid, nil
}
