package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/oautherr"
)

func TestRelative(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{42 * time.Minute, "in 42 minutes"},
		{59*time.Minute + 59*time.Second, "in 1 hour"},
		{time.Minute, "in 1 minute"},
		{30 * time.Second, "in 30 seconds"},
		{-3 * time.Hour, "expired 3 hours ago"},
		{-1 * time.Second, "expired 1 second ago"},
		{300 * time.Millisecond, "in less than a second"},
		{72 * time.Hour, "in 3 days"},
		{47 * time.Hour, "in 47 hours"},
	} {
		if got := relative(now.Add(tc.d), now, "expired"); got != tc.want {
			t.Errorf("relative(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestSplitScopes(t *testing.T) {
	got := splitScopes([]string{"openid offline_access", "read,write", "openid"})
	if fmt.Sprint(got) != "[openid offline_access read write]" {
		t.Errorf("splitScopes = %v", got)
	}
}

func TestValidProfileName(t *testing.T) {
	for _, ok := range []string{"default", "work", "a.b_c-1"} {
		if err := validProfileName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".hidden", "-flag", "a/b", "../x", "a b", string(make([]byte, 65))} {
		if validProfileName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{&authloop.LoginRequiredError{Reason: "no refresh token"}, exitLoginRequired},
		{fmt.Errorf("x: %w", errNoProfile), exitLoginRequired},
		{authloop.ErrDeviceCodeExpired, exitLoginRequired},
		{&authloop.TokenResponseError{StatusCode: 503}, exitUnreachable},
		{&authloop.TokenResponseError{StatusCode: 200}, exitFailure},
		{&oautherr.Error{Code: "temporarily_unavailable"}, exitUnreachable},
		{&oautherr.Error{Code: "invalid_client", StatusCode: 401}, exitFailure},
		{errors.New("boom"), exitFailure},
		{usageError("bad"), exitUsage},
		{&authloop.RetryLaterError{Until: time.Now().Add(time.Minute)}, exitUnreachable},
		{&authloop.RetryLaterError{Until: time.Now().Add(time.Minute), Err: &authloop.TokenResponseError{StatusCode: 429}}, exitUnreachable},
		{fmt.Errorf("x: %w", &authloop.SaveError{Store: "file store", Err: errors.New("disk full")}), exitFailure},
	} {
		var ce *cliError
		if !errors.As(classify(tc.err, "p"), &ce) || ce.code != tc.code {
			t.Errorf("classify(%v) = %v, want code %d", tc.err, ce, tc.code)
		}
	}
	if se := classify(&authloop.SaveError{Store: "file store", Err: errors.New("disk full")}, "work").(*cliError); !strings.Contains(se.hint, "run: authloop login --profile work") {
		t.Errorf("a failed save's hint does not say how to sign in again: %q", se.hint)
	}
	ce := classify(&authloop.LoginRequiredError{Reason: "the refresh token was refused"}, "work").(*cliError)
	if ce.Error() != "login required for profile work: the refresh token was refused" || ce.hint != "run: authloop login --profile work" || !errors.Is(ce, authloop.ErrLoginRequired) {
		t.Errorf("login required: %q, hint %q", ce.Error(), ce.hint)
	}
}

// Text from a server reaches the terminal without characters that hide or
// reorder what the person reads.
func TestSanitizeDropsInvisibleCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"ok\x1b[31mred":              "ok[31mred",
		"\u202emoc.live":             "moc.live",
		"a\u200bb\u2066c\u2069d":     "abcd",
		"line\u2028next\u2029para":   "linenextpara",
		"caf\u00e9 \u65e5\u672c OK!": "caf\u00e9 \u65e5\u672c OK!",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}
