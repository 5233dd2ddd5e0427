#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every unit and integration
# test (the integration tests start the real server, SQLite, PostgreSQL and a FHIR server on
# loopback themselves), then the conformance runner against the service.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
BUILD_DIR="${BUILD_DIR:-build}"
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 600 --parallel "$(nproc)")
