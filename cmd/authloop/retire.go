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
//
// Issue 16: a login with another --store (the file store or the keyring,
// and Redis; or two Redis stores) leaves the previous sign-in in the old
// store, under the same key or another. Each listed sign-in therefore
// keeps the profile's settings when it was made (previousEntry.In), whose
// store holds its record, and is ended there. The file store and the
// keyring keep their records in the same file of the same directory: a
// login that moves between them writes the same record (as any new login
// of the same key does), and leaves none behind.

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

// previousEntry is one of a profile's previous sign-ins: its record's
// key, and the profile's settings when it was made (In), whose store holds
// the record. In is nil in a list written before issue 16, whose records
// are in the store of the profile that wrote it (ownedBy).
type previousEntry struct {
	store.Key
	In *Profile `json:"in,omitempty"`
}

// loadPrevious returns profile name's previous sign-ins that were kept;
// none when there is no list.
func loadPrevious(name string) []previousEntry {
	path, err := previousPath(name)
	if err != nil {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var entries []previousEntry
	if json.Unmarshal(b, &entries) != nil {
		return nil
	}
	return entries
}

// ownedBy gives each entry without settings (a list written before issue
// 16) owner's: the profile whose store held the list's records.
func ownedBy(entries []previousEntry, owner *Profile) []previousEntry {
	for i := range entries {
		if entries[i].In == nil && owner != nil {
			entries[i].In = snapshot(owner)
		}
	}
	return entries
}

// snapshot is a copy of p to keep with a previous sign-in.
func snapshot(p *Profile) *Profile {
	cp := *p
	return &cp
}

// savePrevious writes the list of profile name's kept previous sign-ins
// (0600, beside the profile), or removes it when it is empty.
func savePrevious(name string, entries []previousEntry) error {
	path, err := previousPath(name)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	return writePrivateFile(path, append(b, '\n'))
}

// storePlace names where profile p's store keeps its records: its Redis
// URL, or "local" for the file store and the keyring, which share the
// record files of the configuration directory. nil is "local" too.
func storePlace(p *Profile) string {
	if p != nil && isRedisURL(p.Store) {
		return p.Store
	}
	return "local"
}

// sameEntry reports whether a and b are the same record: one key in one
// store.
func sameEntry(a, b previousEntry) bool {
	return a.Key == b.Key && storePlace(a.In) == storePlace(b.In)
}

// isCurrent reports whether e is the record of profile p's current
// sign-in, cur.
func isCurrent(e previousEntry, p *Profile, cur store.Key) bool {
	return e.Key == cur && storePlace(e.In) == storePlace(p)
}

// entryOf is the entry of profile p's record.
func entryOf(p *Profile) (previousEntry, error) {
	k, err := recordKeyOf(p)
	if err != nil {
		return previousEntry{}, err
	}
	return previousEntry{Key: k, In: snapshot(p)}, nil
}

// storeOf opens the store that holds e's record: st, profile p's own,
// when e's is the same.
func storeOf(e previousEntry, p *Profile, st store.Store) (store.Store, error) {
	if e.In == nil || storePlace(e.In) == storePlace(p) {
		return st, nil
	}
	est, _, err := openStore(e.In)
	return est, err
}

// otherStore says in which store e's record is kept when that is not
// profile p's (" in the file store", " in Redis at URL"), else "".
func otherStore(e previousEntry, p *Profile) string {
	if e.In == nil || storePlace(e.In) == storePlace(p) {
		return ""
	}
	if t, err := parseRedisURL(e.In.Store); err == nil && isRedisURL(e.In.Store) {
		return " in Redis at " + t.shown
	}
	if isRedisURL(e.In.Store) {
		return " in Redis"
	}
	return " in the " + e.In.Store + " store"
}

// aliasOfCurrent reports whether the record of k in est, a store named
// otherwise than st, is the record of k in st: the same Redis under
// another name (localhost and 127.0.0.1). Ending it would end the
// current sign-in.
func aliasOfCurrent(ctx context.Context, est, st store.Store, k store.Key) bool {
	if est == st {
		return false
	}
	a, err := est.Load(ctx, k)
	if err != nil || a.Token == nil {
		return false
	}
	b, err := st.Load(ctx, k)
	if err != nil || b.Token == nil {
		return false
	}
	return a.Token.AccessToken == b.Token.AccessToken && a.Token.RefreshToken == b.Token.RefreshToken
}

// previousSignIns returns the kept previous sign-ins of profile p, whose
// current record is cur in st, whose records their stores still hold (or
// cannot say: a store that cannot be reached).
func previousSignIns(ctx context.Context, st store.Store, p *Profile, cur store.Key) []previousEntry {
	var out []previousEntry
	for _, e := range ownedBy(loadPrevious(p.Name), p) {
		if isCurrent(e, p, cur) || slices.ContainsFunc(out, func(x previousEntry) bool { return sameEntry(x, e) }) {
			continue
		}
		est, err := storeOf(e, p, st)
		if err == nil {
			if _, err := est.Load(ctx, e.Key); errors.Is(err, store.ErrNotFound) {
				continue
			}
			if e.Key == cur && aliasOfCurrent(ctx, est, st, cur) {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// recordKeyOf is the key of the record that profile p's settings name.
// It reads no store (the key is the settings'), so that a store that
// cannot be opened or reached (Redis down, a secret key missing) does not
// hide the record's key.
func recordKeyOf(p *Profile) (store.Key, error) {
	cfg, err := configFor(p, store.NewMemory(), sessionOptions{})
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
// record is cur (in p's store): the kept ones, and prev's record (the
// profile's settings before this login) when it is another, or in another
// store (a login with another --store). For each, it revokes the grant
// where the server offers revocation and deletes the record, in the store
// that holds it. A previous sign-in whose server cannot be reached is kept
// and written down (login: the next login tries again) unless force
// (logout: it is deleted anyway, and the error says that the grant may
// live on); one whose record could not be deleted (its store cannot be
// opened or reached) stays written down, force or not. It returns an
// error when a previous sign-in was not ended whole.
func (a *app) endPrevious(ctx context.Context, p *Profile, cur store.Key, force bool, prev *Profile) error {
	st, _, err := openStore(p)
	if err != nil {
		return err
	}
	owner := p // the list was written for the profile before this login
	if prev != nil {
		owner = prev
	}
	candidates := ownedBy(loadPrevious(p.Name), owner)
	if prev != nil {
		if e, err := entryOf(prev); err == nil && !isCurrent(e, p, cur) && !slices.ContainsFunc(candidates, func(x previousEntry) bool { return sameEntry(x, e) }) {
			candidates = append(candidates, e)
		}
	}
	var kept []previousEntry
	var errs []error
	for i, e := range candidates {
		if isCurrent(e, p, cur) || slices.ContainsFunc(candidates[:i], func(x previousEntry) bool { return sameEntry(x, e) }) {
			continue
		}
		if err := a.endOne(ctx, st, p, e, cur, force, []*Profile{e.In, prev, p}); err != nil {
			errs = append(errs, err)
			if !force || errors.As(err, new(*keptError)) {
				kept = append(kept, e)
			}
		}
	}
	if err := savePrevious(p.Name, kept); err != nil {
		errs = append(errs, fmt.Errorf("writing down the previous sign-ins of profile %s: %w", p.Name, err))
	}
	return errors.Join(errs...)
}

// keptError reports a previous sign-in whose record is still kept.
type keptError struct{ error }

func (e *keptError) Unwrap() error { return e.error }

// endOne ends the sign-in kept in the record of e (see endPrevious), in
// the store that holds it: st, profile p's, or e's own. cur is p's current
// record, which is never ended.
func (a *app) endOne(ctx context.Context, st store.Store, p *Profile, e previousEntry, cur store.Key, force bool, candidates []*Profile) error {
	k := e.Key
	u := a.ui
	who := describeSignIn(k) + otherStore(e, p)
	kept := func(why error) error {
		u.printf("%s The previous sign-in of profile %s at %s is still kept: %v.", u.yellow("!"), u.bold(k.Account), who, oneLine(why.Error()))
		u.printf("  authloop status lists it; the next login tries again to end it, and authloop logout --profile %s ends it with the current one.", k.Account)
		return &keptError{fmt.Errorf("the previous sign-in at %s is kept: %w", who, why)}
	}
	est, err := storeOf(e, p, st)
	if err != nil {
		return kept(fmt.Errorf("its store cannot be opened (%s)", tidy(errorText(err, k.Account))))
	}
	if _, err := est.Load(ctx, k); errors.Is(err, store.ErrNotFound) {
		return nil // nothing to end (logged out, or ended meanwhile): no server to ask
	}
	if k == cur && aliasOfCurrent(ctx, est, st, k) {
		return nil // the current record, under another name of its store
	}
	old := *candidates[len(candidates)-1]
	for _, c := range candidates {
		if c != nil && c.Issuer == k.Issuer && c.ClientID == k.ClientID && grantKeyOf(c) == k.Grant {
			old = *c
			break
		}
	}
	old.Issuer, old.ClientID, old.Resource = k.Issuer, k.ClientID, k.Resource
	if grantKeyOf(&old) != k.Grant && k.Grant == "" {
		old.clearGrant() // a person's sign-in, from before the profile ran a grant
	}
	cfg, err := configFor(&old, est, sessionOptions{})
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
		return kept(errors.New(tidy(errorText(err, k.Account))))
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
	here := " here"
	if otherStore(e, p) != "" {
		here = "" // who says where
	}
	switch {
	case err != nil:
		u.printf("%s Deleted the previous sign-in of profile %s at %s%s, but the server did not confirm the revocation: the grant may live on there.", u.yellow("!"), u.bold(k.Account), who, here)
		return fmt.Errorf("revoking the previous sign-in at %s failed: %w", who, err)
	case cfg.RevocationURL != "":
		u.printf("%s Ended the previous sign-in of profile %s at %s: the server revoked its grant, and its tokens are deleted.", u.green("✓"), u.bold(k.Account), who)
	default:
		u.printf("%s Deleted the previous sign-in of profile %s at %s (its server offers no revocation: the grant lives on there until it expires).", u.green("✓"), u.bold(k.Account), who)
	}
	return nil
}

// errorText is what a person reads of err: a *cliError's message and
// hint, a Redis store's failure explained, else the error itself.
func errorText(err error, profile string) string {
	var ce *cliError
	if errors.As(err, &ce) {
		if ce.hint != "" {
			return ce.Error() + " (" + ce.hint + ")"
		}
		return ce.Error()
	}
	if ce := explainRedis(err, profile); ce != nil {
		return ce.Error()
	}
	return err.Error()
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
