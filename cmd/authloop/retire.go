package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/store"
)

// Issue 13 item 7: a profile switched to another issuer, client or
// resource (a login with other --issuer, --client-id or --resource) names
// a new record; the old one, with its live refresh token, must not be left
// behind. Every record of the profile's account other than the current
// one is a previous sign-in: the login that succeeds ends it (revoked at
// the server where it offers revocation, then deleted); where its server
// cannot be reached, it is kept, status lists it, the next login tries
// again, and logout ends it with the current one.

// previousSignIns returns the keys of the records of profile name in st
// other than cur. Records that cannot be read are skipped (status and the
// corrupt-record handling speak of those).
func previousSignIns(ctx context.Context, st store.Store, name string, cur store.Key) []store.Key {
	keys, _ := st.List(ctx)
	var out []store.Key
	for _, k := range keys {
		if k.Account == name && k != cur {
			out = append(out, k)
		}
	}
	return out
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
// record is cur: for each, it revokes the grant where the server offers
// revocation and deletes the record. A previous sign-in whose server
// cannot be reached is kept (login: the next login tries again) unless
// force (logout: it is deleted anyway, and the error says that the grant
// may live on). candidates are profiles whose client settings (the
// secret) may be those of the old client: the one before the login, then
// p. It returns an error when a previous sign-in was not ended whole.
func (a *app) endPrevious(ctx context.Context, p *Profile, cur store.Key, force bool, candidates ...*Profile) error {
	st, _, err := openStore(p.Store)
	if err != nil {
		return err
	}
	var errs []error
	for _, k := range previousSignIns(ctx, st, p.Name, cur) {
		if err := a.endOne(ctx, st, k, force, append(candidates, p)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// endOne ends the sign-in kept in the record of k (see endPrevious).
func (a *app) endOne(ctx context.Context, st store.Store, k store.Key, force bool, candidates []*Profile) error {
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
	mdCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	md, err := discovery.AuthServer(mdCtx, http.DefaultClient, k.Issuer)
	cancel()
	switch {
	case err == nil:
		cfg.RevocationURL = md.RevocationEndpoint
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
