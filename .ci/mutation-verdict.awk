# `make mutation`'s verdict on one package, from gremlins v0.6.0's output:
#   awk -v e=MIN_EFFICACY -v c=MIN_MCOVER -v t=MAX_TIMEDOUT -v none=TEXT \
#       -f .ci/mutation-verdict.awk LOG
# Exits 0 when the package meets the thresholds (percentages), else 1 after
# printing why. The figures are computed from the summary's counts
#   Killed: K, Lived: L, Not covered: NC
#   Timed out: TO, Not viable: NV, Skipped: S
# not read from its "Test efficacy" and "Mutator coverage" lines, which are
# rounded to two decimals (89.9975% prints as 90.00%):
#   efficacy        = K / (K + L)
#   mutant coverage = (K + L) / (K + L + NC)
# and at most t percent of the mutants run (K + L + TO) may be TIMED OUT:
# a timed-out mutant is in neither figure, so a run whose mutants mostly time
# out (gremlins' default timeout on this machine kind: 0 killed, 104 timed
# out) would otherwise show figures of a few mutants, or none at all.
# A run with no mutant at all in its scope (every one SKIPPED, outside
# --diff's lines) passes, printing "(" none ")".
{ gsub(/\033\[[0-9;]*m/, "") } # colours, should gremlins print any
/^Killed: [0-9]+, Lived: [0-9]+, Not covered: [0-9]+$/ {
	gsub(/,/, ""); k = $2 + 0; l = $4 + 0; nc = $7 + 0; counts++
}
/^Timed out: [0-9]+, Not viable: [0-9]+, Skipped: [0-9]+$/ {
	gsub(/,/, ""); to = $3 + 0; nv = $6 + 0; others++
}
END {
	if (counts != 1 || others != 1) {
		print "mutation: no summary (Killed/Lived/Not covered, Timed out/Not viable/Skipped) in gremlins' output"
		exit 1
	}
	if (k + l + nc + to + nv == 0) { print "(" none ")"; exit 0 }
	if (k + l == 0) {
		printf "mutation: no mutant got a verdict (%d timed out, %d not viable, %d not covered)\n", to, nv, nc
		exit 1
	}
	ok = 1
	eff = 100 * k / (k + l)
	cov = 100 * (k + l) / (k + l + nc)
	tim = 100 * to / (k + l + to)
	if (eff < e) { printf "mutation: efficacy %.3f%% (%d killed, %d lived) is below %s%%\n", eff, k, l, e; ok = 0 }
	if (cov < c) { printf "mutation: mutant coverage %.3f%% (%d not covered) is below %s%%\n", cov, nc, c; ok = 0 }
	if (tim > t) {
		printf "mutation: %d of the %d mutants run TIMED OUT (%.3f%%, more than %s%%): in neither figure; look at them (MUTATION_MAX_TIMEDOUT)\n", to, k + l + to, tim, t
		ok = 0
	}
	exit !ok
}
