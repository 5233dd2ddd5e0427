#!/usr/bin/env bash
# The whole test suite again, built with AddressSanitizer and UndefinedBehaviorSanitizer:
# any memory error, leak or undefined behaviour in the server, its tools or its tests fails
# the run. Build tree: build-asan/ (kept between runs; only what changed is rebuilt).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_DIR="${BUILD_DIR:-build-asan}"
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRYO_SANITIZE=address,undefined
fi
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 900 --parallel "$(nproc)")
