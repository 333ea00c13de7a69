package urlrule

import (
	"strings"
	"testing"
)

func TestFingerprint(t *testing.T) {
	if got := Fingerprint(""); got != "none" {
		t.Errorf("Fingerprint(\"\") = %q, want none", got)
	}
	// The form must not drift: fingerprints are matched across processes
	// and versions in logs (echo -n token-a | sha256sum).
	if got, want := Fingerprint("token-a"), "sha256:a70bf50e"; got != want {
		t.Errorf("Fingerprint(token-a) = %q, want %q", got, want)
	}
	a, b := Fingerprint("token-a"), Fingerprint("token-b")
	if a == b || !strings.HasPrefix(a, "sha256:") || len(a) != len("sha256:")+8 || strings.Contains(a, "token") {
		t.Fatalf("bad fingerprints %q %q", a, b)
	}
}
