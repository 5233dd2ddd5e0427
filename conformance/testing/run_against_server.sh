#!/usr/bin/env bash
# Starts the real server on a free loopback port and runs the conformance runner against it
# with every golden scenario (how CI runs the conformance suite).
#
# usage: run_against_server.sh CRYO_CRD CRD_CONFORMANCE SCENARIOS_DIR REPORT_PREFIX [runner args...]
set -euo pipefail
server_bin="$1"; runner_bin="$2"; scenarios="$3"; report="$4"; shift 4

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
log="${report}-server.log"
"$server_bin" serve --bind 127.0.0.1 --port "$port" >"$log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "cryo-crd serve exited early; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done

"$runner_bin" --base-url "http://127.0.0.1:$port" --scenarios "$scenarios" \
  --report "${report}.json" --junit "${report}.xml" "$@"
