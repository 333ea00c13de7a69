package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// setStore applies login's --store, --redis-password-file and
// --redis-secret-key-file to p. A Redis URL with a password in it is a
// usage error that never shows the URL.
func (a *app) setStore(p *Profile, f *loginFlags, changed func(string) bool) error {
	st := p.Store
	if changed("store") || st == "" {
		st = strings.TrimSpace(f.store)
	}
	redisFlag := changed("redis-password-file") || changed("redis-secret-key-file")
	switch {
	case isRedisURL(st):
		if _, err := parseRedisURL(st); err != nil {
			ce := &cliError{code: exitUsage, err: prefixError("--store: ", err)}
			if errors.Is(err, errRedisPassword) {
				ce.hint = "remove it from the URL; put it in the environment variable " + redisPasswordEnv + ", or in a file readable by you alone named by --redis-password-file"
			}
			if errors.Is(err, errPlainRedis) {
				ce.hint = plainRedisHint(st)
			}
			return ce
		}
	case st == "auto", st == "file", st == "keyring":
		if redisFlag {
			return usageError("--redis-password-file and --redis-secret-key-file go with --store redis://… (or rediss://)")
		}
	case strings.Contains(st, "@"):
		return usageError("--store: use auto, file, keyring or a Redis URL (redis://HOST:PORT/DB); the value is not shown, as it may hold a password")
	default:
		return usageError("--store %q: use auto, file, keyring or a Redis URL (redis://HOST:PORT/DB)", st)
	}
	if st != p.Store && !isRedisURL(st) {
		p.RedisPasswordFile, p.RedisSecretKeyFile, p.RedisSealed, p.RedisPasswordEnv = "", "", false, false
	}
	p.Store = st
	for _, fl := range []struct {
		name string
		val  string
		dst  *string
	}{{"redis-password-file", f.redisPassword, &p.RedisPasswordFile}, {"redis-secret-key-file", f.redisSecretKey, &p.RedisSecretKeyFile}} {
		if !changed(fl.name) {
			continue
		}
		file := fl.val
		if file != "" {
			// Kept absolute: later commands run from other directories.
			abs, err := filepath.Abs(file)
			if err != nil {
				return usageError("--%s %q: %v", fl.name, file, err)
			}
			file = abs
		}
		*fl.dst = file
	}
	if isRedisURL(p.Store) {
		// Sealed when a key is given now; a later command then refuses to
		// run without one, rather than read nothing or write in clear.
		p.RedisSealed = p.RedisSecretKeyFile != "" || os.Getenv(redisSecretKeyEnv) != ""
		// The password from the environment only when no file names one,
		// and recorded: later commands send it to this profile's Redis
		// alone, never to the Redis of a profile whose login had none.
		p.RedisPasswordEnv = p.RedisPasswordFile == "" && os.Getenv(redisPasswordEnv) != ""
	}
	return nil
}

// prefixError shows err's message after prefix, and keeps err.
func prefixError(prefix string, err error) error {
	return messageError{prefix + err.Error(), err}
}
