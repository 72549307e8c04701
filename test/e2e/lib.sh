# TAP helpers for the end-to-end tests written in shell. Source it.
# DSGUARD_BIN is the binary under test.
: "${DSGUARD_BIN:?DSGUARD_BIN must name the dsguard binary}"
tap_n=0
tap_failed=0
# ok NAME COMMAND...: one passing test when the command succeeds.
ok() {
	name=$1; shift
	tap_n=$((tap_n + 1))
	if "$@"; then echo "ok $tap_n - $name"
	else echo "not ok $tap_n - $name"; tap_failed=$((tap_failed + 1)); fi
}
# tap_done: the exit status of the script.
tap_done() { [ "$tap_failed" -eq 0 ]; }
# skip NAME REASON: one skipped test.
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP $2"; }
