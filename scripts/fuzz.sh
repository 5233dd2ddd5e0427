#!/usr/bin/env bash
# Runs each libFuzzer target (tests/fuzz) for a bounded time, seeded with the committed seeds,
# the golden scenarios and the Inferno CRD test kit's fixtures (when ../shared has them).
# A crash, leak, sanitizer report or broken invariant fails the run and leaves the input in
# tests/fuzz/regressions/<target>/: commit it, fix the bug, and every later test run replays it.
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=600 scripts/fuzz.sh jwt
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_DIR="${BUILD_DIR:-build-fuzz}"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(hook_call fhir_values jwt)
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  CXX=clang++ cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRYO_FUZZ=ON
fi
cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target "${targets[@]/#/fuzz_}"

inferno=../shared/reference/inferno-crd-test-kit/fixtures
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
for t in "${targets[@]}"; do
  corpus="$BUILD_DIR/corpus/$t"
  mkdir -p "$corpus"
  seeds=("tests/fuzz/regressions/$t")
  [ -d "tests/fuzz/seeds/$t" ] && seeds+=("tests/fuzz/seeds/$t")
  case "$t" in
    hook_call) seeds+=(docs/examples tests/integration/data); [ -d "$inferno" ] && seeds+=("$inferno") ;;
    fhir_values) seeds+=(conformance/scenarios docs/examples) ;;
  esac
  echo "fuzz $t: ${SECONDS_EACH}s, seeds: ${seeds[*]}"
  "$BUILD_DIR/tests/fuzz/fuzz_$t" "$corpus" "${seeds[@]}" \
      -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
      -print_final_stats=1 -artifact_prefix="tests/fuzz/regressions/$t/" 2>"$BUILD_DIR/fuzz-$t.log" || {
    tail -n 60 "$BUILD_DIR/fuzz-$t.log"
    echo "fuzz $t: FAILED (input kept in tests/fuzz/regressions/$t/)"
    exit 1
  }
  grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$BUILD_DIR/fuzz-$t.log" | sed "s/^/fuzz $t: /"
done
