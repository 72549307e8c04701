#!/bin/sh
# get-cel.sh - prints the node_modules folder of a CEL evaluator for the
# policy tests, fetching it first when missing.
#
# CEL_MODULES, when set, names a node_modules folder that holds the packages
# below and nothing is fetched. Otherwise they are installed with npm, at the
# pinned versions, into ${XDG_CACHE_HOME:-$HOME/.cache}/dsguard/cel/<version>;
# a cached install that loads is reused. Needs node and npm.
# Exit 0 with the path on stdout, else 1 with the reason on stderr.
set -eu

CEL=@bufbuild/cel@0.6.1
PROTOBUF=@bufbuild/protobuf@2.10.1
VERSION=0.6.1-2.10.1

loads() { # node_modules folder
	(cd "$1/.." && node -e 'require("@bufbuild/cel"); require("@bufbuild/protobuf")' >/dev/null 2>&1)
}

command -v node >/dev/null 2>&1 || { echo "get-cel: node is needed (Debian package: nodejs)" >&2; exit 1; }
if [ -n "${CEL_MODULES:-}" ]; then
	if loads "$CEL_MODULES"; then
		echo "$CEL_MODULES"
		exit 0
	fi
	echo "get-cel: CEL_MODULES=$CEL_MODULES does not hold $CEL and $PROTOBUF" >&2
	exit 1
fi

cache="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/dsguard/cel/$VERSION"
if [ -d "$cache/node_modules" ] && loads "$cache/node_modules"; then
	echo "$cache/node_modules"
	exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "get-cel: npm is needed to fetch $CEL (Debian package: npm)" >&2; exit 1; }
mkdir -p "$(dirname "$cache")"
work=$(mktemp -d "$(dirname "$cache")/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
echo '{"name":"dsguard-policy-tests","private":true}' >"$work/package.json"
if ! (cd "$work" && npm install --no-audit --no-fund --silent --save-exact "$CEL" "$PROTOBUF" >install.log 2>&1); then
	echo "get-cel: npm install $CEL $PROTOBUF failed:" >&2
	cat "$work/install.log" >&2
	exit 1
fi
if ! loads "$work/node_modules"; then
	echo "get-cel: $CEL does not load after npm install" >&2
	exit 1
fi
rm -rf "$cache"
mv "$work" "$cache"
trap - EXIT INT TERM
echo "$cache/node_modules"
