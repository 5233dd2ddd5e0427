#!/usr/bin/env bash
# Installs what is missing, builds, and serves Cryo CRD with the bundled policies on
# http://127.0.0.1:8080 (extra arguments go to `cryo-crd serve`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec "${BUILD_DIR:-build}/cryo-crd" serve "$@"
