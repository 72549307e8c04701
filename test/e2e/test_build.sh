# The build's own promises: a missing library stops make with the exact
# apt-get line, make install puts the binary where asked, every command
# answers --help.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

missing_libraries_named() {
	# An empty pkg-config search path: every library is missing.
	PKG_CONFIG_LIBDIR="$tmp/none" PKG_CONFIG_PATH= make --no-print-directory check-deps >"$tmp/out" 2>&1 && return 1
	grep -qx "  apt-get install -y libcjson-dev libyaml-dev libmicrohttpd-dev libssl-dev libcurl4-openssl-dev libgnutls28-dev libcmocka-dev" "$tmp/out"
}
ok "make stops on missing libraries with the exact apt-get install line" missing_libraries_named

installs_where_asked() {
	make --no-print-directory install PREFIX=/opt/dsguard DESTDIR="$tmp/root" >/dev/null 2>&1 &&
		[ -x "$tmp/root/opt/dsguard/bin/dsguard" ] &&
		"$tmp/root/opt/dsguard/bin/dsguard" version | grep -q "^dsguard $(cat VERSION)$"
}
if [ "${DSGUARD_SANITIZE:-}" = 1 ]; then
	skip "make install" "installs the plain build, not the sanitizer one"
else
	ok "make install PREFIX=/opt/dsguard DESTDIR=... installs a working binary" installs_where_asked
fi

for cmd in lint serve review certs audit rules version; do
	help_works() { "$DSGUARD_BIN" "$1" --help >"$tmp/help" 2>&1 && grep -q "^Usage: dsguard $1" "$tmp/help"; }
	ok "dsguard $cmd --help exits 0 with its usage" help_works "$cmd"
done
top_help() { "$DSGUARD_BIN" --help | grep -q "^Usage: dsguard COMMAND"; }
ok "dsguard --help lists the commands" top_help
unknown_command() { "$DSGUARD_BIN" frobnicate >/dev/null 2>&1; [ $? -eq 2 ]; }
ok "an unknown command exits 2" unknown_command
tap_done
