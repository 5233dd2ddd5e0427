#!/usr/bin/env bash
# Runs each libFuzzer target of tests/fuzz for a bounded time (clang, ASan+UBSan), over a corpus
# seeded with the committed seeds and regression inputs, the golden scenarios, the bundled
# policy and mapping files and the Inferno CRD test kit's request fixtures (when
# ../shared/reference has them). A crash, leak, sanitizer report, timeout or broken invariant
# fails the run; the input is copied into tests/fuzz/regressions/<target>/, where every later
# test run replays it (ctest: fuzz_replay_<target>) once it is committed.
#
#   scripts/fuzz.sh                    # every target, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=600 scripts/fuzz.sh jwt policy_loader
#
# Build tree: build-clang/ (BUILD_DIR), the one scripts/sanitize.sh runs the suite in; only the
# fuzz executables are built here. Its corpus (build-clang/fuzz/corpus/<target>) grows from
# run to run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_DIR="${BUILD_DIR:-build-clang}"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
all_targets=(hook_call fhir_values jwt policy_loader)
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [ -f "tests/fuzz/$t.cc" ] || { echo "fuzz: no target '$t' (targets: ${all_targets[*]})" >&2; exit 2; }
done

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  # The configuration of scripts/sanitize.sh's clang tree.
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
      -DCRYO_SANITIZE=address,undefined -DCRYO_FUZZ=ON \
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG"
elif ! grep -q '^CRYO_FUZZ:BOOL=ON' "$BUILD_DIR/CMakeCache.txt"; then
  echo "fuzz: $BUILD_DIR was not configured with -DCRYO_FUZZ=ON (clang); use another BUILD_DIR" >&2
  exit 2
fi
started=$(date +%s)
executables=()
for t in "${targets[@]}"; do executables+=("fuzz_${t}_libfuzzer" "fuzz_$t"); done
cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target "${executables[@]}"
echo "fuzz: built in $(( $(date +%s) - started ))s"

# The Inferno CRD test kit's fixtures, found as the integration tests find the kit.
inferno="${CRYO_INFERNO_KIT:-../shared/reference/inferno-crd-test-kit}"
if [ ! -d "$inferno/fixtures" ]; then
  echo "fuzz: no Inferno CRD test kit at $inferno: its fixtures are not among the seeds"
  inferno=""
fi

# Seeds of a target, staged flat into one directory (libFuzzer reads directories).
stage_seeds() {
  local t=$1 dir=$2
  rm -rf "$dir"
  mkdir -p "$dir"
  local sources=("tests/fuzz/regressions/$t" "tests/fuzz/seeds/$t")
  case "$t" in
    hook_call) sources+=(conformance/scenarios docs/examples tests/integration/data) ;;
    fhir_values) sources+=(conformance/scenarios docs/examples) ;;
    policy_loader) sources+=(policies/data mappings/data) ;;
  esac
  if [ -n "$inferno" ]; then
    case "$t" in
      hook_call | fhir_values) sources+=("$inferno/fixtures") ;;
      jwt) sources+=("$inferno/crd_jwks.json") ;;
    esac
  fi
  local src f
  for src in "${sources[@]}"; do
    [ -e "$src" ] || continue
    while IFS= read -r -d '' f; do
      case "$f" in *.tests.json|*/.keep) continue ;; esac  # policy tests: not loader input
      cp "$f" "$dir/$(echo "$src" | tr '/.' '__')-$(basename "$f")"
    done < <(find "$src" -maxdepth 1 -type f -print0)
  done
  [ -n "$(ls -A "$dir")" ] || { echo "fuzz $t: no seeds" >&2; exit 1; }
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=()
for t in "${targets[@]}"; do
  work="$BUILD_DIR/fuzz"
  corpus="$work/corpus/$t"
  seeds="$work/seeds/$t"
  artifacts="$work/artifacts/$t"
  log="$work/$t.log"
  mkdir -p "$corpus" "$artifacts"
  rm -f "$artifacts"/*
  stage_seeds "$t" "$seeds"
  echo "fuzz $t: ${SECONDS_EACH}s over $(ls "$seeds" | wc -l) seeds ($(ls "$corpus" | wc -l) corpus units kept)"
  status=0
  "$BUILD_DIR/tests/fuzz/fuzz_${t}_libfuzzer" "$corpus" "$seeds" \
      -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=3072 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    tail -n 80 "$log"
    echo "fuzz $t: FAILED (exit $status); full log: $log"
    for a in "$artifacts"/*; do
      [ -f "$a" ] || continue
      kept="tests/fuzz/regressions/$t/$(basename "$a")"
      cp "$a" "$kept"
      echo "fuzz $t: input copied to $kept"
      echo "fuzz $t:   reproduce: $BUILD_DIR/tests/fuzz/fuzz_$t $kept"
      echo "fuzz $t:   keep it:   fix the bug, then git add $kept (ctest fuzz_replay_$t replays it)"
    done
    failed+=("$t")
    continue
  fi
  { grep -E "^#[0-9]+[[:space:]]+DONE" "$log" || true; } | tail -n 1 | sed "s/^/fuzz $t: /"
  { grep -E "^stat::number_of_executed_units" "$log" || true; } | sed "s/^/fuzz $t: /"
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: every target ran ${SECONDS_EACH}s without a finding"
