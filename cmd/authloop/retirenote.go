package main

import (
	"context"
	"slices"

	"github.com/authloop/authloop/store"
)

// notePrevious writes prev's record (the profile's sign-in before this
// login) into the profile's list of previous sign-ins when the login
// switched to another record (cur in the store of p, the profile as this
// login saves it: another key, or another store), before the profile is
// saved to name cur. A login killed or stopped between saving the profile
// and ending the previous sign-in (endPrevious) then leaves it listed, for
// status, the next login and logout, not behind unknown. endPrevious takes
// it off the list once it is ended. Best effort: a failure only loses the
// safety net.
func notePrevious(prev, p *Profile, cur store.Key) {
	if prev == nil {
		return
	}
	e, err := entryOf(prev)
	if err != nil || isCurrent(e, p, cur) {
		return
	}
	// Entries of a list written before issue 16 are in prev's store:
	// say so before the profile names another.
	entries := ownedBy(loadPrevious(prev.Name), prev)
	if slices.ContainsFunc(entries, func(x previousEntry) bool { return sameEntry(x, e) }) {
		_ = savePrevious(prev.Name, entries)
		return
	}
	_ = savePrevious(prev.Name, append(entries, e))
}

// savedNow is profile name as saved now, or nil: another login of it that
// ran meanwhile may have switched it since this one read it, and the
// sign-in that login made is then a previous one too.
func savedNow(name string) *Profile {
	p, err := loadProfile(name)
	if err != nil {
		return nil
	}
	return p
}

// endKeptBeforeLogin ends the kept previous sign-in of profile p whose
// record this login is about to write (a switch back to an issuer whose
// server could not be reached at the switch away, in the same store): the
// new tokens replace the old ones in that record, and no later command
// could revoke the old grant. It is ended as endPrevious ends one, and
// taken off the list; one that cannot be ended is said so, and the login
// goes on.
func (a *app) endKeptBeforeLogin(ctx context.Context, st store.Store, p, prev *Profile) {
	k, err := recordKeyOf(p)
	if err != nil {
		return
	}
	owner := p
	if prev != nil {
		owner = prev
	}
	entries := ownedBy(loadPrevious(p.Name), owner)
	i := slices.IndexFunc(entries, func(e previousEntry) bool { return isCurrent(e, p, k) })
	if i < 0 {
		return
	}
	if a.endOne(ctx, st, p, entries[i], store.Key{}, false, []*Profile{entries[i].In, prev, p}) == nil {
		_ = savePrevious(p.Name, slices.DeleteFunc(entries, func(x previousEntry) bool { return isCurrent(x, p, k) }))
	}
}
