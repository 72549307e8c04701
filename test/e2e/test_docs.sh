# docs/rules.md and docs/config.md's rule settings are generated from the
# rule table; they must not drift.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
same_as_rule_table() { "$DSGUARD_BIN" rules --format markdown | cmp -s - docs/rules.md; }
ok "docs/rules.md equals 'dsguard rules --format markdown' (run 'make docs' to refresh)" same_as_rule_table
rule_ids() { "$DSGUARD_BIN" rules --format json | python3 -c 'import json,sys; print(*[r["id"] for r in json.load(sys.stdin)["rules"]])'; }
every_rule_listed() {
	ids=$(rule_ids) && [ -n "$ids" ] || return 1
	for id in $ids; do grep -q "^## $id " docs/rules.md || return 1; done
}
ok "docs/rules.md has a section per rule" every_rule_listed
config_settings_from_rule_table() {
	sed -n '/^<!-- rule settings: begin/,/^<!-- rule settings: end/p' docs/config.md | sed '1d;$d' >"$tmp/doc"
	"$DSGUARD_BIN" rules --format config-markdown >"$tmp/table"
	[ -s "$tmp/table" ] && cmp -s "$tmp/doc" "$tmp/table"
}
tmp=$(mktemp -d)
ok "docs/config.md's rule settings equal 'dsguard rules --format config-markdown' (make docs)" \
	config_settings_from_rule_table
# Every option the JSON lists is in the text listing and the config docs, under its rule.
rule_options() {
	"$DSGUARD_BIN" rules --format json |
		python3 -c 'import json,sys; print(*["rules." + r["name"] + "." + o["key"] for r in json.load(sys.stdin)["rules"] for o in r["options"]])'
}
every_option_documented() {
	opts=$(rule_options) && [ -n "$opts" ] || return 1
	for o in $opts; do
		"$DSGUARD_BIN" rules | grep -q "$o " && grep -q "\`$o\`" docs/config.md || return 1
	done
}
ok "every option of dsguard rules --format json is in dsguard rules and docs/config.md" every_option_documented
# Each folder includes exactly the folders docs/architecture.md lists for it.
includes_as_documented() {
	grep '^| `[a-z]*/` |' docs/architecture.md | while IFS='|' read -r _ folder _ includes _; do
		dir=$(echo "$folder" | tr -d ' `/')
		case "$includes" in *" all "*) continue ;; esac
		want=$(echo "$includes" | grep -o '`[a-z]*/`' | tr -d '`/' | sort -u | tr '\n' ' ')
		have=$(grep -ho '^#include "[a-z]*/' "$dir"/*.[ch] | sed 's/.*"//; s/\///' | sort -u | grep -vx "$dir" |
			tr '\n' ' ')
		[ "$want" = "$have" ] || { echo "# $dir/ includes '$have', docs/architecture.md says '$want'"; return 1; }
	done
}
ok "each folder includes what docs/architecture.md says, nothing more" includes_as_documented
no_lint_below() { ! grep -l '#include "lint/' kube/* config/* rules/* yaml/* util/*; }
ok "kube/ and the layers below include nothing from lint/ (webhook/ takes its run over objects for the audit)" \
	no_lint_below
rm -rf "$tmp"
tap_done
