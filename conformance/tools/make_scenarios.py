#!/usr/bin/env python3
"""Writes the golden CRD scenarios into conformance/scenarios/ (one JSON file per case).

One source: the scenarios are the policy test cases that carry a FHIR record
(policies/data/<policy>.tests.json, format in docs/policy-format.md), written by
`cryo-crd policies scenarios`. Adding a payer or a case touches only those data files; run
this after editing them:

    python3 conformance/tools/make_scenarios.py [--binary build/cryo-crd]
    python3 conformance/tools/make_scenarios.py --check     # fails if the committed files differ

Besides, the verbatim "foreign-" examples (requests from the CRD guide and the Inferno kit)
are copied from the reference material when it is present (else the committed copies stay).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "conformance", "scenarios")
REF = os.path.normpath(os.path.join(ROOT, "..", "shared", "reference"))
FOREIGN = [("foreign-davinci-crd-2.1.0-request", "davinci-crd-2.1.0/CRDServiceRequest.json"),
           ("foreign-davinci-crd-2.1.0-request-2", "davinci-crd-2.1.0/CRDServiceRequest2.json"),
           ("foreign-inferno-order-sign", "inferno-crd-test-kit/fixtures/order_sign_hook_request.json")]


def write_foreign(out):
    for name, rel in FOREIGN:
        path = os.path.join(REF, rel)
        if not os.path.exists(path):
            continue  # keep the committed copy
        with open(path) as f:
            request = json.load(f)
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump({"name": name,
                       "description": "Verbatim example request from " + rel + " (not a cryoablation order of a known payer): the server must give a valid answer, not crash.",
                       "request": request,
                       "expected": {"status": [200, 400, 412, 422]}}, f, indent=1)
            f.write("\n")


def generate(binary, out):
    subprocess.run([binary, "policies", "scenarios", out,
                    "--policies", os.path.join(ROOT, "policies", "data"),
                    "--mappings", os.path.join(ROOT, "mappings", "data")], check=True)


def scenarios(directory):
    out = {}
    for f in sorted(os.listdir(directory)):
        if f.endswith(".json") and not f.startswith("foreign-"):
            with open(os.path.join(directory, f)) as fh:
                out[f] = json.load(fh)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "cryo-crd"))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if not args.check:
        generate(args.binary, OUT)
        write_foreign(OUT)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(args.binary, tmp)
        fresh, committed = scenarios(tmp), scenarios(OUT)
    problems = []
    for name in sorted(set(fresh) | set(committed)):
        if name not in committed:
            problems.append("%s: generated from the test cases but not committed" % name)
        elif name not in fresh:
            problems.append("%s: committed but no test case gives it" % name)
        elif fresh[name] != committed[name]:
            problems.append("%s: differs from what its test case gives" % name)
    for p in problems:
        print("FAIL " + p)
    print("%d scenarios, %d out of date" % (len(fresh), len(problems)))
    if problems:
        print("run: python3 conformance/tools/make_scenarios.py")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
