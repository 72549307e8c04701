# The end-to-end lint of the real-world corpus under valgrind: no leak, no
# invalid access.
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${DSGUARD_SHARED:-$(dirname "$root")/shared}
if [ ! -d "$shared/corpus/realworld" ]; then
	if [ "${DSGUARD_REQUIRE_SHARED:-}" = 1 ]; then
		echo "not ok 1 - valgrind lint of the corpus: shared data missing at $shared"; exit 1
	fi
	echo "ok 1 - valgrind lint of the corpus # SKIP shared data not found at $shared"; exit 0
fi
if [ "${DSGUARD_SANITIZE:-}" = 1 ]; then
	echo "ok 1 - valgrind lint of the corpus # SKIP the sanitizer build runs instead of valgrind"; exit 0
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
clean_under_valgrind() {
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
		--error-exitcode=99 "$DSGUARD_BIN" lint --format json "$shared/corpus/realworld" >/dev/null 2>"$log"
	rc=$?
	[ $rc -ne 99 ] && [ $rc -le 2 ] && [ ! -s "$log" ] || { cat "$log"; return 1; }
}
ok "valgrind: lint of the corpus has no leak and no invalid access" clean_under_valgrind
tap_done
