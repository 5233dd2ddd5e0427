#!/usr/bin/env bash
# Listener benchmark: the real cryo-crd server on loopback under pooled, slow, flooding and
# stopping clients, side by side with the floor (bench_floor_server: cpp-httplib + RapidJSON
# parsing the same body and answering a constant) measured in the same run. Prints one table.
#
#   scripts/build.sh && bench/listener_bench.sh            # BUILD_DIR=build, DURATION=8 (s)
#
# Needs wrk (Debian package) for the keep-alive runs; without wrk or the floor the rows say so.
# Loopback only; every loop is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
DURATION="${DURATION:-8}"
CRD="$BUILD_DIR/cryo-crd"
LOAD="$BUILD_DIR/bench/listener_load"
FLOOR="$BUILD_DIR/bench/bench_floor_server"
[ -x "$CRD" ] && [ -x "$LOAD" ] || { echo "build first: cryo-crd and listener_load" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 2400 ] || { echo "needs 2400 open files (ulimit -n)" >&2; exit 2; }

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_crd NAME ARGS...: starts cryo-crd serve; sets PORT and PID.
start_crd() {
  local name="$1"
  shift
  "$CRD" serve --bind 127.0.0.1 --port 0 "$@" >"$tmp/$name.log" 2>&1 &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 1 100); do
    PORT="$(sed -n 's/.*cryo-crd serving .*port=\([0-9]*\).*/\1/p' "$tmp/$name.log" | head -1)"
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  echo "cryo-crd did not start:" >&2
  cat "$tmp/$name.log" >&2
  exit 1
}

start_floor() {
  "$FLOOR" --port 0 >"$tmp/floor.log" 2>&1 &
  FLOOR_PID=$!
  pids+=("$FLOOR_PID")
  for _ in $(seq 1 100); do
    FLOOR_PORT="$(sed -n 's/^PORT=\([0-9]*\).*/\1/p' "$tmp/floor.log" | head -1)"
    [ -n "$FLOOR_PORT" ] && return 0
    sleep 0.1
  done
  FLOOR_PORT=""
}

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
rows=()
row() { rows+=("$(printf '| %-58s | %-14s | %-12s | %-16s | %-4s |' "$@")"); }
ok() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN { r = (op == "<=") ? (a <= b) : (a >= b); print r ? "yes" : "NO" }'; }

# Keep-alive runs: wrk with the unique-hookInstance script (bench/wrk/hook_call.lua), else
# listener_load's closed loop. keep_alive PORT CLIENTS -> "calls/s p99_ms errors"
WRK_SCRIPT=bench/wrk/hook_call.lua
BODY=docs/examples/order-sign-florida-blue.json
keep_alive() {
  local port="$1" clients="$2" out
  if command -v wrk >/dev/null && [ -f "$WRK_SCRIPT" ] && [ -f "$BODY" ]; then
    out="$(wrk -t2 -c"$clients" -d"${DURATION}s" --timeout 5s -s "$WRK_SCRIPT" \
      "http://127.0.0.1:$port/cds-services/order-sign-crd" -- "$BODY" 2>&1 | grep '^RESULT')"
    echo "$(field rps "$out" | cut -d. -f1) $(awk -v u="$(field p99 "$out")" 'BEGIN { printf "%.2f", u / 1000 }') $(field errors "$out")"
  else
    out="$("$LOAD" load "$port" "$clients" "$DURATION")"
    echo "$(field requests_per_s "$out") $(field p99_ms "$out") $(field socket_errors "$out")"
  fi
}

echo "cryo-crd listener benchmark ($(nproc) cores, loopback, ${DURATION}s per keep-alive run)" >&2

# 1. Idle keep-alive connections and slow-header clients held open; a fresh client's calls.
start_crd idle --no-store --config <(echo '{"server": {"keep_alive_seconds": 120, "header_timeout_seconds": 60}}')
out="$("$LOAD" idle "$PORT" "$PID" 1000 100 300)"
p99="$(field fresh_p99_ms "$out")"
growth="$(field rss_growth_mib "$out")"
row "1,000 idle + 100 slow-header clients: fresh order-sign p99 ms" "$p99" "-" "<= 20" "$(ok "$p99" "<=" 20)"
row "  same: server RSS growth MiB" "$growth" "-" "<= 64" "$(ok "$growth" "<=" 64)"
kill "$PID"
wait "$PID" 2>/dev/null || true

# 2. Keep-alive clients, unique hookInstance per call, store off; the floor beside.
start_crd ka --no-store --config <(echo '{"server": {"max_connections": 4096}}')
floor_ok=0
if [ -x "$FLOOR" ]; then start_floor; [ -n "$FLOOR_PORT" ] && floor_ok=1; fi
for c in 8 32 128 512; do
  read -r rps p99 errs <<<"$(keep_alive "$PORT" "$c")"
  if [ "$floor_ok" = 1 ]; then
    read -r frps fp99 ferrs <<<"$(keep_alive "$FLOOR_PORT" "$c")"
    ratio="$(awk -v a="$rps" -v b="$frps" 'BEGIN { r = 0; if (b > 0) r = 100 * a / b; printf "%.0f", r }')"
    row "$c keep-alive clients: calls/s (% of floor)" "$rps ($ratio%)" "$frps" ">= 60%" "$(ok "$ratio" ">=" 60)"
    row "  same: p99 ms" "$p99" "$fp99" "$([ "$c" = 32 ] && echo '<= 10' || echo '-')" \
      "$([ "$c" = 32 ] && ok "$p99" "<=" 10 || echo '-')"
  else
    row "$c keep-alive clients: calls/s" "$rps" "no floor" ">= 60% of floor" "-"
    row "  same: p99 ms" "$p99" "no floor" "$([ "$c" = 32 ] && echo '<= 10' || echo '-')" \
      "$([ "$c" = 32 ] && ok "$p99" "<=" 10 || echo '-')"
  fi
  row "  same: socket errors" "$errs" "${ferrs:-"-"}" "0" "$(ok "$errs" "<=" 0)"
done
kill "$PID"
wait "$PID" 2>/dev/null || true

# 3. Gzip bombs and huge chunked bodies, 10 of each at once.
start_crd bombs --no-store
out="$("$LOAD" bombs "$PORT" "$PID" 10)"
for k in refused_254k refused_1m refused_chunked; do
  v="$(field "$k" "$out")"
  row "10 x ${k#refused_} body at once: refused" "$v" "-" "all" "$([ "${v%/*}" = "${v#*/}" ] && echo yes || echo NO)"
done
peak="$(field peak_growth_mib "$out")"
after="$(field after_growth_mib "$out")"
row "  same: server RSS growth MiB (peak)" "$peak" "-" "<= 32" "$(ok "$peak" "<=" 32)"
row "  same: server RSS growth MiB (afterwards)" "$after" "-" "<= 8" "$(ok "$after" "<=" 8)"
kill "$PID"
wait "$PID" 2>/dev/null || true

# 4. SIGTERM during a 32-client burst, store on (SQLite): every 200 has its record.
mkdir -p "$tmp/store"
start_crd drain --data "$tmp/store"
out="$("$LOAD" drain "$PORT" "$PID" 32 1500 "$tmp/ok.txt")"
wait "$PID" 2>/dev/null || true
answered="$(field answered_200 "$out")"
resets="$(field reset "$out")"
missing="n/a"
if command -v sqlite3 >/dev/null; then
  sqlite3 "$tmp/store/cryo-audit.sqlite3" "select hook_instance from hook_calls" | sort >"$tmp/stored.txt"
  sort "$tmp/ok.txt" >"$tmp/ok.sorted"
  missing="$(comm -23 "$tmp/ok.sorted" "$tmp/stored.txt" | wc -l)"
fi
row "SIGTERM in a 32-client burst: answered 200" "$answered" "-" "-" "-"
row "  same: answered 200 without a committed record" "$missing" "-" "0" "$(ok "$missing" "<=" 0)"
row "  same: refused cleanly / reset in flight" "$(field refused_cleanly "$out") / $resets" "-" "- / 0" "$(ok "$resets" "<=" 0)"

printf '| %-58s | %-14s | %-12s | %-16s | %-4s |\n' "figure" "cryo-crd" "floor" "target" "met"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..60})" "$(printf -- '-%.0s' {1..16})" \
  "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..18})" "$(printf -- '-%.0s' {1..6})"
printf '%s\n' "${rows[@]}"
