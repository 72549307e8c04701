#!/bin/sh
# Runs dsguard under valgrind for the end-to-end tests (make valgrind):
# memcheck with full leak checking; any error makes dsguard exit 99, which
# the tests see as a wrong exit status, and leaves a report in
# $VALGRIND_LOGS for the final check.
exec valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --track-fds=no \
	--log-file="${VALGRIND_LOGS:?}/dsguard.%p.log" "${VALGRIND_BIN:?}" "$@"
