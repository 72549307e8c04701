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
rm -rf "$tmp"
tap_done
