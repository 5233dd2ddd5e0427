#!/usr/bin/env bash
# The side-by-side benchmark: one command, one run, one table.
#
#   bench/side_by_side.sh                    # from the repository root (builds what it needs)
#   DURATION=10 CLIENTS="1 8 32 128" bench/side_by_side.sh
#
# Builds cryo-crd, the floor server (bench/floor_server.cc), the large chart writer
# (bench_order_sign) and the throw-away PostgreSQL starter (audit_test_pg), then drives with
# wrk (keep-alive, a unique hookInstance per call: bench/wrk/hook_call.lua):
#   floor        cpp-httplib + RapidJSON parse, constant answer
#   store off    cryo-crd serve --no-store
#   SQLite       cryo-crd serve --data DIR (the default store; synchronous=FULL)
#   PostgreSQL   cryo-crd serve --db URL (a local throw-away cluster, fsync on,
#                synchronous_commit=on)
# at each client count, with the docs example order-sign; then the large chart (the 197 kB
# record of bench_order_sign) at 8 clients; then the missing-prefetch path (no prefetch, data
# read after FHIR_DELAY_MS from the Node.js FHIR server of tests/fhir-server and from
# bench_fhir_responder, a fixed-delay server with negligible work per request) as a ratio to
# one round trip to that server. It measures one fdatasync on the disk the stores
# live on (BENCH_DIR, default the system temp dir) and prints it.
#
# Output: one Markdown table (calls/s, p50, p90, p99, errors, ratio of calls/s to the floor at
# the same client count, and for the store rows to the store off). Needs wrk, node (tests/fhir-server installed), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR="${BUILD_DIR:-build}"
DURATION="${DURATION:-8}"
CLIENTS="${CLIENTS:-1 8 32 128}"
LARGE_CLIENTS="${LARGE_CLIENTS:-8}"
FHIR_DELAY_MS="${FHIR_DELAY_MS:-20}"
BODY="$ROOT/docs/examples/order-sign-florida-blue.json"
LUA="$ROOT/bench/wrk/hook_call.lua"
SERVICE_PATH=/cds-services/order-sign-crd

command -v wrk >/dev/null || { echo "side_by_side: wrk is missing (scripts/install-deps.sh)" >&2; exit 1; }

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" --target cryo-crd bench_floor_server bench_fhir_responder \
  bench_order_sign audit_test_pg \
  -j"${JOBS:-2}" >/dev/null
CRYO="$BUILD_DIR/cryo-crd"
FLOOR="$BUILD_DIR/bench/bench_floor_server"

WORK="$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/cryo-side-by-side.XXXXXX")"
chmod 755 "$WORK"  # the PostgreSQL server user reaches its own directory below
PIDS=()
PG_STATE="$WORK/pg.state"
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  [ -f "$PG_STATE" ] && "$BUILD_DIR/tests/audit/audit_test_pg" stop "$PG_STATE" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

# Waits for "PORT=<n>" (floor, FHIR server) or cryo-crd's "serving ... port=<n>" in a file.
wait_port() {
  local file=$1 pid=$2 port=""
  for _ in $(seq 1 400); do
    port=$(grep -oE '(PORT=|port=)[0-9]+' "$file" 2>/dev/null | head -1 | cut -d= -f2 || true)
    [ -n "$port" ] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || { echo "side_by_side: server exited:" >&2; cat "$file" >&2; return 1; }
    sleep 0.05
  done
  echo "side_by_side: server did not start" >&2
  return 1
}

start() {  # start NAME CMD...: runs CMD, sets PORT and LAST_PID
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  PORT=$(wait_port "$WORK/$name.log" "$LAST_PID")
}

stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

declare -A ROWS FLOOR_RPS OFF_RPS  # ROWS: a server's table rows

# run LABEL KIND CLIENTS URL BODY: one wrk run; appends a table row.
run() {
  local label=$1 kind=$2 c=$3 url=$4 body=$5
  local t=$(( c < 2 ? 1 : 2 ))
  local out
  out=$(wrk -t"$t" -c"$c" -d"${DURATION}s" --timeout 10s --latency -s "$LUA" "$url" -- "$body" \
        | grep '^RESULT')
  local rps p50 p90 p99 errors
  rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$out")
  p50=$(sed -E 's/.* p50=([0-9]+).*/\1/' <<<"$out")
  p90=$(sed -E 's/.* p90=([0-9]+).*/\1/' <<<"$out")
  p99=$(sed -E 's/.* p99=([0-9]+).*/\1/' <<<"$out")
  errors=$(sed -E 's/.* errors=([0-9]+).*/\1/' <<<"$out")
  [ "$label" = floor ] && FLOOR_RPS["$kind-$c"]=$rps
  [ "$label" = "store off" ] && OFF_RPS["$kind-$c"]=$rps
  local floor=${FLOOR_RPS["$kind-$c"]:-0} off=${OFF_RPS["$kind-$c"]:-0}
  local ratio off_ratio="-"
  ratio=$(awk -v a="$rps" -v b="$floor" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  case "$label" in
    SQLite*|PostgreSQL*)
      off_ratio=$(awk -v a="$rps" -v b="$off" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }') ;;
  esac
  ROWS["$label"]+="$(awk -v l="$label ($kind)" -v c="$c" -v r="$rps" -v p50="$p50" -v p90="$p90" \
           -v p99="$p99" -v e="$errors" -v q="$ratio" -v o="$off_ratio" \
           'BEGIN { printf "| %s | %d | %.0f | %.2f | %.2f | %.2f | %d | %s | %s |\n", l, c, r,
                    p50 / 1000, p90 / 1000, p99 / 1000, e, q, o }')"$'\n'
  echo "  $label ($kind) c=$c: $rps calls/s p50 ${p50}us p99 ${p99}us errors $errors" >&2
}

# ---- one fdatasync on this disk ---------------------------------------------------------------
FSYNC_US=$(python3 - "$WORK" <<'EOF'
import os, sys, time, statistics
path = os.path.join(sys.argv[1], "fsync-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
block = os.urandom(4096)
samples = []
for _ in range(200):
    os.write(fd, block)
    t = time.perf_counter()
    os.fdatasync(fd)
    samples.append((time.perf_counter() - t) * 1e6)
os.close(fd)
os.unlink(path)
print(int(statistics.median(samples)))
EOF
)
echo "one fdatasync (4 kB append, median of 200): ${FSYNC_US} us" >&2

"$BUILD_DIR/bench/bench_order_sign" --write-large-chart "$WORK/large.json"

# ---- floor, store off, SQLite, PostgreSQL -----------------------------------------------------
# All four run at once and take turns at each client count, so that the ratios of a row
# compare runs seconds apart, not minutes (a shared machine's speed drifts).
SERVERS=()
declare -A URL_OF
start floor "$FLOOR" --port 0
SERVERS+=(floor); URL_OF[floor]="http://127.0.0.1:$PORT$SERVICE_PATH"
start off "$CRYO" serve --bind 127.0.0.1 --port 0 --no-store
SERVERS+=("store off"); URL_OF["store off"]="http://127.0.0.1:$PORT$SERVICE_PATH"
mkdir -p "$WORK/sqlite"
start sqlite "$CRYO" serve --bind 127.0.0.1 --port 0 --data "$WORK/sqlite"
SERVERS+=("SQLite store"); URL_OF["SQLite store"]="http://127.0.0.1:$PORT$SERVICE_PATH"
if "$BUILD_DIR/tests/audit/audit_test_pg" start "$PG_STATE" --durable >"$WORK/pg.log" 2>&1; then
  PG_URL=$(head -1 "$PG_STATE")
  start pg "$CRYO" serve --bind 127.0.0.1 --port 0 --db "$PG_URL"
  SERVERS+=("PostgreSQL store"); URL_OF["PostgreSQL store"]="http://127.0.0.1:$PORT$SERVICE_PATH"
else
  echo "side_by_side: PostgreSQL could not start; its rows are left out:" >&2
  cat "$WORK/pg.log" >&2
fi
for label in "${SERVERS[@]}"; do
  wrk -t1 -c4 -d1s -s "$LUA" "${URL_OF[$label]}" -- "$BODY" >/dev/null  # warm-up
done
for c in $CLIENTS; do
  for label in "${SERVERS[@]}"; do run "$label" example "$c" "${URL_OF[$label]}" "$BODY"; done
done
for label in "${SERVERS[@]}"; do
  run "$label" "large chart" "$LARGE_CLIENTS" "${URL_OF[$label]}" "$WORK/large.json"
done

# ---- missing prefetch: the record is read from a FHIR server answering after a delay ---------
# Twice: from the Node.js FHIR server of the tests (Medplum's router in one process: a few ms
# of CPU per search, so eight searches at once take longer than one, from any client), and
# from bench_fhir_responder (the same record, the same delay, negligible work per request),
# whose row is what the service adds to one round trip.
python3 - "$BODY" "$WORK" <<'EOF'
import json, sys
req = json.load(open(sys.argv[1]))
resources = []
for value in req.get("prefetch", {}).values():
    if value.get("resourceType") == "Bundle":
        resources += [e["resource"] for e in value.get("entry", []) if "resource" in e]
    else:
        resources.append(value)
json.dump({"resourceType": "Bundle", "type": "collection",
           "entry": [{"resource": r} for r in resources]},
          open(sys.argv[2] + "/record.json", "w"))
req.pop("prefetch")
req["fhirServer"] = "FHIR_BASE"
req["fhirAuthorization"] = {"access_token": "bench-token", "token_type": "Bearer",
                            "expires_in": 300, "scope": "patient/*.read", "subject": "cryo-crd"}
json.dump(req, open(sys.argv[2] + "/missing.json.in", "w"))
EOF
echo '{"fhir": {"query_missing_data": true}}' >"$WORK/fhir-config.json"
MISSING_ROWS=""

# missing_row LABEL CMD...: starts the FHIR server CMD, measures one round trip to it and the
# service's calls that read the record from it; appends a row.
missing_row() {
  local label=$1
  shift
  start fhir "$@"
  local fhir_pid=$LAST_PID fhir_port=$PORT
  sed "s#FHIR_BASE#http://127.0.0.1:$fhir_port/fhir#" "$WORK/missing.json.in" >"$WORK/missing.json"
  # One round trip: a search the service sends, keep-alive like the service; the median of 20
  # after 20 that warm the server up.
  local round_trip_us
  round_trip_us=$(python3 - "$fhir_port" <<'EOF'
import http.client, sys, time, statistics
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
samples = []
for _ in range(40):
    t = time.perf_counter()
    c.request("GET", "/fhir/Condition?patient=pat-1", headers={"Authorization": "Bearer bench-token"})
    c.getresponse().read()
    samples.append((time.perf_counter() - t) * 1e6)
print(int(statistics.median(samples[20:])))
EOF
)
  start missing "$CRYO" serve --bind 127.0.0.1 --port 0 --no-store --config "$WORK/fhir-config.json"
  # Warm-up, as for the other rows: the service's connections to the FHIR server are opened
  # (a FHIR server with a short listen backlog drops some of eight SYNs sent at once; the
  # client's retry then waits a second).
  wrk -t1 -c1 -d1s -s "$LUA" "http://127.0.0.1:$PORT$SERVICE_PATH" -- "$WORK/missing.json" >/dev/null
  local out
  out=$(wrk -t1 -c1 -d"${DURATION}s" --timeout 10s -s "$LUA" \
        "http://127.0.0.1:$PORT$SERVICE_PATH" -- "$WORK/missing.json" | grep '^RESULT')
  stop "$LAST_PID"
  stop "$fhir_pid"
  local m_p50 m_p99 m_rps m_err
  m_p50=$(sed -E 's/.* p50=([0-9]+).*/\1/' <<<"$out")
  m_p99=$(sed -E 's/.* p99=([0-9]+).*/\1/' <<<"$out")
  m_rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$out")
  m_err=$(sed -E 's/.* errors=([0-9]+).*/\1/' <<<"$out")
  echo "  missing prefetch ($label): p50 ${m_p50}us, one round trip ${round_trip_us}us" >&2
  MISSING_ROWS+="$(awk -v l="$label" -v r="$m_rps" -v p50="$m_p50" -v p99="$m_p99" -v e="$m_err" \
    -v rt="$round_trip_us" -v d="$FHIR_DELAY_MS" \
    'BEGIN { printf "| missing prefetch, %s, %d ms delay (store off) | 1 | %.0f | %.2f | - | %.2f | %d | p50 = %.2f x one round trip (%.2f ms) | |",
             l, d, r, p50 / 1000, p99 / 1000, e, p50 / rt, rt / 1000 }')"$'\n'
}

if command -v node >/dev/null && [ -d "$ROOT/tests/fhir-server/node_modules" ]; then
  missing_row "Node.js FHIR server" node "$ROOT/tests/fhir-server/server.mjs" --port 0 \
    --load "$WORK/record.json" --delay-ms "$FHIR_DELAY_MS"
else
  echo "side_by_side: node or tests/fhir-server/node_modules missing; no Node.js FHIR server row" >&2
fi
missing_row "fixed-delay FHIR responder" "$BUILD_DIR/bench/bench_fhir_responder" --port 0 \
  --load "$WORK/record.json" --delay-ms "$FHIR_DELAY_MS"

# ---- the table --------------------------------------------------------------------------------
echo
echo "Side by side, $(date -u +%Y-%m-%d), $(nproc) cores, wrk keep-alive, ${DURATION} s per row, unique hookInstance per call."
echo "One fdatasync on this disk: $(awk -v u="$FSYNC_US" 'BEGIN { printf "%.2f", u / 1000 }') ms (median)."
echo
echo "| server (body) | clients | calls/s | p50 ms | p90 ms | p99 ms | errors | vs floor | vs store off |"
echo "|---|---|---|---|---|---|---|---|---|"
for label in "${SERVERS[@]}"; do printf '%s' "${ROWS[$label]}" | sed '/^$/d'; done
printf '%s' "$MISSING_ROWS" | sed '/^$/d'
exit 0
