// The key a sign-in proved, kept across the re-read of the record that
// its save starts with.

package authloop

import "github.com/authloop/authloop/dpop"

// dpopKeyState is the key a session proves with, as pinned and restored.
type dpopKeyState struct {
	key *dpop.Key
	der []byte
}

// pinned returns the key the session proves with now.
func (d *dpopClient) pinned() dpopKeyState {
	if d == nil {
		return dpopKeyState{}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return dpopKeyState{d.key, d.der}
}

// restore makes k, pinned before a read of the record, the key again: the
// tokens a sign-in got are bound to the key it proved, whatever key a
// record written meanwhile by another process holds, and that key goes
// into the record with them. Nothing changes when the sign-in proved no
// key, or the key is the program's own.
func (d *dpopClient) restore(k dpopKeyState) {
	if d == nil || k.key == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.given {
		d.key, d.der = k.key, k.der
	}
}
