#!/usr/bin/env bash
# Makes sure the real services the test suite talks to are up, starting or installing what is missing.
# Run by `npm test` (and so by .ci/run) before the tests; idempotent and quick when everything is up.
#   PostgreSQL on 127.0.0.1:5432 (trust auth)  — registry and provisioning tests on PostgreSQL
#   Chromium at /usr/bin/chromium              — the web console's browser test (Debian's package)
# A service that cannot be brought up is reported here; under CI (env CI set) the tests that need it then fail.
set -uo pipefail

say() { echo "test-services: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }

# PostgreSQL
if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
    say "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi
if ! command -v pg_isready >/dev/null || ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  say "PostgreSQL is not reachable on 127.0.0.1:5432: its tests fail under CI and are skipped otherwise (set FLEETPROV_TEST_PG_URL to use another server)"
fi

# Chromium (headless, for the console's browser test)
if [ -z "${CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null; then
    say "installing Debian's chromium (once)"
    export DEBIAN_FRONTEND=noninteractive
    { as_root apt-get update -qq && as_root apt-get install -y -qq chromium; } >/dev/null 2>&1 || say "could not install chromium"
  fi
  [ -x /usr/bin/chromium ] || say "Chromium is missing at /usr/bin/chromium: the console browser test will fail (apt-get install chromium, or set CHROMIUM_PATH)"
fi
exit 0
