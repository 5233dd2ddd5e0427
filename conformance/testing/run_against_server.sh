#!/usr/bin/env bash
# Starts the real server on a free loopback port and runs the conformance runner against it
# with every golden scenario (how CI runs the conformance suite).
#
# usage: run_against_server.sh CRYO_CRD CRD_CONFORMANCE SCENARIOS_DIR REPORT_PREFIX [--tls]
#            [--signed ES384|RS384 | --signed-with JWKS_FILE ISS KID] [runner args...]
#
# With --tls, the server serves HTTPS with a freshly made self-signed certificate, which the
# runner is told to trust.
#
# Without --signed*, the server trusts no CDS client and takes unsigned calls (loopback only).
# With --signed ALG, a fresh key pair is generated (openssl): the server trusts its public JWK
# Set through a "trust" configuration, and the runner signs every call with the private one,
# so the runner's 401 checks (no token, forged signature, expired token, an unknown key behind
# a jku the server must not fetch) run against cryo-crd.
# --signed-with does the same with an existing JWK Set holding private keys (e.g. the Inferno
# CRD test kit's crd_jwks.json); it is skipped (exit 77) when that file is absent.
set -euo pipefail
server_bin="$1"; runner_bin="$2"; scenarios="$3"; report="$4"; shift 4

work="$(mktemp -d "${TMPDIR:-/tmp}/cryo-conformance-XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Writes a private JWK Set (for the runner) and its public half (for the server) for a key
# in PEM, from `openssl pkey -text` output.
pem_to_jwks() {  # KEY_PEM ALG KID PRIVATE_OUT PUBLIC_OUT
  openssl pkey -in "$1" -text -noout | python3 -c '
import base64, json, re, sys
alg, kid, private_out, public_out = sys.argv[1:5]
fields, name = {}, None
for line in sys.stdin:
    m = re.match(r"^(\w+):\s*(.*)$", line)
    if m:
        name = m.group(1)
        rest = m.group(2)
        fields[name] = rest if rest else ""
    elif name and line.startswith(" "):
        fields[name] += line.strip()
def raw(name, size=None):
    value = bytes.fromhex(fields[name].replace(":", ""))
    if size is not None:
        value = value.lstrip(b"\0").rjust(size, b"\0")
    else:
        value = value.lstrip(b"\0")
    return value
def b64(value):
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()
if alg == "ES384":
    pub = raw("pub")
    assert pub[0] == 4 and len(pub) == 97, "not an uncompressed P-384 point"
    public = {"kty": "EC", "crv": "P-384", "x": b64(pub[1:49]), "y": b64(pub[49:97])}
    private = dict(public, d=b64(raw("priv", 48)))
else:
    exponent = int(fields["publicExponent"].split()[0])
    public = {"kty": "RSA", "n": b64(raw("modulus")),
              "e": b64(exponent.to_bytes((exponent.bit_length() + 7) // 8, "big"))}
    private = dict(public, d=b64(raw("privateExponent")), p=b64(raw("prime1")),
                   q=b64(raw("prime2")), dp=b64(raw("exponent1")), dq=b64(raw("exponent2")),
                   qi=b64(raw("coefficient")))
for key in (public, private):
    key.update({"kid": kid, "alg": alg})
public.update({"use": "sig", "key_ops": ["verify"]})
json.dump({"keys": [private]}, open(private_out, "w"), indent=1)
json.dump({"keys": [public]}, open(public_out, "w"), indent=1)
' "$2" "$3" "$4" "$5"
}

tls=""
if [[ "${1:-}" == "--tls" ]]; then
  tls=1
  shift
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$work/tls-key.pem" -out "$work/tls-cert.pem" 2>/dev/null
fi

signed=""
runner_signing=()
case "${1:-}" in
  --signed)
    alg="$2"; shift 2
    kid="conformance-$(echo "$alg" | tr 'A-Z' 'a-z')-$$"
    iss="https://conformance-runner.example"
    case "$alg" in
      ES384) openssl ecparam -name secp384r1 -genkey -noout -out "$work/key.pem" 2>/dev/null ;;
      RS384) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/key.pem" 2>/dev/null ;;
      *) echo "--signed needs ES384 or RS384, not '$alg'" >&2; exit 2 ;;
    esac
    pem_to_jwks "$work/key.pem" "$alg" "$kid" "$work/client-private.jwks.json" "$work/client.jwks.json"
    rm -f "$work/key.pem"
    signed="$work/client.jwks.json"
    runner_signing=(--jwks "$work/client-private.jwks.json" --iss "$iss" --kid "$kid")
    ;;
  --signed-with)
    jwks="$2"; iss="$3"; kid="$4"; shift 4
    if [[ ! -f "$jwks" ]]; then
      echo "skipped: no JWK Set at $jwks"
      exit 77
    fi
    signed="$jwks"
    runner_signing=(--jwks "$jwks" --iss "$iss" --kid "$kid")
    ;;
esac

serve_args=(serve --bind 127.0.0.1 --data "$work/store")
scheme=http
runner_tls=()
if [[ -n "$tls" ]]; then
  serve_args+=(--tls-cert "$work/tls-cert.pem" --tls-key "$work/tls-key.pem")
  scheme=https
  runner_tls=(--ca-cert "$work/tls-cert.pem")
fi
# What is checked here is CRD conformance, not the store's deadline: the store may wait up to
# 5 s for a commit, so that a test machine whose disk is busy with other tests does not turn
# a slow fsync into a 503 that fails a conformance check (the deadline has its own tests).
python3 -c '
import json, sys
iss, jwks, out = sys.argv[1:4]
config = {"store": {"deadline_ms": 5000}}
if jwks:
    config["trust"] = {"issuers": [{"iss": iss, "jwks_file": jwks}]}
json.dump(config, open(out, "w"), indent=1)
' "${iss:-}" "$signed" "$work/crd.json"
serve_args+=(--config "$work/crd.json")

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
log="${report}-server.log"
"$server_bin" "${serve_args[@]}" --port "$port" >"$log" 2>&1 &
server_pid=$!

for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "cryo-crd serve exited early; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done

status=0
"$runner_bin" --base-url "$scheme://127.0.0.1:$port" --scenarios "$scenarios" \
  --report "${report}.json" --junit "${report}.xml" "${runner_tls[@]}" "${runner_signing[@]}" "$@" \
  | tee "$work/runner.out" || status=$?

if [[ -n "$signed" ]]; then
  # The signed run must have exercised the refusals, and the server must trust its issuer.
  for check in "call without a JWT answers 401" "JWT with a bad signature answers 401" \
               "expired JWT answers 401" "JWT by an unknown key behind its own jku answers 401" \
               "a jku the server was not given is never fetched"; do
    if ! grep -q "^PASS  negative: $check" "$work/runner.out"; then
      echo "signed run: the check '$check' did not pass" >&2
      status=1
    fi
  done
  if grep -q "NO TRUSTED CDS CLIENT" "$log"; then
    echo "signed run: the server did not load the trust configuration" >&2
    status=1
  fi
  # Tokens never reach the log (a JWT starts with base64url of '{"', i.e. "eyJ").
  if grep -q "eyJ" "$log"; then
    echo "signed run: the server log contains what looks like a token" >&2
    status=1
  fi
fi

# In a sanitizer build (scripts/sanitize.sh) the server's own report — a memory error,
# undefined behaviour, or a leak found when it exits — fails the run too.
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=""
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|: runtime error: " "$log"; then
  echo "cryo-crd serve reported a sanitizer finding; its log:" >&2
  grep -A60 -E "ERROR: (AddressSanitizer|LeakSanitizer)|: runtime error: " "$log" | head -n 120 >&2
  status=1
fi
exit "$status"
