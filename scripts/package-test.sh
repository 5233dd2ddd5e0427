#!/usr/bin/env bash
# The Debian package, end to end, on this machine (as root): builds the .deb with CPack,
# installs it with dpkg -i, checks the FHS layout and the unit (systemd-analyze verify), starts
# the installed binary with the installed configuration the way systemd would (the unit's
# user, working directory /, its ExecStart; under systemd itself when systemd is PID 1),
# calls it, watches it (health, metrics through promtool, JSON log), changes a policy file and
# reloads with the unit's ExecReload (SIGHUP), stops it, and removes and purges the package.
#
#   scripts/package-test.sh            (after scripts/build.sh; CI runs it after scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
[ "$(id -u)" -eq 0 ] || { echo "package-test: must run as root (dpkg -i)"; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/cryo-package-test-XXXXXX")"
chmod 755 "$work"
server_pid=""
listener_pid=""
under_systemd=0
[ -d /run/systemd/system ] && under_systemd=1
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package-test: FAIL: $*" >&2; [ -f "$work/server.log" ] && tail -n 30 "$work/server.log" >&2; exit 1; }
step() { echo "package-test: $*"; }

# --- build and install ---------------------------------------------------------------------
cmake --build "$BUILD_DIR" --target cryo-crd crd-conformance --parallel "$(nproc)" >/dev/null
(cd "$BUILD_DIR" && rm -f cryo-crd_*.deb && cpack -G DEB >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log"; fail "cpack -G DEB"; }
deb="$(ls "$BUILD_DIR"/cryo-crd_*.deb)"
step "built $(basename "$deb")"
depends="$(dpkg-deb --field "$deb" Depends)"
for lib in libssl3 libpq5 libsqlite3-0 libstdc++6 adduser; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
step "Depends: $depends"
had_state=0
[ -d /var/lib/cryo-crd ] && had_state=1
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
step "installed: $(dpkg-query -W -f='${Package} ${Version}' cryo-crd)"
for f in /usr/bin/cryo-crd /usr/bin/crd-conformance /etc/cryo-crd/crd.json \
         /usr/lib/systemd/system/cryo-crd.service /usr/share/cryo-crd/policies/payers.json \
         /usr/share/cryo-crd/mappings/prefetch.json /usr/share/cryo-crd/scenarios \
         /usr/share/cryo-crd/card-text/card-text.json /usr/share/cryo-crd/demo/index.html; do
  [ -e "$f" ] || fail "$f not installed"
done
unit=/usr/lib/systemd/system/cryo-crd.service
user="$(sed -n 's/^User=//p' "$unit")"
group="$(sed -n 's/^Group=//p' "$unit")"
workdir="$(sed -n 's/^WorkingDirectory=//p' "$unit")"
exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
exec_reload="$(sed -n 's/^ExecReload=//p' "$unit")"
getent passwd "$user" >/dev/null || fail "user $user not created"
[ "$(stat -c %U /var/lib/cryo-crd)" = "$user" ] || fail "/var/lib/cryo-crd not owned by $user"
/usr/bin/cryo-crd --version | grep -q '^data sha256:' || fail "--version"
/usr/bin/cryo-crd serve --help | grep -q 'usage:' || fail "serve --help"

if command -v systemd-analyze >/dev/null 2>&1; then
  if out="$(systemd-analyze verify "$unit" 2>&1)"; then
    step "systemd-analyze verify: ok"
  else
    echo "$out"; fail "systemd-analyze verify $unit"
  fi
else
  echo "package-test: SKIP systemd-analyze verify (systemd-analyze not installed)"
fi

# --- configure as an operator would ---------------------------------------------------------
# A free port, an admin token for /metrics, and the policies copied to /etc/cryo-crd/policies
# (a path relative to the configuration file) to be edited there.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
token="$(openssl rand -hex 32)"
digest="$(printf %s "$token" | sha256sum | cut -d' ' -f1)"
cp /etc/cryo-crd/crd.json "$work/crd.json.orig"
rm -rf /etc/cryo-crd/policies
cp -r /usr/share/cryo-crd/policies /etc/cryo-crd/policies
python3 - "$port" "$digest" <<'PY'
import json, sys
path = "/etc/cryo-crd/crd.json"
c = json.load(open(path))
c.setdefault("server", {})["port"] = int(sys.argv[1])
c["server"]["policies_dir"] = "policies"
c["admin"] = {"token_sha256": sys.argv[2]}
json.dump(c, open(path, "w"), indent=2)
PY

# --- start as systemd would -----------------------------------------------------------------
notify="$work/notify.sock"
python3 - "$notify" "$work/notifications" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode().replace("\n", " ") + "\n")
PY
listener_pid=$!
base="http://127.0.0.1:$port"
if [ "$under_systemd" -eq 1 ]; then
  step "systemd is PID 1: systemctl restart cryo-crd"
  systemctl daemon-reload
  systemctl restart cryo-crd.service || { journalctl -u cryo-crd -n 30 --no-pager; fail "systemctl restart"; }
  server_pid="$(systemctl show -p MainPID --value cryo-crd.service)"
else
  step "no systemd: running '$exec_start' as $user:$group in $workdir"
  for _ in $(seq 50); do [ -S "$notify" ] && break; sleep 0.1; done
  # shellcheck disable=SC2086
  (cd "$workdir" && exec setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
     env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NOTIFY_SOCKET="$notify" $exec_start) \
     2>"$work/server.log" &
  server_pid=$!
fi
for _ in $(seq 100); do
  curl -fs "$base/health/live" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$base/health/live" >/dev/null || fail "not live on $base"
[ "$(stat -c %U /proc/"$server_pid")" = "$user" ] || fail "server runs as $(stat -c %U /proc/"$server_pid"), not $user"
if [ "$under_systemd" -eq 0 ]; then
  for _ in $(seq 50); do grep -q 'READY=1' "$work/notifications" 2>/dev/null && break; sleep 0.1; done
  grep -q 'READY=1' "$work/notifications" || fail "no READY=1 on NOTIFY_SOCKET"
  step "READY=1 received"
fi

# --- call it and watch it -------------------------------------------------------------------
curl -fs "$base/health/ready" | grep -q '"status":"ready"' || fail "not ready: $(curl -s "$base/health/ready")"
call() {
  sed "s/5f4c9f0e-8d8b-4c1e-9f5a-2b8e6c1d7a31/$1/" docs/examples/order-sign-florida-blue.json |
    curl -fs -X POST "$base/cds-services/order-sign-crd" -H 'Content-Type: application/json' --data @-
}
call "package-1" | grep -q '"covered"' || fail "order-sign call"
grep -q '2024-09-15' <(call "package-2") || fail "answer without the policy revision"
[ -f /var/lib/cryo-crd/cryo-audit.sqlite3 ] || fail "no audit store in /var/lib/cryo-crd"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/metrics")" = "401" ] || fail "/metrics without token"
curl -fs -H "Authorization: Bearer $token" "$base/metrics" >"$work/metrics.txt" || fail "/metrics"
grep -q 'cryo_crd_hook_calls_total{service="order-sign-crd",status="200"} 2' "$work/metrics.txt" ||
  fail "hook call counter: $(grep hook_calls_total "$work/metrics.txt")"
if command -v promtool >/dev/null 2>&1; then
  promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics"
  step "promtool check metrics: ok"
else
  echo "package-test: SKIP promtool check metrics (promtool not installed)"
fi

# --- change a policy and reload with the unit's ExecReload ----------------------------------
sed -i 's/"revision": "2024-09-15"/"revision": "2026-11-30"/' /etc/cryo-crd/policies/florida-blue.json
if [ "$under_systemd" -eq 1 ]; then
  systemctl reload cryo-crd.service
else
  MAINPID="$server_pid" eval "${exec_reload//\$MAINPID/$server_pid}"
fi
for _ in $(seq 50); do grep -q '2026-11-30' <(call "package-r$RANDOM") && break; sleep 0.1; done
grep -q '2026-11-30' <(call "package-3") || fail "reload did not pick up the changed policy"
step "reloaded: the changed policy answers"
if [ "$under_systemd" -eq 0 ]; then
  grep -q '"msg":"reloaded"' "$work/server.log" || fail "no reload line in the log"
  grep -q 'RELOADING=1' "$work/notifications" || fail "no RELOADING=1"
  # One JSON line per call, no token in the log.
  python3 - "$work/server.log" <<'PY' || fail "log lines are not JSON objects"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip() and not l.startswith("+")]  # (set -x lines)
calls = [json.loads(l) for l in lines]
assert sum(1 for c in calls if c.get("msg") == "hook call") >= 3, calls
PY
  grep -q "$token" "$work/server.log" && fail "the admin token was logged"
fi

# --- stop and remove ------------------------------------------------------------------------
if [ "$under_systemd" -eq 1 ]; then
  systemctl stop cryo-crd.service
else
  kill -TERM "$server_pid"
  wait "$server_pid" || fail "server exited with $? on SIGTERM"
  grep -q 'STOPPING=1' "$work/notifications" || fail "no STOPPING=1"
fi
server_pid=""
step "stopped cleanly"
rm -rf /etc/cryo-crd/policies
dpkg -r cryo-crd >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -r"; }
for f in /usr/bin/cryo-crd /usr/bin/crd-conformance /usr/share/cryo-crd "$unit"; do
  [ ! -e "$f" ] || fail "$f left after dpkg -r"
done
[ -f /etc/cryo-crd/crd.json ] || fail "dpkg -r removed the configuration (a conffile stays until purge)"
dpkg -P cryo-crd >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -P"; }
[ ! -e /etc/cryo-crd/crd.json ] || fail "/etc/cryo-crd/crd.json left after purge"
dpkg-query -W cryo-crd >/dev/null 2>&1 && fail "package still known to dpkg"
[ "$had_state" -eq 0 ] && rm -rf /var/lib/cryo-crd   # this test's audit records only
step "removed and purged"
echo "package-test: PASS"
