# docs/rules.md is generated from the rule table; it must not drift.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
same_as_rule_table() { "$DSGUARD_BIN" rules --format markdown | cmp -s - docs/rules.md; }
ok "docs/rules.md equals 'dsguard rules --format markdown' (run 'make docs' to refresh)" same_as_rule_table
every_rule_listed() {
	for id in DS001 DS002 DS003; do grep -q "^## $id " docs/rules.md || return 1; done
}
ok "docs/rules.md has a section per rule" every_rule_listed
tap_done
