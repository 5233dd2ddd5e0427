#!/usr/bin/env python3
"""Checks that every scenario in a directory is well-formed (see conformance/README.md).

usage: lint_scenarios.py DIR     exit 1 and one line per problem when something is wrong
"""
import json
import os
import sys

ORDER_FIELDS = {
    "covered": {"covered", "not-covered", "conditional", "indeterminate"},
    "pa-needed": {"no-auth", "auth-needed", "satisfied", "performpa", "conditional", "indeterminate"},
    "doc-needed": {"clinical", "admin", "patient", "conditional", "indeterminate"},
    "doc-purpose": {"withpa", "withclaim", "withorder", "retain-doc", "OTH"},
    "info-needed": {"performer", "location", "timeframe", "contract-window", "OTH", "detail-code"},
}


def lint(path, problems):
    where = os.path.basename(path)
    try:
        with open(path) as f:
            s = json.load(f)
    except ValueError as e:
        problems.append("%s: not JSON (%s)" % (where, e))
        return None
    if not isinstance(s, dict):
        problems.append("%s: not an object" % where)
        return None
    for k in s:
        if k not in {"name", "description", "hook", "service", "patientId", "userId", "encounterId",
                     "record", "draftOrders", "extension", "request", "expected"}:
            problems.append("%s: unknown member '%s'" % (where, k))
    if not s.get("name") or not s.get("description"):
        problems.append("%s: name and description are required" % where)
    drafts = set()
    if "request" in s:
        if not isinstance(s["request"], dict):
            problems.append("%s: request must be an object" % where)
    else:
        if not s.get("patientId"):
            problems.append("%s: patientId is required" % where)
        record = s.get("record")
        if not isinstance(record, list) or not record:
            problems.append("%s: record must be a non-empty array of resources" % where)
            record = []
        ids = set()
        for r in record:
            key = "%s/%s" % (r.get("resourceType"), r.get("id"))
            if key in ids:
                problems.append("%s: %s appears twice in record" % (where, key))
            ids.add(key)
        if "Patient/%s" % s.get("patientId") not in ids:
            problems.append("%s: the record has no Patient/%s" % (where, s.get("patientId")))
        for o in s.get("draftOrders") or []:
            drafts.add("%s/%s" % (o.get("resourceType"), o.get("id")))
        if not drafts:
            problems.append("%s: draftOrders must hold at least one order" % where)
    exp = s.get("expected", {})
    status = exp.get("status", 200)
    statuses = status if isinstance(status, list) else [status]
    if not all(isinstance(x, int) and 100 <= x <= 599 for x in statuses):
        problems.append("%s: expected.status must be an HTTP status or a list of them" % where)
    for key, o in (exp.get("orders") or {}).items():
        if drafts and key not in drafts:
            problems.append("%s: expected.orders names %s, which is not a draft order" % (where, key))
        if o is None:
            continue
        for field, value in o.items():
            if field == "reasonContains":
                continue
            if field not in ORDER_FIELDS:
                problems.append("%s: %s: unknown field '%s'" % (where, key, field))
                continue
            values = value if isinstance(value, list) else [] if value is None else [value]
            for v in values:
                if v not in ORDER_FIELDS[field]:
                    problems.append("%s: %s: %s '%s' is not a valid code" % (where, key, field, v))
        if o.get("covered") == "not-covered" and o.get("pa-needed"):
            problems.append("%s: %s: not-covered with pa-needed contradicts CRD (q2)" % (where, key))
    return s.get("name")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    problems, names = [], {}
    files = sorted(f for f in os.listdir(sys.argv[1]) if f.endswith(".json"))
    for f in files:
        name = lint(os.path.join(sys.argv[1], f), problems)
        if name in names:
            problems.append("%s: name '%s' also used by %s" % (f, name, names[name]))
        names[name] = f
    for p in problems:
        print(p)
    print("%d scenarios, %d problems" % (len(files), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
