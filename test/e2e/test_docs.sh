# docs/rules.md and docs/config.md's rule settings are generated from the
# rule table; they must not drift.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
same_as_rule_table() { "$DSGUARD_BIN" rules --format markdown | cmp -s - docs/rules.md; }
ok "docs/rules.md equals 'dsguard rules --format markdown' (run 'make docs' to refresh)" same_as_rule_table
every_rule_listed() {
	for id in DS001 DS002 DS003; do grep -q "^## $id " docs/rules.md || return 1; done
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
every_option_in_rules_json() {
	for key in default allowed exemptNamespaces; do
		"$DSGUARD_BIN" rules --format json | grep -q "\"key\":[[:space:]]*\"$key\"" || return 1
	done
}
ok "dsguard rules --format json lists every option" every_option_in_rules_json
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
no_lint_below() { ! grep -l '#include "lint/' kube/* webhook/* config/* rules/* yaml/* util/*; }
ok "kube/, webhook/ and the layers below include nothing from lint/" no_lint_below
rm -rf "$tmp"
tap_done
