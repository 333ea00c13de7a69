package main

import (
	"slices"

	"github.com/authloop/authloop/store"
)

// notePrevious writes prev's record (the profile's sign-in before this
// login) into the profile's list of previous sign-ins when the login
// switched to another record (cur), before the profile is saved to name
// cur. A login killed or stopped between saving the profile and ending
// the previous sign-in (endPrevious) then leaves it listed, for status,
// the next login and logout, not behind unknown. endPrevious takes it off
// the list once it is ended. Best effort: a failure only loses the
// safety net.
func notePrevious(prev *Profile, cur store.Key) {
	if prev == nil {
		return
	}
	k, err := recordKeyOf(prev)
	if err != nil || k == cur {
		return
	}
	keys := loadPrevious(prev.Name)
	if slices.Contains(keys, k) {
		return
	}
	_ = savePrevious(prev.Name, append(keys, k))
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
