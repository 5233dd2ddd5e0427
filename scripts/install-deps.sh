#!/usr/bin/env bash
# Installs everything Cryo CRD needs to build, run and test on Debian 12 (bookworm).
# Idempotent: packages already present are left alone; npm packages come from the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config
  libcpp-httplib-dev rapidjson-dev libhowardhinnant-date-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev openssl libsqlite3-dev sqlite3 libpq-dev postgresql
  python3 curl ca-certificates
  libboost-dev zlib1g-dev wrk linux-perf
  prometheus adduser
  chromium
  clang libclang-rt-14-dev
)
# Node.js runs the integration suite's FHIR server. A machine may already have Node.js from
# another packaging (whose nodejs package bundles npm and conflicts with Debian's npm): only
# ask apt for it when the commands are missing.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The integration suite's FHIR server (a real FHIR implementation on Node.js).
if [ -f tests/fhir-server/package.json ]; then
  (cd tests/fhir-server && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
fi
# The independent FHIR validator the test suite checks every answer with (tests/fhir-validator).
if [ -f tests/fhir-validator/package.json ]; then
  (cd tests/fhir-validator && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
fi

# The policy JSON Schema test's validator (ajv, from the lock file).
if [ -f tests/policy-schema/package.json ]; then
  (cd tests/policy-schema && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
fi

# The browser tests' driver (puppeteer-core; the browser is Debian's chromium).
if [ -f tests/browser/package.json ]; then
  (cd tests/browser && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
fi
