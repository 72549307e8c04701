#!/bin/sh
# Rendered-input benchmark: what dsguard itself does with a rendered stream
# (reading it from the renderer, tracing each DaemonSet to its file, placing
# findings there) against linting the same bytes as files, in the same run.
#
# The streams are made once by the real tools from the real-world corpus:
#   helm       - a chart whose templates are RENDER_MB of corpus copies,
#                rendered by `helm template`;
#   kustomize  - each corpus file a kustomization of its own (kustomize
#                refuses the corpus's repeated names in one), RENDER_MB of
#                copies, each rendered by `kubectl kustomize` through a
#                temporary kustomization as dsguard makes it.
# dsguard then renders them with --helm / --kustomize naming a replay script
# that writes the saved output: the tools' own cost stays out. dsguard's work
# is counted in instructions by callgrind (valgrind), which counts dsguard's
# process alone, not the replay; times are /usr/bin/time's, the replay
# included. Prints a Markdown table.
# Usage: bench/render.sh (env: DSGUARD_BIN, CORPUS, RUNS, RENDER_MB, HELM_BIN)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${DSGUARD_BIN:-$root/dsguard}
corpus=${CORPUS:-$(dirname "$root")/shared/corpus/realworld}
runs=${RUNS:-3}
mb=${RENDER_MB:-10}
helm=$(sh "$root/test/chart/get-helm.sh")
command -v kubectl >/dev/null || { echo "bench/render.sh: kubectl is needed" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "bench/render.sh: valgrind is needed" >&2; exit 2; }
# dsguard's temporary kustomization is TMPDIR/dsguard-render-XXXXXX: the saved
# streams name files relative to a directory at that depth
export TMPDIR=$(mktemp -d)
work=$TMPDIR/work
mkdir -p "$work"
trap 'rm -rf "$TMPDIR"' EXIT

per_copy=$(cat "$corpus"/*.y*ml | wc -c)
copies=$(((mb * 1000000 + per_copy - 1) / per_copy))

# Helm: the chart, its saved output, and a replay for --helm
mkdir -p "$work/chart/templates"
printf 'apiVersion: v2\nname: corpus\nversion: 0.1.0\n' >"$work/chart/Chart.yaml"
for c in $(seq "$copies"); do
	mkdir -p "$work/chart/templates/c$c"
	cp "$corpus"/*.y*ml "$work/chart/templates/c$c/"
done
mkdir -p "$work/plain-helm"
"$helm" template corpus "$work/chart" >"$work/plain-helm/rendered.yaml"
printf '#!/bin/sh\nexec cat %s\n' "$work/plain-helm/rendered.yaml" >"$work/replay-helm"
chmod +x "$work/replay-helm"

# Kustomize: one root per corpus file that kustomize takes alone
mkdir -p "$work/probe" "$work/tree" "$work/plain-kustomize" "$TMPDIR/dsguard-render-bench"
for f in "$corpus"/*.y*ml; do
	rm -f "$work/probe"/*
	cp "$f" "$work/probe/"
	printf 'resources: [%s]\n' "$(basename "$f")" >"$work/probe/kustomization.yaml"
	kubectl kustomize "$work/probe" >/dev/null 2>&1 && basename "$f"
done >"$work/accepted"
for c in $(seq "$copies"); do
	i=0
	while read -r f; do
		d=$work/tree/c$c-f$i
		mkdir -p "$d"
		cp "$corpus/$f" "$d/"
		printf 'resources: [%s]\n' "$f" >"$d/kustomization.yaml"
		printf 'resources:\n- "../work/tree/c%s-f%s"\nbuildMetadata: [originAnnotations, transformerAnnotations]\n' \
			"$c" "$i" >"$TMPDIR/dsguard-render-bench/kustomization.yaml"
		kubectl kustomize "$TMPDIR/dsguard-render-bench" >"$work/plain-kustomize/c$c-f$i.yaml"
		i=$((i + 1))
	done <"$work/accepted"
done
rm -rf "$TMPDIR/dsguard-render-bench"
cat >"$work/replay-kustomize" <<EOF
#!/bin/sh
# kustomize build DIR: the saved output of the root DIR's kustomization names
root=\$(sed -n 's/^- "\\(.*\\)"\$/\\1/p' "\$2/kustomization.yaml")
exec cat "$work/plain-kustomize/\$(basename "\$root").yaml"
EOF
chmod +x "$work/replay-kustomize"

# measure NAME COMMAND...: median wall and CPU seconds of RUNS runs, then
# dsguard's instructions (callgrind, one run)
measure() {
	name=$1; shift
	for i in $(seq "$runs"); do
		/usr/bin/time -q -f "%e %U %S" -o "$work/t" "$@" >/dev/null 2>&1 || [ $? -le 2 ]
		cat "$work/t"
	done | awk -v n="$runs" '
		{ t[NR] = $1; c[NR] = $2 + $3 }
		function med(a,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
			return a[int((n + 1) / 2)] }
		END { printf "%s %s ", med(t), med(c) }'
	valgrind -q --tool=callgrind --callgrind-out-file="$work/cg" "$@" >/dev/null 2>&1 || true
	callgrind_annotate "$work/cg" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

row() { # label plain-dir replay render-dir flag
	label=$1 plain=$2 replay=$3 dir=$4 flag=$5
	bytes=$(cat "$plain"/* | wc -c)
	summary=$("$bin" lint --format json -j1 "$plain" | python3 -c 'import json, sys; s = json.load(sys.stdin)["summary"]; print(s["daemonsets"], s["errors"])')
	p=$(measure plain "$bin" lint --format json -j1 "$plain")
	r=$(measure rendered "$bin" lint --format json -j1 "$flag" "$replay" "$dir")
	echo "$label $bytes $summary $p $r" | awk '{
		mb = $2 / 1000000
		printf "| %s | %.1f | %d | %d | %.2f s (cpu %.2f s) | %.0f M | %.2f s (cpu %.2f s) | %.0f M | **%.2fx** |\n",
			$1, mb, $3, $4, $5, $6, $7 / mb / 1e6, $8, $9, $10 / mb / 1e6, $10 / $7 }'
}

echo "| renderer | stream MB | DaemonSets | findings | the stream as files: time | instructions / MB | rendered (replayed): time | instructions / MB | rendered / files |"
echo "|---|---|---|---|---|---|---|---|---|"
row helm "$work/plain-helm" "$work/replay-helm" "$work/chart" --helm
row kustomize "$work/plain-kustomize" "$work/replay-kustomize" "$work/tree" --kustomize
