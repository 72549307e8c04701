#!/bin/sh
# Linter benchmark: dsguard lint --format json against two floors measured
# in the same run, over trees made from the real-world corpus:
#   cat          - the I/O floor (read every byte)
#   yaml_floor   - libyaml's event parser alone (the floor of any YAML linter)
# Prints a Markdown table: median wall and CPU time of RUNS runs, peak RSS;
# then, over the largest tree, each output format with one thread: peak
# RSS and median CPU time of FORMAT_RUNS runs.
# Usage: bench/lint.sh   (env: DSGUARD_BIN, YAML_FLOOR, CORPUS, RUNS, SIZES_MB,
#                         FORMATS, FORMAT_RUNS; FILES_ROW=0 leaves out the 20k-files row)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${DSGUARD_BIN:-$root/dsguard}
floor=${YAML_FLOOR:-$root/build/bench/yaml_floor}
corpus=${CORPUS:-$(dirname "$root")/shared/corpus/realworld}
runs=${RUNS:-5}
sizes=${SIZES_MB:-"10 100 1000"}
format_runs=${FORMAT_RUNS:-1}
formats=${FORMATS:-"json sarif junit github text"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# measure NAME COMMAND...: median wall seconds, peak RSS (KiB) and median
# CPU seconds (user + system) of RUNS runs, the output written to OUT
# (default /dev/null). CPU time is the steadier figure where other work
# shares the machine.
measure() {
	name=$1; shift
	for i in $(seq "$runs"); do
		/usr/bin/time -q -f "%e %M %U %S" -o "$work/t" "$@" >"${OUT:-/dev/null}" 2>/dev/null || [ $? -le 2 ]
		cat "$work/t"
	done | awk -v n="$runs" -v name="$name" '
		{ t[NR] = $1; c[NR] = $3 + $4; if ($2 > rss) rss = $2 }
		function med(a,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
			return a[int((n + 1) / 2)] }
		END { printf "%s %s %d %s\n", name, med(t), rss, med(c) }'
}

row() { # label tree files
	label=$1 tree=$2
	find "$tree" -type f | sort >"$work/list"
	files=$(wc -l <"$work/list")
	mb=$(du -sm "$tree" | cut -f1)
	cat_r=$(measure cat sh -c "find '$tree' -type f -print0 | xargs -0 cat")
	yaml_r=$(measure yaml sh -c "'$floor' <'$work/list'")
	one=$(measure j1 "$bin" lint --format json --jobs 1 "$tree")
	two=$(measure j2 "$bin" lint --format json --jobs 2 "$tree")
	# fields: 1 label 2 files 3 MB, then name wall rss cpu for cat (4-7),
	# yaml (8-11), j1 (12-15), j2 (16-19)
	echo "$label $files $mb $cat_r $yaml_r $one $two" | awk '{
		printf "| %s | %d | %d | %.2f s | %.2f s (cpu %.2f s) | %.2f s (cpu %.2f s), %.1f MB | %.2f s, %.1f MB | %.2fx (cpu %.2fx) | %.2fx | %.2fx |\n",
			$1, $2, $3, $5, $9, $11, $13, $15, $14 / 1024, $17, $18 / 1024, $13 / $9, $15 / $11, $13 / $5, $13 / $17 }'
}

echo "| tree | files | MB | cat | libyaml parse | dsguard -j1 (time, peak RSS) | dsguard -j2 (time, peak RSS) | j1 / libyaml | j1 / cat | speed-up j1 -> j2 |"
echo "|---|---|---|---|---|---|---|---|---|---|"
[ "${FILES_ROW:-1}" = 0 ] || { "$root/bench/gen-tree.sh" "$corpus" "$work/files" 1 20000 >/dev/null
row "20k-files" "$work/files"; }
rm -rf "$work/files"
last=${sizes##* }
for size in $sizes; do
	"$root/bench/gen-tree.sh" "$corpus" "$work/t$size" "$size" >/dev/null
	row "${size}MB" "$work/t$size"
	[ "$size" = "$last" ] || rm -rf "$work/t$size"
done

# Every output format over the largest tree, one thread: the report is
# written as it goes in each, so peak RSS should not depend on the format.
echo
echo "Each output format over the ${last} MB tree, \`--jobs 1\`, $format_runs run(s) each:"
echo
echo "| format | output | CPU time (median) | peak RSS |"
echo "|---|---|---|---|"
runs=$format_runs
for f in $formats; do
	r=$(OUT="$work/out" measure "$f" "$bin" lint --format "$f" --jobs 1 "$work/t$last")
	echo "$r $(wc -c <"$work/out")" | awk '{ printf "| %s | %.1f MB | %.2f s | %.1f MB |\n", $1, $5 / 1e6, $4, $3 / 1024 }'
done
rm -rf "$work/t$last"
