#!/usr/bin/env bash
# Makes sure the real services the test suite talks to are up, starting or installing what is missing.
# Run by `npm test` (and so by .ci/run) before the tests; idempotent and quick when everything is up.
#   PostgreSQL (FLEETPROV_TEST_PG_URL, default 127.0.0.1:5432 trust) — registry and provisioning tests
#   Redis (FLEETPROV_TEST_REDIS_URL, default redis://127.0.0.1:6379)  — cluster-mode tests
#   Chromium at /usr/bin/chromium (or CHROMIUM_PATH)                  — the web console's browser test
# What cannot be brought up stops the run at once, with the one command that fixes it.
set -uo pipefail

say() { echo "test-services: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }
missing=()

# PostgreSQL
PG_URL="${FLEETPROV_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
PG_SHOWN="$(printf %s "$PG_URL" | sed -E 's#//([^:@/]*):[^@/]*@#//\1:***@#')"
pg_up() { command -v pg_isready >/dev/null && pg_isready -d "$PG_URL" -q 2>/dev/null; }
if ! pg_up && [ -z "${FLEETPROV_TEST_PG_URL:-}" ] && [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
  say "starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >/dev/null 2>&1 || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
if ! pg_up; then
  if command -v pg_isready >/dev/null; then
    missing+=("PostgreSQL is not reachable at $PG_SHOWN: start it (sudo pg_ctlcluster \$(ls /etc/postgresql) main start), or set FLEETPROV_TEST_PG_URL to a server you can use")
  else
    missing+=("PostgreSQL is not installed: sudo apt-get install -y postgresql (trust auth on 127.0.0.1), or set FLEETPROV_TEST_PG_URL to a server you can use")
  fi
fi

# Redis (cluster mode: aedes' Redis emitter and persistence)
REDIS_URL="${FLEETPROV_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
REDIS_SHOWN="$(printf %s "$REDIS_URL" | sed -E 's#//([^:@/]*):[^@/]*@#//\1:***@#')"
redis_up() { command -v redis-cli >/dev/null && [ "$(redis-cli -u "$REDIS_URL" ping 2>/dev/null)" = PONG ]; }
if ! redis_up && [ -z "${FLEETPROV_TEST_REDIS_URL:-}" ] && command -v redis-server >/dev/null; then
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >/dev/null 2>&1 || true
  for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
fi
if ! redis_up; then
  if command -v redis-server >/dev/null; then
    missing+=("Redis is not reachable at $REDIS_SHOWN: start it (redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no), or set FLEETPROV_TEST_REDIS_URL to a server you can use")
  else
    missing+=("Redis is not installed: sudo apt-get install -y redis-server redis-tools, or set FLEETPROV_TEST_REDIS_URL to a server you can use")
  fi
fi

# Chromium (headless, for the console's browser test)
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ] && [ -z "${CHROMIUM_PATH:-}" ] && command -v apt-get >/dev/null; then
  say "installing Debian's chromium (once)"
  export DEBIAN_FRONTEND=noninteractive
  { as_root apt-get update -qq && as_root apt-get install -y -qq chromium; } >/dev/null 2>&1 || true
fi
[ -x "$CHROMIUM" ] || missing+=("Chromium is missing at $CHROMIUM: sudo apt-get install -y chromium, or set CHROMIUM_PATH to a Chromium binary")

# openssl CLI (the revocation tests check CRLs and OCSP with it)
if ! command -v openssl >/dev/null && command -v apt-get >/dev/null; then
  say "installing Debian's openssl (once)"
  export DEBIAN_FRONTEND=noninteractive
  { as_root apt-get update -qq && as_root apt-get install -y -qq openssl; } >/dev/null 2>&1 || true
fi
command -v openssl >/dev/null || missing+=("the openssl CLI is missing: sudo apt-get install -y openssl")

# SoftHSM2, OpenSC and OpenSSL's PKCS#11 engine (the device's secure-element tests)
p11_engine() { compgen -G '/usr/lib/*/engines-3/pkcs11.so' >/dev/null || [ -e /usr/lib64/engines-3/pkcs11.so ]; }
if { [ ! -e /usr/lib/softhsm/libsofthsm2.so ] || ! command -v pkcs11-tool >/dev/null || ! p11_engine; } && command -v apt-get >/dev/null; then
  say "installing Debian's softhsm2, opensc and libengine-pkcs11-openssl (once)"
  export DEBIAN_FRONTEND=noninteractive
  { as_root apt-get update -qq && as_root apt-get install -y -qq softhsm2 opensc libengine-pkcs11-openssl; } >/dev/null 2>&1 || true
fi
[ -e /usr/lib/softhsm/libsofthsm2.so ] || missing+=("SoftHSM2 is missing: sudo apt-get install -y softhsm2")
command -v pkcs11-tool >/dev/null || missing+=("pkcs11-tool is missing: sudo apt-get install -y opensc")
p11_engine || missing+=("OpenSSL's PKCS#11 engine is missing: sudo apt-get install -y libengine-pkcs11-openssl")

if [ ${#missing[@]} -gt 0 ]; then
  for m in "${missing[@]}"; do say "$m"; done
  say "the test suite needs these; nothing was run"
  exit 1
fi
exit 0
