#!/bin/sh
# `make mutation-selftest`: checks that `make mutation` fails where it must
# and passes where it may, in a scratch module (a temporary git repository
# holding a copy of the Makefile and .ci/, and a package p).
#
# Most cases run a fake gremlins (GREMLINS=<script>) that prints a chosen
# output and exits with a chosen status, so they need only go and git and
# take seconds. The cases marked "real" run gremlins itself on tiny
# packages, when one is found ($GREMLINS_REAL, else gremlins in PATH or
# in $(go env GOPATH)/bin); without one the self-test fails (`make
# mutation-selftest` installs one, so CI always runs them).
#
# Exit status 1 when any case went the wrong way; each such case is
# printed with the target's output.
set -u
GO=${GO:-go}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
repo=$tmp/repo
mkdir -p "$repo/p" "$repo/.ci"
cp "$top/Makefile" "$repo/"
cp "$top"/.ci/* "$repo/.ci/"
printf 'module example.com/selftest\n\ngo 1.26\n' >"$repo/go.mod"
cat >"$repo/p/p.go" <<'EOF'
package p

// A says whether n is 7.
func A(n int) bool {
	return false
}

// B says whether n is over 5.
func B(n int) bool { return false }
EOF
cat >"$repo/p/p_test.go" <<'EOF'
package p

import "testing"

func TestAB(t *testing.T) {
	if !A(7) || A(6) || !B(9) || B(1) {
		t.Fatal("wrong")
	}
}
EOF
git() { command git -C "$repo" -c user.name=selftest -c user.email=selftest@invalid "$@"; }
git init -q && git add -A && git commit -q -m base || exit 1

cat >"$tmp/gremlins" <<'EOF'
#!/bin/sh
# A fake gremlins: prints the file $FAKE_OUT and exits with $FAKE_RC.
cat "$FAKE_OUT"
exit "${FAKE_RC:-0}"
EOF
chmod +x "$tmp/gremlins"

failed=0
# expect pass|fail NAME [make arguments...]: runs `make mutation` in the
# scratch module (GREMLINS is the fake unless the arguments say otherwise).
expect() {
	want=$1 name=$2
	shift 2
	(cd "$repo" && make -s mutation GO="$GO" GREMLINS="$tmp/gremlins" PKGS=./p "$@") >"$tmp/log" 2>&1
	rc=$?
	if { [ "$want" = pass ] && [ $rc -eq 0 ]; } || { [ "$want" = fail ] && [ $rc -ne 0 ]; }; then
		echo "ok   $name: ${want}ed"
		[ -z "${VERBOSE:-}" ] || sed "s/^/     | /" "$tmp/log"
	else
		echo "FAIL $name: must $want, make exited $rc; its output:"
		sed 's/^/     | /' "$tmp/log"
		failed=1
	fi
}
# summary K L NC TO NV EFF COV: gremlins v0.6.0's summary, into $FAKE_OUT.
summary() {
	printf 'Starting...\nGathering coverage... done in 1s\n\nMutation testing completed in 1 minute\n' >"$FAKE_OUT"
	printf 'Killed: %s, Lived: %s, Not covered: %s\nTimed out: %s, Not viable: %s, Skipped: 0\n' "$1" "$2" "$3" "$4" "$5" >>"$FAKE_OUT"
	printf 'Test efficacy: %s%%\nMutator coverage: %s%%\n' "$6" "$7" >>"$FAKE_OUT"
}
export FAKE_OUT="$tmp/out" FAKE_RC=0

summary 95 5 0 0 0 95.00 100.00
expect pass "efficacy 95%, coverage 100%"
expect pass "the same, PKGS with a trailing slash" PKGS=./p/
expect fail "a package path that does not exist" PKGS=./nope
expect fail "PKGS empty: no package tested" PKGS=
FAKE_RC=1 expect fail "gremlins exits 1 after its summary"
summary 89 11 0 0 0 89.00 100.00
expect fail "efficacy 89%"
summary 90 10 13 0 0 90.00 88.50
expect fail "mutant coverage 88.50%"
summary 90 10 10 0 0 90.00 90.91
expect pass "efficacy 90% exactly, coverage 90.91%"
: >"$FAKE_OUT"
expect fail "gremlins prints nothing"
printf 'Starting...\nGathering coverage... done in 1s\n\nNo results to report.\n' >"$FAKE_OUT"
expect fail "no mutant at all in the package (No results to report)"
printf 'Test efficacy: NaN%%\nMutator coverage: NaN%%\n' >"$FAKE_OUT"
expect fail "figures NaN%, no counts"
summary 0 0 0 104 0 0.00 0.00
expect fail "every mutant TIMED OUT (register with the default timeout)"
summary 0 0 0 0 12 0.00 0.00
expect fail "every mutant NOT VIABLE"
summary 10 0 0 300 0 100.00 100.00
expect fail "10 killed, 300 TIMED OUT"
summary 0 0 0 0 0 0.00 0.00
expect pass "no mutant in the changed lines (all skipped)"
summary 95 5 0 25 0 95.00 100.00
expect pass "a few TIMED OUT (20%)"
summary 35999 4001 0 0 0 90.00 100.00
expect fail "efficacy 89.9975%, which gremlins prints as 90.00%"
printf 'Killed: 95, Lived: 5, Not covered: 0\nTest efficacy: 95.00%%\nMutator coverage: 100.00%%\n' >"$FAKE_OUT"
expect fail "a summary without its Timed out line"
summary 95 5 0 0 0 95.00 100.00
expect pass "DIFF=HEAD, nothing changed: skipped" DIFF=HEAD
printf 'package p\n\n// C says whether n is over 5.\nfunc C(n int) bool { return n > 5 }\n' >"$repo/p/new.go"
expect fail "DIFF=HEAD with a new Go file git does not track yet" DIFF=HEAD
git add -N p/new.go
expect pass "the same file after git add -N: tested" DIFF=HEAD
git rm -q --cached p/new.go && rm "$repo/p/new.go"
expect fail "DIFF names no revision" DIFF=no-such-rev
orphan=$(echo orphan | git commit-tree "$(git write-tree)")
expect fail "DIFF shares no history with HEAD (no merge base)" DIFF="$orphan"

# The real gremlins, on tiny packages.
real=${GREMLINS_REAL:-$(command -v gremlins || echo "$($GO env GOPATH)/bin/gremlins")}
if [ -x "$real" ]; then
	mkdir -p "$repo/fails"
	printf 'package fails\n\n// Big says whether n is over 10.\nfunc Big(n int) bool { return n > 10 }\n' >"$repo/fails/f.go"
	printf 'package fails\n\nimport "testing"\n\nfunc TestBig(t *testing.T) {\n\tif Big(11) {\n\t\tt.Fatal("fails before any mutant")\n\t}\n}\n' >"$repo/fails/f_test.go"
	expect fail "real: the package's tests fail before any mutant" GREMLINS="$real" PKGS=./fails
	rm -r "$repo/fails"
	mkdir -p "$repo/hangs"
	printf 'package hangs\n\n// Next returns i+1.\nfunc Next(i int) int {\n\ti++\n\treturn i\n}\n' >"$repo/hangs/h.go"
	printf 'package hangs\n\nimport "testing"\n\nfunc TestNextCountsUp(t *testing.T) {\n\tfor x := 0; x != 10; x = Next(x) {\n\t}\n}\n' >"$repo/hangs/h_test.go"
	expect fail "real: the package's only mutant hangs (TIMED OUT)" GREMLINS="$real" PKGS=./hangs \
		MUTATION_FLAGS="--workers 1 --timeout-coefficient 3 --exclude-files /"
	rm -r "$repo/hangs"
	# Two changes in one hunk of git diff (lines 5 and 9, three lines of
	# context between them): gremlins v0.6.0 takes a hunk's added lines as
	# one run from its first, so with git's default context it tests line 5
	# and 6 and skips line 9, whose boundary mutant (n >= 5) lives.
	sed -i 's/^\treturn false$/\treturn n == 7/; s/{ return false }/{ return n > 5 }/' "$repo/p/p.go"
	expect fail "real: DIFF with two changed lines in one hunk, the second's mutant lives" GREMLINS="$real" DIFF=HEAD \
		MUTATION_FLAGS="--workers 1 --timeout-coefficient 10 --exclude-files /"
	git checkout -q p/p.go
else
	echo "FAIL: no gremlins to run the real cases with: $real (make mutation-selftest installs one)"
	failed=1
fi

exit $failed
