#!/usr/bin/env python3
"""Writes the fuzz targets' committed inputs: the public JWK Set the token target trusts
(fresh P-384 and RSA keys, public parts only; the private keys are thrown away, so no input
can verify) and token-shaped seeds, plus hook requests built from the golden scenarios.

    tests/fuzz/make_seeds.py      # run from anywhere; rewrites data/ and seeds/
"""
import base64
import json
import os
import pathlib

from cryptography.hazmat.primitives.asymmetric import ec, rsa

here = pathlib.Path(__file__).resolve().parent
root = here.parent.parent


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def int_b64u(n: int, length: int) -> str:
    return b64u(n.to_bytes(length, "big"))


ec_key = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_numbers()
jwks = {"keys": [
    {"kty": "EC", "crv": "P-384", "alg": "ES384", "use": "sig", "kid": "fuzz-es384",
     "x": int_b64u(ec_key.x, 48), "y": int_b64u(ec_key.y, 48)},
    {"kty": "RSA", "alg": "RS384", "use": "sig", "kid": "fuzz-rs384",
     "n": int_b64u(rsa_key.n, 256), "e": int_b64u(rsa_key.e, 3)},
]}
(here / "data").mkdir(exist_ok=True)
(here / "data" / "jwt-trust-jwks.json").write_text(json.dumps(jwks, indent=2) + "\n")

iss = "https://inferno.healthit.gov/suites/custom/crd_server"
aud = "http://127.0.0.1:8080/cds-services/order-sign-crd"
claims = {"iss": iss, "aud": aud, "exp": 1795000000, "iat": 1794999700, "jti": "seed-1"}
headers = [
    {"alg": "ES384", "typ": "JWT", "kid": "fuzz-es384",
     "jku": "https://inferno.healthit.gov/suites/custom/crd_server/jwks.json"},
    {"alg": "RS384", "typ": "JWT", "kid": "fuzz-rs384"},
    {"alg": "none", "typ": "JWT", "kid": "fuzz-es384"},
    {"alg": "HS256", "typ": "JWT", "kid": "fuzz-es384"},
    {"alg": "ES384", "typ": "JWT", "kid": "fuzz-es384", "crit": ["exp"]},
]
seeds = here / "seeds" / "jwt"
seeds.mkdir(parents=True, exist_ok=True)
for i, h in enumerate(headers):
    sig = b64u(os.urandom(96 if h["alg"] == "ES384" else 256))
    token = b64u(json.dumps(h).encode()) + "." + b64u(json.dumps(claims).encode()) + "." + sig
    (seeds / f"token-{i}.txt").write_text("Bearer " + token)
(seeds / "jwks.json").write_text(json.dumps(jwks))

# Hook requests from the golden scenarios: the record as full prefetch, the way an EHR sends it.
hooks = here / "seeds" / "hook_call"
hooks.mkdir(parents=True, exist_ok=True)
for old in hooks.glob("*.json"):
    old.unlink()
templates = json.loads((root / "mappings" / "data" / "prefetch.json").read_text())["prefetch"]
for path in sorted((root / "conformance" / "scenarios").glob("*.json"))[::6]:
    s = json.loads(path.read_text())
    if "record" not in s or "draftOrders" not in s:
        continue
    record = s["record"] if isinstance(s["record"], list) else []
    prefetch = {}
    for template in templates:
        wanted = template["query"].split("?")[0].split("/")[0]
        found = [r for r in record if r.get("resourceType") == wanted
                 or (wanted == "Coverage" and r.get("resourceType") == "Organization")]
        if "?" not in template["query"]:
            prefetch[template["key"]] = found[0] if found else None
        else:
            prefetch[template["key"]] = {"resourceType": "Bundle", "type": "searchset",
                                         "entry": [{"resource": r} for r in found]}
    orders = s["draftOrders"]
    request = {
        "hook": s.get("hook", "order-sign"),
        "hookInstance": "fuzz-" + path.stem,
        "context": {"userId": "Practitioner/p1", "patientId": s.get("patientId", "pat-1"),
                    "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                    "entry": [{"resource": o} for o in orders]}
                    if isinstance(orders, list) else orders},
        "prefetch": prefetch,
    }
    (hooks / path.name).write_text(json.dumps(request))
