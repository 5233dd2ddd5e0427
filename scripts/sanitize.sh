#!/usr/bin/env bash
# The whole test suite again, built by clang with AddressSanitizer and UndefinedBehaviorSanitizer
# and clang's thread-safety analysis (-Wthread-safety -Werror): any memory error, leak or
# undefined behaviour in the server, its tools or its tests fails the run, and so does a member
# used without the mutex that guards it (base/thread_annotations.h). The same tree carries the
# libFuzzer executables scripts/fuzz.sh runs, so CI builds twice (GCC, clang), not three times.
#
#   scripts/sanitize.sh                    # clang, build tree build-clang/
#   SANITIZE_CXX=g++ scripts/sanitize.sh   # GCC's sanitizers instead, build tree build-asan/
#
# Instrumented code runs several times slower: CRYO_TEST_TIME_SCALE (default 3) stretches the
# tests' waits and deadlines (tests/support/time_scale.h) and ctest's default timeout, and
# CRYO_TEST_MEMORY_SCALE (default 5) the memory bounds (ASan's quarantine and shadow memory);
# no test is skipped for it. The tree is kept between runs (only what changed is rebuilt).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
CXX_FOR_SANITIZE="${SANITIZE_CXX:-clang++}"
export CRYO_TEST_TIME_SCALE="${CRYO_TEST_TIME_SCALE:-3}"
export CRYO_TEST_MEMORY_SCALE="${CRYO_TEST_MEMORY_SCALE:-5}"
options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CXX_FOR_SANITIZE"
         -DCRYO_SANITIZE=address,undefined)
case "$CXX_FOR_SANITIZE" in
  # -O1 and line tables only: a third less to compile, and stack traces still name each line.
  *clang*) BUILD_DIR="${BUILD_DIR:-build-clang}"
           options+=(-DCRYO_FUZZ=ON "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG") ;;
  *) BUILD_DIR="${BUILD_DIR:-build-asan}" ;;
esac
started=$(date +%s)
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" "${options[@]}"
fi
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
built=$(date +%s)
echo "sanitize: built in $((built - started))s"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout $((600 * ${CRYO_TEST_TIME_SCALE%.*})) \
    --parallel "$(nproc)")
echo "sanitize: the suite ran in $(( $(date +%s) - built ))s"
