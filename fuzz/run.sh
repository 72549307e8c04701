#!/bin/sh
# Runs libFuzzer harnesses, each for SECONDS seconds, over its seed corpus
# (rebuilt by fuzz/seeds.py) and its working corpus (kept in
# BUILD/corpus/NAME between runs). Fails when any harness finds a crash, a
# leak, a timeout or a broken assertion; the input that did it is left in
# BUILD/artifacts/NAME/ and named on the way out.
# Usage: sh fuzz/run.sh BUILD SECONDS NAME...
# Environment: PYTHON, FUZZ_ARGS (more libFuzzer flags).
set -u
cd "$(dirname "$0")/.."
build=$1 seconds=$2
shift 2
: "${PYTHON:=python3}"
"$PYTHON" fuzz/seeds.py "$build/seeds" || exit 1
failed=0
for name in "$@"; do
	bin=$build/fuzz/fuzz_$name
	seeds=$build/seeds/$name corpus=$build/corpus/$name artifacts=$build/artifacts/$name
	log=$build/fuzz-$name.log
	dict=fuzz/yaml.dict
	case $name in admission|watch) dict=fuzz/json.dict ;; secret) dict=fuzz/pem.dict ;; esac
	mkdir -p "$seeds" "$corpus" "$artifacts"
	"$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
		-dict="$dict" -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} \
		"$corpus" "$seeds" >"$log" 2>&1
	rc=$?
	stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		echo "fuzz $name: ${seconds}s, no crash: $stats"
	else
		failed=1
		echo "fuzz $name: FAILED (exit $rc); the last lines of $log:"
		tail -n 40 "$log"
		ls "$artifacts" | sed "s|^|  input: $artifacts/|"
	fi
done
exit $failed
