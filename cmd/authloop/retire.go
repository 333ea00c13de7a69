package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/store"
)

// Issue 13 item 7: a profile switched to another issuer, client or
// resource (a login with other --issuer, --client-id or --resource) names
// a new record; the old one, with its live refresh token, must not be left
// behind. The login that succeeds ends it: revoked at the server where it
// offers revocation, then deleted. Where its server cannot be reached it
// is kept and written down beside the profile (profiles/NAME.previous, a
// JSON list of record keys): status lists it, the next login tries again,
// and logout ends it with the current one. Only records the profile itself
// pointed to are ended: another program sharing the store directory (the
// library's default store is the same one) may use the same account name.

// previousPath is the file that lists profile name's previous sign-ins.
func previousPath(name string) (string, error) {
	dir, err := profilesDir()
	if err != nil {
		return "", err
	}
	if err := validProfileName(name); err != nil {
		return "", err
	}
	return filepath.Join(dir, name+".previous"), nil
}

// loadPrevious returns the keys of profile name's previous sign-ins that
// were kept; none when there is no list.
func loadPrevious(name string) []store.Key {
	path, err := previousPath(name)
	if err != nil {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var keys []store.Key
	if json.Unmarshal(b, &keys) != nil {
		return nil
	}
	return keys
}

// savePrevious writes the list of profile name's kept previous sign-ins
// (0600, beside the profile), or removes it when keys is empty.
func savePrevious(name string, keys []store.Key) error {
	path, err := previousPath(name)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	return writePrivateFile(path, append(b, '\n'))
}

// previousSignIns returns the kept previous sign-ins of profile name whose
// records st still holds, other than cur.
func previousSignIns(ctx context.Context, st store.Store, name string, cur store.Key) []store.Key {
	var out []store.Key
	for _, k := range loadPrevious(name) {
		if k == cur || slices.Contains(out, k) {
			continue
		}
		if _, err := st.Load(ctx, k); errors.Is(err, store.ErrNotFound) {
			continue
		}
		out = append(out, k)
	}
	return out
}

// recordKeyOf is the key of the record that profile p's settings name.
func recordKeyOf(p *Profile) (store.Key, error) {
	st, _, err := openStore(p)
	if err != nil {
		return store.Key{}, err
	}
	cfg, err := configFor(p, st, sessionOptions{})
	if err != nil {
		return store.Key{}, err
	}
	s, err := authloop.NewSession(cfg, nil)
	if err != nil {
		return store.Key{}, err
	}
	defer s.Close()
	return s.Key(), nil
}

// describeSignIn names a record's server and client for the person.
func describeSignIn(k store.Key) string {
	s := k.Issuer + " (client " + k.ClientID
	if k.Resource != "" {
		s += ", resource " + k.Resource
	}
	return s + ")"
}

// endPrevious ends the previous sign-ins of profile p, whose current
// record is cur: the kept ones, and prev's record (the profile's settings
// before this login) when it is another. For each, it revokes the grant
// where the server offers revocation and deletes the record. A previous
// sign-in whose server cannot be reached is kept and written down (login:
// the next login tries again) unless force (logout: it is deleted anyway,
// and the error says that the grant may live on). It returns an error
// when a previous sign-in was not ended whole.
func (a *app) endPrevious(ctx context.Context, p *Profile, cur store.Key, force bool, prev *Profile) error {
	st, _, err := openStore(p)
	if err != nil {
		return err
	}
	candidates := loadPrevious(p.Name)
	if prev != nil {
		if k, err := recordKeyOf(prev); err == nil && k != cur && !slices.Contains(candidates, k) {
			candidates = append(candidates, k)
		}
	}
	var kept []store.Key
	var errs []error
	for _, k := range candidates {
		if k == cur {
			continue
		}
		if err := a.endOne(ctx, st, k, force, []*Profile{prev, p}); err != nil {
			errs = append(errs, err)
			if !force {
				kept = append(kept, k)
			}
		}
	}
	if err := savePrevious(p.Name, kept); err != nil {
		errs = append(errs, fmt.Errorf("writing down the previous sign-ins of profile %s: %w", p.Name, err))
	}
	return errors.Join(errs...)
}

// endOne ends the sign-in kept in the record of k (see endPrevious).
func (a *app) endOne(ctx context.Context, st store.Store, k store.Key, force bool, candidates []*Profile) error {
	if _, err := st.Load(ctx, k); errors.Is(err, store.ErrNotFound) {
		return nil // nothing to end (logged out, or ended meanwhile): no server to ask
	}
	u := a.ui
	who := describeSignIn(k)
	old := *candidates[len(candidates)-1]
	for _, c := range candidates {
		if c != nil && c.Issuer == k.Issuer && c.ClientID == k.ClientID {
			old = *c
			break
		}
	}
	old.Issuer, old.ClientID, old.Resource = k.Issuer, k.ClientID, k.Resource
	kept := func(why error) error {
		u.printf("%s The previous sign-in of profile %s at %s is still kept here: %v.", u.yellow("!"), u.bold(k.Account), who, oneLine(why.Error()))
		u.printf("  authloop status lists it; the next login tries again to end it, and authloop logout --profile %s ends it with the current one.", k.Account)
		return fmt.Errorf("the previous sign-in at %s is kept: %w", who, why)
	}
	cfg, err := configFor(&old, st, sessionOptions{})
	if err != nil {
		return kept(err)
	}
	revocation, err := revocationEndpoint(ctx, k.Issuer)
	switch {
	case err == nil:
		cfg.RevocationURL = revocation
	case !force:
		return kept(fmt.Errorf("its server could not be reached to revoke the grant (%s)", netCause(err)))
	}
	s, err := authloop.NewSession(cfg, nil)
	if err != nil {
		return kept(err)
	}
	defer s.Close()
	if s.Key() != k {
		return kept(errors.New("its record cannot be addressed with these settings"))
	}
	if s.Cached() == nil {
		return nil // gone meanwhile
	}
	err = s.Logout(ctx)
	if err != nil && recordKept(s) {
		return kept(err)
	}
	switch {
	case err != nil:
		u.printf("%s Deleted the previous sign-in of profile %s at %s here, but the server did not confirm the revocation: the grant may live on there.", u.yellow("!"), u.bold(k.Account), who)
		return fmt.Errorf("revoking the previous sign-in at %s failed: %w", who, err)
	case cfg.RevocationURL != "":
		u.printf("%s Ended the previous sign-in of profile %s at %s: the server revoked its grant, and its tokens are deleted.", u.green("✓"), u.bold(k.Account), who)
	default:
		u.printf("%s Deleted the previous sign-in of profile %s at %s (its server offers no revocation: the grant lives on there until it expires).", u.green("✓"), u.bold(k.Account), who)
	}
	return nil
}

// netCause is the heart of a failure to reach a server ("connect:
// connection refused"), else the error itself.
func netCause(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Error()
	}
	return err.Error()
}
