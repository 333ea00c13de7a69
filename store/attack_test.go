package store_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/authloop/authloop/store"
)

// The security suite's attacks on the file store (docs/SECURITY.md).

// Another user who can write the record file's name swaps it for a
// symbolic link to a record of their own (their tokens: the victim's
// program would then act as the attacker's account), or to a file of the
// victim's that a save would overwrite. Neither read nor write goes through
// the link.
func TestAttackSymlinkedRecordFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no symbolic links")
	}
	s := newFile(t)
	path := recordPath(s, helperKey)

	// The attacker's record, a valid file of the right key.
	planted := sampleRecord(helperKey)
	planted.Token.AccessToken = "attacker-access-token"
	other := newFile(t)
	if _, err := other.Save(bg, planted); err != nil {
		t.Fatal(err)
	}
	must(t, os.Symlink(recordPath(other, helperKey), path))
	if rec, err := s.Load(bg, helperKey); err == nil {
		t.Fatalf("Load followed the link and returned %s", rec)
	} else if !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Load: %v", err)
	}

	// A link to a file the victim owns: a save must not write through it.
	victim := filepath.Join(t.TempDir(), "precious")
	must(t, os.WriteFile(victim, []byte("precious data\n"), 0o600))
	must(t, os.Remove(path))
	must(t, os.Symlink(victim, path))
	if _, err := s.Save(bg, sampleRecord(helperKey)); err == nil {
		t.Fatal("Save wrote through a symbolic link")
	}
	if data, err := os.ReadFile(victim); err != nil || string(data) != "precious data\n" {
		t.Fatalf("the link's target changed: %q, %v", data, err)
	}
	if err := s.Delete(bg, helperKey); err == nil {
		t.Error("Delete removed a symbolic link's record")
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("the link's target is gone: %v", err)
	}
}

// Loose modes: a directory others may enter and a record file others may
// read are refused, whichever bits are set; tokens are never read from
// them, and the error names the fix.
func TestAttackLoosePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	for _, m := range []os.FileMode{0o710, 0o701, 0o750, 0o705, 0o770, 0o777} {
		dir := filepath.Join(t.TempDir(), "authloop")
		must(t, os.Mkdir(dir, 0o700))
		must(t, os.Chmod(dir, m))
		if _, err := store.NewFile(dir); err == nil || !strings.Contains(err.Error(), "chmod 700") {
			t.Errorf("directory mode %04o: %v", m, err)
		}
	}
	for _, m := range []os.FileMode{0o640, 0o604, 0o620, 0o602, 0o660, 0o666, 0o610, 0o601} {
		s := newFile(t)
		if _, err := s.Save(bg, sampleRecord(helperKey)); err != nil {
			t.Fatal(err)
		}
		must(t, os.Chmod(recordPath(s, helperKey), m))
		rec, err := s.Load(bg, helperKey)
		if err == nil || rec != nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("record file mode %04o: %v, %v", m, rec, err)
		}
	}
	// A save under a permissive umask still writes 0600 in 0700.
	old := setUmask(0)
	defer setUmask(old)
	dir := filepath.Join(t.TempDir(), "fresh", "authloop")
	s, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir).Perm(); m != 0o700 {
		t.Errorf("directory created %04o under umask 0", m)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if m := mode(t, filepath.Join(dir, e.Name())).Perm(); m != 0o600 {
			t.Errorf("%s created %04o under umask 0", e.Name(), m)
		}
	}
}

// A store directory owned by another user (a privileged program run with
// an ordinary user's $HOME or $XDG_CONFIG_HOME, or a directory prepared by
// someone else) is refused: its owner could read the tokens, or swap the
// files for links, whatever the mode says. Needs root to hand the directory
// to another uid.
func TestAttackDirOwnedByAnotherUser(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix ownership")
	}
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	const otherUID = 4242
	dir := filepath.Join(t.TempDir(), "authloop")
	must(t, os.Mkdir(dir, 0o700))
	must(t, os.Chown(dir, otherUID, otherUID))
	_, err := store.NewFile(dir)
	if err == nil {
		t.Fatal("NewFile accepted a directory owned by another user")
	}
	for _, want := range []string{dir, "owned by", "4242", "chown"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	// Through a symbolic link to it, too.
	link := filepath.Join(t.TempDir(), "link")
	must(t, os.Symlink(dir, link))
	if _, err := store.NewFile(link); err == nil {
		t.Error("NewFile accepted a link to a directory owned by another user")
	}
	// The fix the error names works.
	must(t, os.Chown(dir, os.Geteuid(), os.Getegid()))
	if _, err := store.NewFile(dir); err != nil {
		t.Errorf("after chown: %v", err)
	}
}

// The record file holds the secrets as JSON only inside the 0600 file: the
// directory's other files (locks) carry none.
func TestAttackLockFilesHoldNoSecrets(t *testing.T) {
	s := newFile(t)
	if _, err := s.Save(bg, sampleRecord(helperKey)); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(bg, helperKey, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	must(t, unlock())
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(s.Dir(), e.Name()))
		must(t, err)
		if strings.HasSuffix(e.Name(), ".json") {
			var v map[string]any
			if json.Unmarshal(data, &v) != nil {
				t.Errorf("%s is not JSON", e.Name())
			}
			continue
		}
		if bytes.Contains(data, []byte("secret-")) {
			t.Errorf("%s holds a secret", e.Name())
		}
	}
}
