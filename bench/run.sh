#!/bin/sh
# make bench: the webhook benchmark (bench/webhook.py: dsguard serve against
# nginx), what namespace claims cost (bench/claims.py), then the linter
# benchmark (bench/lint.sh), then with SOAK=1 the soak (bench/soak.sh). Markdown tables on standard output, progress on
# standard error; everything is made in temporary directories.
# Env: DSGUARD_BIN, CORPUS, RUNS, SECONDS, CONNECTIONS, CLAIM_SECONDS, SOAK (see the scripts).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-/usr/bin/python3}
export DSGUARD_BIN="${DSGUARD_BIN:-$root/dsguard}"
export CORPUS="${CORPUS:-$(dirname "$root")/shared/corpus/realworld}"
export PYTHON="$python"
[ -d "$CORPUS" ] || { echo "bench: no corpus at $CORPUS (set CORPUS)" >&2; exit 2; }

echo "## dsguard benchmarks"
echo
echo "Machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), \
$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, $(uname -sr). \
dsguard $("$DSGUARD_BIN" version 2>/dev/null | head -1 | awk '{ print $NF }'), \
$(nginx -v 2>&1 | sed 's/.*: //'), $(openssl version | cut -d' ' -f1-2). \
The load generator runs on the same cores as the server."
echo
"$python" "$root/bench/webhook.py"
echo
"$python" "$root/bench/audit.py"
"$python" "$root/bench/claims.py"
echo
echo "### Linter: dsguard lint --format json against cat and the libyaml parse floor"
echo
RUNS=${LINT_RUNS:-3} sh "$root/bench/lint.sh"
if [ "${SOAK:-0}" = 1 ]; then
	echo
	sh "$root/bench/soak.sh"
fi
