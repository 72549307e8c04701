# Adding a rule is a change in rules/ alone (docs/architecture.md, "Adding a
# rule"). A copy of the working tree's tracked files gets
# test/fixtures/add_rule/ds900.patch, a sample rule DS900 update-strategy
# (spec.updateStrategy.type is set; option `type`, which its fix inserts)
# that touches rules/ only. The copy is built, `make docs` run in it, and
# DS900 must then show everywhere the rule table reaches: `dsguard rules`,
# the generated docs, the config file and the Helm chart, lint (one file,
# several, -j2) with the other rules' findings as before, audit against the
# stand-in API server, the webhook's /validate, /mutate and metrics over TLS,
# the exemption annotation, lint --fix, SARIF rule metadata and JUnit test
# cases. The fixtures' comments say what each DaemonSet breaks. Helpers:
# test/e2e/add_rule.py.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
root=$PWD
: "${PYTHON:=python3}"
old=$DSGUARD_BIN
fixtures=$root/test/fixtures/add_rule
work=$(mktemp -d)
copy=$work/tree
new=$copy/dsguard
serve_pid=
cleanup() {
	if [ -n "$serve_pid" ]; then
		kill "$serve_pid" 2>/dev/null
		wait "$serve_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

helper() { "$PYTHON" "$root/test/e2e/add_rule.py" "$@"; }
# step NAME COMMAND...: as ok, and fails when the test failed.
step() {
	failed_before=$tap_failed
	ok "$@"
	[ "$tap_failed" -eq "$failed_before" ]
}
# The checks after a failed step of the set-up would only repeat its failure.
bail() {
	tap_done
	exit 1
}
# comment FILE: the end of FILE as TAP comment lines.
comment() { tail -n 20 "$1" | sed 's/^/#   /'; }

# --- 1. the copy: tracked files as they stand in the working tree
copy_tree() {
	mkdir -p "$copy" && git ls-files -z >"$work/files.z" || return 1
	tr '\0' '\n' <"$work/files.z" | grep -Ev '^(build|build-san|build-fuzz)/' |
		while IFS= read -r f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\n' "$f"; fi; done >"$work/files"
	[ -s "$work/files" ] && xargs -d '\n' cp -P --parents -t "$copy" <"$work/files"
}
step "the working tree's tracked files are copied (no build directory)" copy_tree || bail

# --- 2. the patch: rules/ only
patch_in_rules_only() {
	grep -E '^(\+\+\+|---) ' "$fixtures/ds900.patch" | awk '{ print $2 }' >"$work/patched-paths"
	[ -s "$work/patched-paths" ] && ! grep -Ev '^([ab]/rules/[^/]+|/dev/null)$' "$work/patched-paths"
}
step "ds900.patch touches files under rules/ only" patch_in_rules_only || bail
apply_patch() {
	patch -p1 -d "$copy" --batch --forward --no-backup-if-mismatch <"$fixtures/ds900.patch" >"$work/patch.log" 2>&1 ||
		{ comment "$work/patch.log"; return 1; }
}
step "patch -p1 applies ds900.patch to the copy" apply_patch || bail

# --- 3. build it and regenerate its docs, with the Makefile's own flags (the
# make that runs this test passes none of its settings down).
build_copy() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$copy" -j"$(nproc 2>/dev/null || echo 2)" \
		BUILD=build SAN= FUZZ= dsguard docs >"$work/build.log" 2>&1 && [ -x "$new" ] ||
		{ comment "$work/build.log"; return 1; }
}
step "the patched copy builds (make dsguard docs)" build_copy || bail

# --- dsguard rules and the generated docs
rules_text() {
	"$new" rules >"$work/rules.txt" &&
		grep -qx 'DS900 update-strategy (default severity: error)' "$work/rules.txt" &&
		grep -q '^ *rules\.update-strategy\.type (string or null, default null): ' "$work/rules.txt" &&
		! "$old" rules | grep -q DS900
}
ok "dsguard rules lists DS900 and its option (the unpatched one does not)" rules_text
rules_json() {
	"$new" rules --format json >"$work/rules.json" &&
		helper rule-listed "$work/rules.json" DS900 update-strategy object type
}
ok "dsguard rules --format json lists DS900: object scope, one name option 'type', a fix" rules_json
docs_have_ds900() {
	grep -q '^## DS900 update-strategy$' "$copy/docs/rules.md" &&
		grep -q '^| `rules\.update-strategy\.type` | string or null | `null` |' "$copy/docs/config.md" &&
		! grep -q DS900 "$root/docs/rules.md"
}
ok "make docs gives DS900 a section in docs/rules.md and its settings in docs/config.md" docs_have_ds900

# --- the config file
cfg=$work/config.yaml
printf 'rules:\n  update-strategy:\n    type: RollingUpdate\n' >"$cfg"
config_loads() {
	"$new" lint --config "$cfg" "$fixtures/agents.yaml" >/dev/null 2>"$work/err"
	[ $? -eq 1 ] && [ ! -s "$work/err" ] || { comment "$work/err"; return 1; }
	"$old" lint --config "$cfg" "$fixtures/agents.yaml" >/dev/null 2>"$work/err"
	[ $? -eq 2 ] && grep -q 'unknown rule "update-strategy"' "$work/err"
}
ok "rules.update-strategy.type in a config file loads (the unpatched dsguard: unknown rule)" config_loads
unknown_key_refused() {
	printf 'rules:\n  update-strategy:\n    typ: RollingUpdate\n' >"$work/typo.yaml"
	"$new" lint --config "$work/typo.yaml" "$fixtures/agents.yaml" >/dev/null 2>"$work/err"
	[ $? -eq 2 ] && grep -qF "$work/typo.yaml:3:5: unknown key \"typ\" in rules.update-strategy (known: severity, type)" \
		"$work/err" || { comment "$work/err"; return 1; }
}
ok "an unknown key under rules.update-strategy is refused, naming file, line, column and the known keys" \
	unknown_key_refused

# --- the Helm chart, unchanged, takes the new rule's option
helm=$(sh test/chart/get-helm.sh 2>"$work/helm.err" | tail -n 1)
if [ -n "$helm" ]; then
	chart_sets_it() {
		HELM_CACHE_HOME=$work/helm/cache HELM_CONFIG_HOME=$work/helm/config HELM_DATA_HOME=$work/helm/data \
			KUBECONFIG=$work/helm/no-kubeconfig "$helm" template dsguard "$copy/charts/dsguard" \
			--namespace dsguard-system --show-only templates/configmap.yaml \
			--set config.rules.update-strategy.type=RollingUpdate >"$work/rendered.yaml" 2>"$work/err" ||
			{ comment "$work/err"; return 1; }
		helper chart-config "$work/rendered.yaml" "$work/chart-config.yaml" &&
			helper config-value "$work/chart-config.yaml" rules.update-strategy.type RollingUpdate || return 1
		# dsguard loads it, and its fix inserts the type set through the chart.
		"$new" lint --diff --config "$work/chart-config.yaml" "$fixtures/agents.yaml" >"$work/diff" 2>"$work/err"
		[ $? -eq 1 ] && [ "$(grep -c '^+ *type: RollingUpdate$' "$work/diff")" -eq 2 ] ||
			{ comment "$work/err"; comment "$work/diff"; return 1; }
	}
	ok "helm template --set config.rules.update-strategy.type=RollingUpdate: the config carries it and loads" \
		chart_sets_it
	chart_rules_test() {
		HELM_BIN=$helm DSGUARD_BIN=$new "$PYTHON" test/e2e/test_chart_rules.py >"$work/chart-rules.log" 2>&1 ||
			{ grep -A5 '^not ok' "$work/chart-rules.log" | head -n 40 | sed 's/^/#   /'; return 1; }
	}
	ok "test_chart_rules.py passes with DS900 in the rule table (every rule, option and severity via the chart)" \
		chart_rules_test
else
	skip "helm template --set config.rules.update-strategy.type=RollingUpdate" \
		"helm cannot be obtained: $(head -n 1 "$work/helm.err")"
	skip "test_chart_rules.py with DS900 in the rule table" "helm cannot be obtained"
fi

# --- lint: DS900 once per offending DaemonSet; every other finding as before
# lint_both REPORT ARGS...: the old and new binaries' JSON reports in
# $work/REPORT.old.json and $work/REPORT.new.json; both exit 1 (error findings).
lint_both() {
	report=$1
	shift
	"$old" lint --format json "$@" >"$work/$report.old.json" 2>"$work/err.old"
	rc_old=$?
	"$new" lint --format json "$@" >"$work/$report.new.json" 2>"$work/err.new"
	rc_new=$?
	[ $rc_old -eq 1 ] && [ $rc_new -eq 1 ] ||
		{ echo "#   exit $rc_old (unpatched), $rc_new (patched)"; comment "$work/err.new"; return 1; }
}
one_file() {
	lint_both one "$fixtures/agents.yaml" &&
		helper once "$work/one.new.json" DS900 logging/fluentd cni/calico-node &&
		helper same-except "$work/one.old.json" "$work/one.new.json" DS900
}
ok "lint, one file: DS900 once for fluentd and calico-node; DS001/DS002 findings as unpatched" one_file
several_files() {
	lint_both several "$fixtures/agents.yaml" "$fixtures/more.yaml" &&
		helper once "$work/several.new.json" DS900 logging/fluentd cni/calico-node storage/csi-node &&
		helper same-except "$work/several.old.json" "$work/several.new.json" DS900
}
ok "lint, two files: DS900 once per offending DaemonSet; DS001-DS003 findings as unpatched" several_files
jobs_two() {
	lint_both jobs -j2 "$fixtures" &&
		helper once "$work/jobs.new.json" DS900 logging/fluentd cni/calico-node storage/csi-node cilium/cilium \
			proxy/kube-proxy &&
		helper same-except "$work/jobs.old.json" "$work/jobs.new.json" DS900
}
ok "lint -j2 over the fixtures' directory: DS900 once per offending DaemonSet; the rest as unpatched" jobs_two
exemptions() {
	"$new" lint --format json "$fixtures/exempt.yaml" >"$work/exempt.json" ||
		{ echo "#   exit $? (want 0: nothing but exempted findings)"; return 1; }
	helper exempt "$work/exempt.json" DS900 cilium/cilium proxy/kube-proxy
}
ok "dsguard.io/ignore exempts DS900 by name (update-strategy) and by id (DS900)" exemptions

# --- audit against the stand-in API server
audit_once() {
	mkdir -p "$work/apiserver"
	helper audit "$work/apiserver" logging/fluentd,logging/fluent-bit,cni/calico-node \
		"$old" "$work/audit.old.json" "$new" "$work/audit.new.json" >"$work/audit.rc" ||
		{ comment "$work/audit.rc"; return 1; }
	[ "$(grep -v '^#' "$work/audit.rc" | tr '\n' ' ')" = "1 1 " ] || { comment "$work/audit.rc"; return 1; }
	helper once "$work/audit.new.json" DS900 logging/fluentd logging/fluent-bit cni/calico-node &&
		helper same-except "$work/audit.old.json" "$work/audit.new.json" DS900
}
ok "audit: DS900 once per DaemonSet of the cluster; the other findings as unpatched" audit_once

# --- the webhook over TLS
start_serve() {
	"$new" certs --out "$work/certs" --host 127.0.0.1 >/dev/null 2>"$work/err" || { comment "$work/err"; return 1; }
	"$new" serve --listen 127.0.0.1:0 --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" \
		--config "$cfg" --cluster off --log-format json >/dev/null 2>"$work/serve.log" &
	serve_pid=$!
	port=
	tries=0
	while [ -z "$port" ] && [ $tries -lt 300 ] && kill -0 "$serve_pid" 2>/dev/null; do
		port=$(sed -n 's/.*"serving".*"address":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$work/serve.log" | head -n 1)
		[ -n "$port" ] || sleep 0.1
		tries=$((tries + 1))
	done
	[ -n "$port" ] || { comment "$work/serve.log"; return 1; }
}
# post PATH OUT: the review in $work/review.json, answered into OUT.
post() {
	curl -sS --max-time 30 --cacert "$work/certs/ca.crt" -H 'Content-Type: application/json' \
		--data-binary @"$work/review.json" "https://127.0.0.1:$port$1" >"$2" 2>"$work/err" ||
		{ comment "$work/err"; return 1; }
}
if step "dsguard serve (patched, --cluster off) starts with real TLS" start_serve; then
	validate_denies() {
		helper review "$fixtures/more.yaml" storage/csi-node validate-1 >"$work/review.json" &&
			post /validate "$work/validate.json" && helper denied "$work/validate.json" validate-1 DS900
	}
	ok "/validate denies csi-node, naming DS900 once" validate_denies
	mutate_patches() {
		helper review "$fixtures/more.yaml" storage/csi-node mutate-1 >"$work/review.json" &&
			post /mutate "$work/mutate.json" &&
			helper patched "$work/mutate.json" mutate-1 \
				'[{"op":"add","path":"/spec/updateStrategy","value":{"type":"RollingUpdate"}}]'
	}
	ok "/mutate answers csi-node with the JSONPatch that adds spec.updateStrategy.type" mutate_patches
	metrics_count() {
		curl -sS --max-time 30 --cacert "$work/certs/ca.crt" "https://127.0.0.1:$port/metrics" >"$work/metrics" &&
			grep -qx 'dsguard_findings_total{rule="DS900",name="update-strategy"} 2' "$work/metrics" ||
			{ grep DS900 "$work/metrics" | sed 's/^/#   /'; return 1; }
	}
	ok "/metrics counts DS900 once per review (2)" metrics_count
	kill "$serve_pid" 2>/dev/null
	wait "$serve_pid" 2>/dev/null
	serve_pid=
fi

# --- lint --fix
fix_needs_option() {
	cp "$fixtures/agents.yaml" "$work/fix.yaml"
	"$new" lint --fix "$work/fix.yaml" >"$work/fix.out" 2>&1
	[ "$(grep -c 'DS900 update-strategy\] (cannot fix: no update strategy type: set rules.update-strategy.type)' \
		"$work/fix.out")" -eq 2 ] && [ "$(helper get "$work/fix.yaml" logging/fluentd /spec/updateStrategy)" = absent ] ||
		{ comment "$work/fix.out"; return 1; }
}
ok "lint --fix without rules.update-strategy.type: DS900 is not fixed, and says what to set" fix_needs_option
fix_inserts() {
	"$new" lint --fix --config "$cfg" "$work/fix.yaml" >"$work/fix.out" 2>&1
	[ "$(helper get "$work/fix.yaml" logging/fluentd /spec/updateStrategy)" = '{"type": "RollingUpdate"}' ] &&
		[ "$(helper get "$work/fix.yaml" cni/calico-node /spec/updateStrategy)" = \
			'{"rollingUpdate": {"maxUnavailable": 1}, "type": "RollingUpdate"}' ] &&
		[ "$(helper get "$work/fix.yaml" monitoring/node-exporter /spec/updateStrategy)" = '{"type": "OnDelete"}' ] ||
		{ comment "$work/fix.out"; return 1; }
	"$new" lint --format json --config "$cfg" "$work/fix.yaml" >"$work/fixed.json"
	helper once "$work/fixed.json" DS900
}
ok "lint --fix with the option inserts the type (keeping what was there); lint then finds no DS900" fix_inserts

# --- SARIF rule metadata and JUnit test cases
sarif_has_rule() {
	"$new" lint --format sarif "$fixtures/agents.yaml" >"$work/lint.sarif"
	helper sarif-rule "$work/lint.sarif" DS900 2
}
ok "SARIF: runs[0].tool.driver.rules has DS900, and its 2 results point at it" sarif_has_rule
junit_cases() {
	"$new" lint --format junit "$fixtures/agents.yaml" >"$work/lint.xml"
	helper junit "$work/lint.xml" "DS900 update-strategy" logging/fluentd,monitoring/node-exporter,cni/calico-node \
		logging/fluentd,cni/calico-node
}
ok "JUnit: a DS900 test case per DaemonSet, failing for fluentd and calico-node" junit_cases

tap_done
