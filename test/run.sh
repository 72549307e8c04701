#!/bin/sh
# Runs every unit test binary and end-to-end script; each speaks TAP
# ("ok N - name", "not ok N - name", "# SKIP"). Ends with one line:
# "N passed, M failed" (", K skipped" when some were skipped).
# Environment: BUILD (build dir), DSGUARD_BIN (binary under test),
# TEST_FILTER (run only tests whose file name contains it).
set -u
cd "$(dirname "$0")/.."
: "${BUILD:=build}"
: "${DSGUARD_BIN:=$PWD/$BUILD/dsguard}"
: "${PYTHON:=/usr/bin/python3}"
export DSGUARD_BIN PYTHON
export CMOCKA_MESSAGE_OUTPUT=TAP
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_one() { # name command...
	name=$1; shift
	case "$name" in *"${TEST_FILTER:-}"*) ;; *) return ;; esac
	echo "# $name"
	out=$(mktemp)
	"$@" >"$out" 2>&1
	rc=$?
	cat "$out"
	if ! grep -Eq '^(not )?ok ' "$out"; then
		echo "not ok - $name: produced no test result (exit $rc)"
		echo "not ok - $name" >>"$log"
	elif [ $rc -ne 0 ] && ! grep '^not ok ' "$out" | grep -vq '# SKIP'; then
		echo "not ok - $name: exited $rc after passing tests"
		echo "not ok - $name" >>"$log"
	fi
	grep -E '^(not )?ok ' "$out" >>"$log"
	rm -f "$out"
}

for t in "$BUILD"/test/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *.d|*.o) continue ;; esac
	run_one "$(basename "$t")" "$t"
done
for t in test/e2e/test_*.sh; do
	[ -f "$t" ] && run_one "$(basename "$t")" sh "$t"
done
for t in test/e2e/test_*.py; do
	[ -f "$t" ] && run_one "$(basename "$t")" "$PYTHON" "$t"
done

# cmocka writes a skipped test as "not ok N # SKIP": a skip either way.
skipped=$(grep -c '# SKIP' "$log")
failed=$(grep '^not ok ' "$log" | grep -vc '# SKIP')
passed=$(grep '^ok ' "$log" | grep -vc '# SKIP')
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
