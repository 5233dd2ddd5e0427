#!/usr/bin/env python3
"""Writes the golden CRD scenarios into conformance/scenarios/ (one JSON file per case).

Every case below states its expected coverage decision explicitly, derived by hand from
/work/shared/reference/policy-reading-guide.md; the records use exactly the FHIR shapes of
input-contract.md. Re-run after editing: python3 conformance/tools/make_scenarios.py
"""
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "scenarios")

CRIT = "http://cryocrd.org/fhir/CodeSystem/criteria"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CPT = "http://www.ama-assn.org/go/cpt"
PAYER_SID = "http://cryocrd.org/fhir/sid/payer-id"
SOPT = "https://nahdo.org/sopt"
SOPT_OID = "urn:oid:2.16.840.1.113883.3.221.5"

DOS = "2025-06-15"          # date of service of every order unless a case says otherwise
OBS_DATE = "2025-05-20"     # clinical findings
DOC_DATE = "2025-05-01"     # documents inside the six-month window
PID = "pat1"

# ---------------------------------------------------------------------------------------------
# FHIR builders (shapes of input-contract.md)


def patient():
    return {"resourceType": "Patient", "id": PID, "name": [{"family": "Example", "given": ["Pat"]}],
            "gender": "female", "birthDate": "1958-04-02"}


def organization(payer):
    return {"resourceType": "Organization", "id": "payer-" + payer, "name": payer,
            "identifier": [{"system": PAYER_SID, "value": payer}]}


def coverage(payer, plan=None, sopt=None, sopt_system=SOPT):
    c = {"resourceType": "Coverage", "id": "cov1", "status": "active",
         "beneficiary": {"reference": "Patient/" + PID},
         "subscriberId": "M123456",
         "payor": [{"reference": "Organization/payer-" + payer}]}
    if sopt:
        c["type"] = {"coding": [{"system": sopt_system, "code": sopt}]}
    if plan:
        c["class"] = [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                                             "code": "plan"}]}, "value": plan, "name": plan}]
    return c


_ids = {}


def _id(prefix):
    _ids[prefix] = _ids.get(prefix, 0) + 1
    return "%s%d" % (prefix, _ids[prefix])


def condition(code, system=ICD, status="active", extension=None):
    c = {"resourceType": "Condition", "id": _id("cond"),
         "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                        "code": status}]},
         "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                            "code": "confirmed"}]},
         "code": {"coding": [{"system": system, "code": code}]},
         "subject": {"reference": "Patient/" + PID}}
    if extension:
        c["extension"] = extension
    return c


def obs(crit_code, date=OBS_DATE, **value):
    o = {"resourceType": "Observation", "id": _id("obs"), "status": "final",
         "code": {"coding": [{"system": CRIT, "code": crit_code}]},
         "subject": {"reference": "Patient/" + PID}, "effectiveDateTime": date}
    o.update(value)
    return o


def fact(crit_code, value, date=OBS_DATE):
    """Boolean fact from a local-code Observation."""
    return obs(crit_code, date, valueBoolean=value)


def resectability(value):
    """crit#unresectable or crit#resectable."""
    return obs("resectability", valueCodeableConcept={"coding": [{"system": CRIT, "code": value}]})


def lesion_count(n):
    return obs("hepatic-lesion-count", valueInteger=n)


def coded(crit_code, code):
    return obs(crit_code, valueCodeableConcept={"coding": [{"system": CRIT, "code": code}]})


def body_structure(site=10200004):
    return {"resourceType": "BodyStructure", "id": _id("bs"),
            "location": {"coding": [{"system": SCT, "code": str(site)}]},
            "patient": {"reference": "Patient/" + PID}}


def tumor_size(value, unit, focus=None, comparator=None, date=OBS_DATE):
    """mCODE TumorSize: 21889-1 with component 33728-7 (UCUM mm or cm)."""
    q = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    if comparator:
        q["comparator"] = comparator
    o = {"resourceType": "Observation", "id": _id("size"), "status": "final",
         "code": {"coding": [{"system": LOINC, "code": "21889-1"}]},
         "subject": {"reference": "Patient/" + PID}, "effectiveDateTime": date,
         "component": [{"code": {"coding": [{"system": LOINC, "code": "33728-7"}]}, "valueQuantity": q}]}
    if focus:
        o["focus"] = [{"reference": "BodyStructure/" + focus["id"]}]
    return o


def liver_lesion(value, unit, comparator=None, site=10200004):
    """A BodyStructure in the organ plus its size Observation."""
    bs = body_structure(site)
    return [bs, tumor_size(value, unit, bs, comparator)]


def psa(value, unit="ng/mL"):
    return {"resourceType": "Observation", "id": _id("psa"), "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "2857-1"}]},
            "subject": {"reference": "Patient/" + PID}, "effectiveDateTime": OBS_DATE,
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def docref(loinc, date=DOC_DATE, status="current"):
    return {"resourceType": "DocumentReference", "id": _id("doc"), "status": status,
            "type": {"coding": [{"system": LOINC, "code": loinc}]},
            "subject": {"reference": "Patient/" + PID}, "date": date + "T10:00:00Z",
            "content": [{"attachment": {"contentType": "text/plain", "title": loinc}}]}


def diagreport(loinc, date=DOC_DATE, status="final"):
    return {"resourceType": "DiagnosticReport", "id": _id("dr"), "status": status,
            "code": {"coding": [{"system": LOINC, "code": loinc}]},
            "subject": {"reference": "Patient/" + PID}, "effectiveDateTime": date}


def order(oid, cpt, dos=DOS, reason=None):
    o = {"resourceType": "ServiceRequest", "id": oid, "status": "draft", "intent": "original-order",
         "code": {"coding": [{"system": CPT, "code": cpt}]},
         "subject": {"reference": "Patient/" + PID},
         "occurrenceDateTime": dos, "authoredOn": "2025-06-01",
         "requester": {"reference": "Practitioner/dr-ablate"}}
    if reason:
        o["reasonCode"] = [{"coding": [{"system": CRIT, "code": reason}]}]
    return o


FB_DOCS_BASE = ["28626-0", "18733-6", "18776-5", "18726-0"]  # H&P, visit note, plan, radiology
HCC = lambda: condition("C22.0")
NET_LIVER = lambda: condition("C7B.02")
LIVER_METS = lambda: condition("C78.7")
CRC = lambda: condition("C18.7")

# Decisions (coverage-information expectations; None = must be absent)
COVERED_NOAUTH = {"covered": "covered", "pa-needed": "no-auth", "doc-needed": None,
                  "doc-purpose": None, "info-needed": None}
COVERED_NOAUTH_DOCS = {"covered": "covered", "pa-needed": "no-auth", "doc-needed": "clinical",
                       "doc-purpose": "withclaim", "info-needed": None}
NOT_COVERED = {"covered": "not-covered", "pa-needed": None, "doc-needed": None,
               "doc-purpose": None, "info-needed": None}
CONDITIONAL_NOAUTH = {"covered": "conditional", "pa-needed": "no-auth", "doc-needed": "clinical",
                      "doc-purpose": "withclaim", "info-needed": "OTH"}
COVERED_PA = {"covered": "covered", "pa-needed": "auth-needed", "doc-needed": None,
              "doc-purpose": None, "info-needed": None}
CONDITIONAL_PA = {"covered": "conditional", "pa-needed": "auth-needed", "doc-needed": "clinical",
                  "doc-purpose": "withpa", "info-needed": "OTH"}
COVERED_PA_DOCS = {"covered": "covered", "pa-needed": "auth-needed", "doc-needed": "clinical",
                   "doc-purpose": "withpa", "info-needed": None}
PROGRAM = {"covered": "conditional", "pa-needed": "conditional", "doc-needed": None,
           "doc-purpose": None, "info-needed": "OTH"}


def program(word):
    d = dict(PROGRAM)
    d["reasonContains"] = word
    return d


SCENARIOS = []


def scenario(name, description, payer, cov, record, orders, expected, cards=None):
    exp = {"status": 200, "orders": {"ServiceRequest/" + k: v for k, v in expected.items()}}
    if cards:
        exp["cards"] = cards
    flat = []
    for r in record:
        flat.extend(r if isinstance(r, list) else [r])
    SCENARIOS.append({
        "name": name, "description": description, "hook": "order-sign", "patientId": PID,
        "record": [patient(), organization(payer), cov] + flat,
        "draftOrders": orders, "expected": exp})


# ---------------------------------------------------------------------------------------------
# Florida Blue MCG 02-40000-22: unresectable OR poor surgical candidate; no PA; documents
# (each within six months before DOS, inclusive) H&P 28626-0, visit note 18733-6, treatment
# plan 18776-5, radiology 18726-0 or diagnostic study 27899-4, and co-morbidities 42126-3 when
# the decision rests on the comorbidity criterion. FEP/SAO follow their own guidelines.

def fb_docs(codes=FB_DOCS_BASE, date=DOC_DATE):
    return [docref(c, date) for c in codes]


fb_lobs = [("commercial", dict(), "no type and no plan: Commercial"),
           ("commercial-sopt", dict(sopt="6"), "SOPT 6 (BlueCross/BlueShield): Commercial"),
           ("medicare-advantage", dict(sopt="111", sopt_system=SOPT_OID), "SOPT 111: Medicare Advantage, guideline criteria apply")]

for lob, kw, lob_text in fb_lobs:
    scenario("florida-blue-%s-covered-unresectable-all-docs" % lob,
             "Florida Blue (%s). HCC, unresectable; all four required documents dated within six months: covered, no documentation needed." % lob_text,
             "florida-blue", coverage("florida-blue", **kw),
             [HCC(), resectability("unresectable"), fb_docs()],
             [order("sr1", "47383")], {"sr1": COVERED_NOAUTH})
    scenario("florida-blue-%s-not-covered-resectable-fit" % lob,
             "Florida Blue (%s). Liver metastases, resectable and not a poor surgical candidate: both criteria false, not-covered (documents are not assessed)." % lob_text,
             "florida-blue", coverage("florida-blue", **kw),
             [LIVER_METS(), CRC(), resectability("resectable"), fact("poor-surgical-candidate", False)],
             [order("sr1", "47381")], {"sr1": NOT_COVERED})
    scenario("florida-blue-%s-conditional-resectability-unknown" % lob,
             "Florida Blue (%s). HCC with no resectability or comorbidity finding: unknown, conditional (info-needed OTH, documents to collect)." % lob_text,
             "florida-blue", coverage("florida-blue", **kw),
             [HCC(), fb_docs()],
             [order("sr1", "47371")], {"sr1": CONDITIONAL_NOAUTH})

scenario("florida-blue-commercial-covered-missing-documents",
         "Florida Blue. Unresectable HCC, only the history and physical on file: covered, doc-needed clinical with the claim.",
         "florida-blue", coverage("florida-blue"),
         [HCC(), resectability("unresectable"), docref("28626-0")],
         [order("sr1", "47383")], {"sr1": COVERED_NOAUTH_DOCS})
scenario("florida-blue-commercial-document-outside-window",
         "Florida Blue. All documents present but the treatment plan is dated 2024-12-14, one day before the six-month window (2024-12-15..2025-06-15): doc-needed.",
         "florida-blue", coverage("florida-blue"),
         [HCC(), resectability("unresectable"), docref("28626-0"), docref("18733-6"),
          docref("18776-5", "2024-12-14"), docref("18726-0")],
         [order("sr1", "47383")], {"sr1": COVERED_NOAUTH_DOCS})
scenario("florida-blue-commercial-document-on-window-start",
         "Florida Blue. Treatment plan dated exactly six months before DOS (2024-12-15, inclusive) and radiology as a DiagnosticReport 18726-0: all documents found.",
         "florida-blue", coverage("florida-blue"),
         [HCC(), resectability("unresectable"), docref("28626-0"), docref("18733-6"),
          docref("18776-5", "2024-12-15"), diagreport("18726-0", "2025-06-15")],
         [order("sr1", "47383")], {"sr1": COVERED_NOAUTH})
scenario("florida-blue-commercial-diagnostic-study-instead-of-radiology",
         "Florida Blue. Diagnostic study 27899-4 satisfies 'radiology and/or other diagnostic studies'.",
         "florida-blue", coverage("florida-blue"),
         [HCC(), resectability("unresectable"), fb_docs(["28626-0", "18733-6", "18776-5", "27899-4"])],
         [order("sr1", "47383")], {"sr1": COVERED_NOAUTH})
scenario("florida-blue-commercial-superseded-document",
         "Florida Blue. The only treatment plan DocumentReference is superseded (status not current): doc-needed.",
         "florida-blue", coverage("florida-blue"),
         [HCC(), resectability("unresectable"), docref("28626-0"), docref("18733-6"),
          docref("18776-5", status="superseded"), docref("18726-0")],
         [order("sr1", "47383")], {"sr1": COVERED_NOAUTH_DOCS})
scenario("florida-blue-commercial-comorbidity-with-comorbidity-document",
         "Florida Blue. Resectable but poor surgical candidate: covered on the comorbidity criterion, which also requires the co-morbidities document 42126-3 (present).",
         "florida-blue", coverage("florida-blue"),
         [HCC(), resectability("resectable"), fact("poor-surgical-candidate", True),
          fb_docs(FB_DOCS_BASE + ["42126-3"])],
         [order("sr1", "47383")], {"sr1": COVERED_NOAUTH})
scenario("florida-blue-commercial-comorbidity-without-comorbidity-document",
         "Florida Blue. Covered on the comorbidity criterion; the four base documents are present but 42126-3 is missing: doc-needed.",
         "florida-blue", coverage("florida-blue"),
         [HCC(), resectability("resectable"), fact("poor-surgical-candidate", True), fb_docs()],
         [order("sr1", "47383")], {"sr1": COVERED_NOAUTH_DOCS})
scenario("florida-blue-commercial-no-liver-malignancy",
         "Florida Blue. Unresectable finding but no liver-malignancy Condition: indication unknown, conditional.",
         "florida-blue", coverage("florida-blue"),
         [resectability("unresectable"), fb_docs()],
         [order("sr1", "47383")], {"sr1": CONDITIONAL_NOAUTH})
scenario("florida-blue-commercial-non-policy-order",
         "Florida Blue. A liver order (covered) and a prostate cryoablation 55873 for which Florida Blue has no policy: no coverage-information for the second order.",
         "florida-blue", coverage("florida-blue"),
         [HCC(), resectability("unresectable"), fb_docs()],
         [order("sr1", "47383"), order("sr2", "55873")], {"sr1": COVERED_NOAUTH, "sr2": None})
scenario("florida-blue-commercial-resolved-condition-ignored",
         "Florida Blue. The HCC Condition is resolved (void), so no liver malignancy is known: conditional.",
         "florida-blue", coverage("florida-blue"),
         [condition("C22.0", status="resolved"), resectability("unresectable"), fb_docs()],
         [order("sr1", "47383")], {"sr1": CONDITIONAL_NOAUTH})

for plan, word in (("FEP", "FEP"), ("SAO", "SAO")):
    for label, rec in (("criteria-met", [HCC(), resectability("unresectable"), fb_docs()]),
                       ("criteria-not-met", [HCC(), resectability("resectable"), fact("poor-surgical-candidate", False)]),
                       ("criteria-unknown", [HCC()])):
        scenario("florida-blue-%s-%s" % (plan.lower(), label),
                 "Florida Blue plan %s: the program's own guidelines decide whatever the clinical criteria (%s): conditional, pa-needed conditional, info-needed OTH, no doc-needed." % (plan, label),
                 "florida-blue", coverage("florida-blue", plan=plan, sopt="6"), rec,
                 [order("sr1", "47383")], {"sr1": program(word)})

# ---------------------------------------------------------------------------------------------
# Medical Mutual 200802 (all LOBs). HCC: 47371/47381 only; (A or B) and C and D and E with
# A = unresectable or poor surgical candidate, B = ablatable with margin, C = location accessible,
# D = largest <= 5 cm, E = count <= 3. NET liver mets: 47381/47383 only; unresectable and
# near-complete treatment. Other liver indications: not-covered. Liver: no PA, no documents.

def mm_hcc(size=(45, "mm", None), count=2, unresectable=True, accessible=True, margin=None, poor=None):
    rec = [HCC(), lesion_count(count) if count is not None else []]
    if size:
        rec.append(liver_lesion(size[0], size[1], size[2]))
    if unresectable is not None:
        rec.append(resectability("unresectable" if unresectable else "resectable"))
    if accessible is not None:
        rec.append(fact("location-accessible", accessible))
    if margin is not None:
        rec.append(fact("ablatable-with-margin", margin))
    if poor is not None:
        rec.append(fact("poor-surgical-candidate", poor))
    return rec


mm_lobs = [("commercial", {}), ("medicare-advantage", {"sopt": "111"}), ("medicaid", {"sopt": "2"})]
MM = "medical-mutual"

def mm(name, desc, rec, orders, exp, lob=0):
    l, kw = mm_lobs[lob % 3]
    scenario("medical-mutual-%s-%s" % (l, name), "Medical Mutual 200802 (%s, all lines alike). %s" % (l, desc),
             MM, coverage(MM, **kw), rec, orders, exp)

mm("hcc-covered-45mm-2-lesions", "HCC, unresectable, accessible, largest 45 mm (4.5 cm), 2 lesions, 47371: covered.",
   mm_hcc(), [order("sr1", "47371")], {"sr1": COVERED_NOAUTH}, 0)
mm("hcc-covered-exactly-5cm-via-margin", "HCC resectable but all tumors ablatable with margin (B), accessible, largest exactly 5.0 cm (satisfies <= 5 cm), 3 lesions, 47381: covered.",
   mm_hcc(size=(5.0, "cm", None), count=3, unresectable=False, margin=True), [order("sr1", "47381")], {"sr1": COVERED_NOAUTH}, 1)
mm("hcc-not-covered-51mm", "HCC otherwise eligible, largest 51 mm (5.1 cm > 5 cm): not-covered.",
   mm_hcc(size=(51, "mm", None)), [order("sr1", "47371")], {"sr1": NOT_COVERED}, 2)
mm("hcc-not-covered-4-lesions", "HCC otherwise eligible, 4 lesions (> 3): not-covered.",
   mm_hcc(count=4), [order("sr1", "47371")], {"sr1": NOT_COVERED}, 0)
mm("hcc-not-covered-47383", "HCC meeting every criterion but ordered percutaneously (47383, not listed for HCC): not-covered.",
   mm_hcc(), [order("sr1", "47383")], {"sr1": NOT_COVERED}, 1)
mm("hcc-covered-comparator-below-4cm", "HCC, size reported as '< 4 cm': the bound settles <= 5 cm: covered.",
   mm_hcc(size=(4, "cm", "<")), [order("sr1", "47381")], {"sr1": COVERED_NOAUTH}, 2)
mm("hcc-not-covered-comparator-above-5cm", "HCC, size reported as '> 5 cm': largest exceeds 5 cm whatever the value: not-covered.",
   mm_hcc(size=(5, "cm", ">")), [order("sr1", "47381")], {"sr1": NOT_COVERED}, 0)
mm("hcc-conditional-comparator-below-6cm", "HCC, size reported as '< 60 mm': the bound does not settle <= 5 cm: conditional.",
   mm_hcc(size=(60, "mm", "<")), [order("sr1", "47381")], {"sr1": CONDITIONAL_NOAUTH}, 1)
mm("hcc-conditional-no-size", "HCC without any size measurement: D unknown, conditional.",
   mm_hcc(size=None), [order("sr1", "47371")], {"sr1": CONDITIONAL_NOAUTH}, 2)
mm("hcc-not-covered-neither-a-nor-b", "HCC resectable, fit for surgery, not ablatable with margin: (A or B) false, not-covered.",
   mm_hcc(unresectable=False, poor=False, margin=False), [order("sr1", "47371")], {"sr1": NOT_COVERED}, 0)
mm("hcc-covered-poor-candidate", "HCC resectable but poor surgical candidate (A), accessible, 3.2 cm, 1 lesion: covered.",
   mm_hcc(size=(3.2, "cm", None), count=1, unresectable=False, poor=True), [order("sr1", "47381")], {"sr1": COVERED_NOAUTH}, 1)
mm("net-covered-47383", "Neuroendocrine liver metastases (C7B.02), unresectable, near-complete treatment achievable, 47383: covered.",
   [NET_LIVER(), resectability("unresectable"), fact("near-complete-treatment", True)],
   [order("sr1", "47383")], {"sr1": COVERED_NOAUTH}, 2)
mm("net-covered-c787-with-c7a-primary", "Liver metastases C78.7 with a C7A.0 neuroendocrine primary, unresectable, near-complete treatment, 47381: covered.",
   [LIVER_METS(), condition("C7A.012"), resectability("unresectable"), fact("near-complete-treatment", True)],
   [order("sr1", "47381")], {"sr1": COVERED_NOAUTH}, 0)
mm("net-not-covered-47371", "Neuroendocrine liver metastases meeting the criteria but ordered laparoscopically (47371, not listed for NET): not-covered.",
   [NET_LIVER(), resectability("unresectable"), fact("near-complete-treatment", True)],
   [order("sr1", "47371")], {"sr1": NOT_COVERED}, 1)
mm("net-not-covered-no-near-complete", "Neuroendocrine liver metastases, unresectable, near-complete treatment not achievable: not-covered.",
   [NET_LIVER(), resectability("unresectable"), fact("near-complete-treatment", False)],
   [order("sr1", "47383")], {"sr1": NOT_COVERED}, 2)
mm("net-conditional-near-complete-unknown", "Neuroendocrine liver metastases, unresectable, near-complete treatment not documented: conditional.",
   [NET_LIVER(), resectability("unresectable")],
   [order("sr1", "47383")], {"sr1": CONDITIONAL_NOAUTH}, 0)
mm("other-not-covered-colorectal-mets", "Colorectal liver metastases (C78.7 with C18.7 primary), unresectable: not a covered indication, not-covered.",
   [LIVER_METS(), CRC(), resectability("unresectable"), fact("near-complete-treatment", True)],
   [order("sr1", "47381")], {"sr1": NOT_COVERED}, 1)
mm("other-not-covered-cholangiocarcinoma", "Intrahepatic cholangiocarcinoma (C22.1), unresectable, small: not a covered indication, not-covered.",
   [condition("C22.1"), resectability("unresectable"), liver_lesion(2, "cm"), lesion_count(1), fact("location-accessible", True)],
   [order("sr1", "47371")], {"sr1": NOT_COVERED}, 2)
mm("other-conditional-unknown-primary", "Liver metastases C78.7 with no primary on record (NET unknown), unresectable, near-complete treatment, 47383: NET indication unknown, conditional.",
   [LIVER_METS(), resectability("unresectable"), fact("near-complete-treatment", True)],
   [order("sr1", "47383")], {"sr1": CONDITIONAL_NOAUTH}, 0)

# Prostate 55873 (no PA): primary (salvage false) of localized T1-T3 without lymph nodes, or
# salvage after radiation with localized disease and one of PSA < 8, Gleason < 9, stage <= T2b.
def prostate(stage=None, ln=None, salvage=None, localized=None, psa_v=None, gleason=None, psa_unit="ng/mL"):
    rec = [condition("C61")]
    if stage:
        rec.append(coded("prostate-t-stage", stage))
    if ln is not None:
        rec.append(fact("lymph-node-involvement", ln))
    if salvage is not None:
        rec.append(fact("salvage-after-radiation", salvage))
    if localized is not None:
        rec.append(fact("localized-disease", localized))
    if psa_v is not None:
        rec.append(psa(psa_v, psa_unit))
    if gleason is not None:
        rec.append(obs("gleason-score", valueInteger=gleason))
    return rec

mm("prostate-covered-primary-t2a", "Prostate, primary treatment (no prior radiation) of localized T2a without lymph-node involvement: covered, no PA.",
   prostate("T2a", ln=False, salvage=False, localized=True), [order("sr1", "55873")], {"sr1": COVERED_NOAUTH}, 0)
mm("prostate-not-covered-t0", "Prostate, primary treatment, stage T0 (not T1-T3), no lymph nodes: not-covered.",
   prostate("T0", ln=False, salvage=False, localized=True), [order("sr1", "55873")], {"sr1": NOT_COVERED}, 1)
mm("prostate-not-covered-lymph-nodes", "Prostate, primary treatment of T2b with lymph-node involvement on imaging: not-covered.",
   prostate("T2b", ln=True, salvage=False, localized=True), [order("sr1", "55873")], {"sr1": NOT_COVERED}, 2)
mm("prostate-covered-salvage-psa-below-8", "Prostate, salvage after failed radiation, localized, PSA 7.9 ng/mL (< 8), Gleason 9, T3a: covered.",
   prostate("T3a", ln=False, salvage=True, localized=True, psa_v=7.9, gleason=9), [order("sr1", "55873")], {"sr1": COVERED_NOAUTH}, 0)
mm("prostate-not-covered-salvage-thresholds-not-met", "Prostate salvage, localized, PSA exactly 8 ng/mL (not < 8), Gleason 9 (not < 9), T3a (above T2b): not-covered.",
   prostate("T3a", ln=False, salvage=True, localized=True, psa_v=8, gleason=9), [order("sr1", "55873")], {"sr1": NOT_COVERED}, 1)
mm("prostate-conditional-salvage-bare-t2", "Prostate salvage, localized, PSA 10, Gleason 9, stage reported as bare T2 (<= T2b unknown): conditional.",
   prostate("T2", ln=False, salvage=True, localized=True, psa_v=10, gleason=9), [order("sr1", "55873")], {"sr1": CONDITIONAL_NOAUTH}, 2)
mm("prostate-conditional-lymph-nodes-unknown", "Prostate primary treatment of localized T1c, lymph-node status not documented: conditional.",
   prostate("T1c", salvage=False, localized=True), [order("sr1", "55873")], {"sr1": CONDITIONAL_NOAUTH}, 0)

# Each salvage threshold on its own, both sides (the other two failing).
mm("prostate-covered-salvage-gleason-8", "Prostate salvage, localized, PSA 9, Gleason 8 (< 9), T3a: covered.",
   prostate("T3a", ln=False, salvage=True, localized=True, psa_v=9, gleason=8), [order("sr1", "55873")], {"sr1": COVERED_NOAUTH}, 1)
mm("prostate-covered-salvage-t2b", "Prostate salvage, localized, PSA 9, Gleason 9, stage T2b (<= T2b): covered.",
   prostate("T2b", ln=False, salvage=True, localized=True, psa_v=9, gleason=9), [order("sr1", "55873")], {"sr1": COVERED_NOAUTH}, 2)
mm("prostate-not-covered-salvage-t2c", "Prostate salvage, localized, PSA 9, Gleason 9, stage T2c (above T2b): not-covered.",
   prostate("T2c", ln=False, salvage=True, localized=True, psa_v=9, gleason=9), [order("sr1", "55873")], {"sr1": NOT_COVERED}, 0)
mm("prostate-covered-salvage-psa-ug-per-l", "Prostate salvage, localized, PSA 7.5 ug/L (= 7.5 ng/mL, < 8), Gleason 9, T3a: covered.",
   prostate("T3a", ln=False, salvage=True, localized=True, psa_v=7.5, gleason=9, psa_unit="ug/L"), [order("sr1", "55873")], {"sr1": COVERED_NOAUTH}, 0)
mm("prostate-not-covered-salvage-not-localized", "Prostate salvage after radiation, disease not localized, PSA 5: not-covered.",
   prostate("T2a", ln=False, salvage=True, localized=False, psa_v=5, gleason=7), [order("sr1", "55873")], {"sr1": NOT_COVERED}, 1)
mm("prostate-covered-primary-t3b", "Prostate, primary treatment of T3b (the top of T1-T3), no lymph nodes: covered.",
   prostate("T3b", ln=False, salvage=False, localized=True), [order("sr1", "55873")], {"sr1": COVERED_NOAUTH}, 2)
mm("prostate-not-covered-primary-t4", "Prostate, primary treatment of T4 (above T1-T3), no lymph nodes: not-covered.",
   prostate("T4", ln=False, salvage=False, localized=True), [order("sr1", "55873")], {"sr1": NOT_COVERED}, 0)

# Renal 50250/50593 (PA required): RCC histologic, largest <= 7 cm, no metastasis, and one of
# poor surgical candidate, solitary kidney, chronic renal insufficiency (N18, closed-world),
# renal preservation necessary.
def renal(size=(65, "mm"), rcc=True, metastatic=False, extra=()):
    rec = [condition("C64.1")]
    if rcc is not None:
        rec.append(fact("rcc-histologic", rcc))
    if size:
        rec.append(liver_lesion(size[0], size[1], site=64033007))
    if metastatic is not None:
        rec.append(fact("metastatic-disease", metastatic))
    rec.extend(extra)
    return rec

mm("renal-covered-solitary-kidney", "Renal, histologic RCC, 65 mm kidney lesion, no metastasis, solitary kidney, 50593: covered, PA required.",
   renal(extra=[fact("solitary-kidney", True)]), [order("sr1", "50593")], {"sr1": COVERED_PA}, 1)
mm("renal-covered-exactly-7cm-ckd", "Renal, RCC, kidney lesion exactly 7.0 cm, no metastasis, chronic kidney disease N18.3: covered, PA required.",
   renal(size=(7.0, "cm"), extra=[condition("N18.3")]), [order("sr1", "50250")], {"sr1": COVERED_PA}, 2)
mm("renal-not-covered-71mm", "Renal, RCC, kidney lesion 71 mm (> 7 cm), solitary kidney: not-covered.",
   renal(size=(71, "mm"), extra=[fact("solitary-kidney", True)]), [order("sr1", "50593")], {"sr1": NOT_COVERED}, 0)
mm("renal-not-covered-metastatic", "Renal, RCC, 4 cm, solitary kidney, lung metastasis C78.0 active: not-covered.",
   renal(size=(4, "cm"), metastatic=None, extra=[fact("solitary-kidney", True), condition("C78.00")]),
   [order("sr1", "50593")], {"sr1": NOT_COVERED}, 1)
mm("renal-conditional-qualifier-unknown", "Renal, RCC, 3 cm, no metastasis, none of the four qualifiers documented (CKD absent counts as false): conditional with documentation for the PA.",
   renal(size=(3, "cm")), [order("sr1", "50250")], {"sr1": CONDITIONAL_PA}, 2)

# Bone / soft tissue 20983 (PA): soft-tissue sarcoma of extremity or trunk, symptomatic,
# disseminated metastases.
mm("bone-covered-sarcoma-trunk", "Soft-tissue sarcoma of the lower limb (C49.2), symptomatic, disseminated metastases (C78.00): covered, PA required.",
   [condition("C49.2"), fact("symptomatic", True), condition("C78.00")], [order("sr1", "20983")], {"sr1": COVERED_PA}, 0)
mm("bone-not-covered-head-neck-sarcoma", "Soft-tissue sarcoma of the head and neck only (C49.0), symptomatic, metastatic: not-covered.",
   [condition("C49.0"), fact("symptomatic", True), fact("metastatic-disease", True)], [order("sr1", "20983")], {"sr1": NOT_COVERED}, 1)
mm("bone-conditional-symptoms-unknown", "Soft-tissue sarcoma of the trunk (C49.6), metastatic, symptoms not documented: conditional.",
   [condition("C49.6"), fact("metastatic-disease", True)], [order("sr1", "20983")], {"sr1": CONDITIONAL_PA}, 2)

mm("bone-not-covered-asymptomatic", "Soft-tissue sarcoma of the upper limb (C49.1), metastatic, documented as not symptomatic: not-covered.",
   [condition("C49.1"), fact("symptomatic", False), fact("metastatic-disease", True)], [order("sr1", "20983")], {"sr1": NOT_COVERED}, 0)
mm("bone-not-covered-no-metastases", "Soft-tissue sarcoma of the trunk (C49.6), symptomatic, no disseminated metastases: not-covered.",
   [condition("C49.6"), fact("symptomatic", True), fact("metastatic-disease", False)], [order("sr1", "20983")], {"sr1": NOT_COVERED}, 1)
mm("renal-not-covered-not-histologic", "Renal, 3 cm kidney lesion, RCC not histologically documented, solitary kidney: not-covered.",
   renal(size=(3, "cm"), rcc=False, extra=[fact("solitary-kidney", True)]), [order("sr1", "50250")], {"sr1": NOT_COVERED}, 2)

# ---------------------------------------------------------------------------------------------
# BCBSM (all its LOBs): 47371/47381; 47383 not-covered. unresectable (primary or metastatic)
# AND no extrahepatic disease AND ((count < 2 AND largest < 4 cm) OR metabolically active NET).

def bcbsm(name, desc, rec, orders, exp, kw):
    scenario("bcbsm-%s" % name, "BCBSM (joint BCBSM/BCN policy). %s" % desc, "bcbsm",
             coverage("bcbsm", **kw), rec, orders, exp)

bcbsm("commercial-covered-single-35mm", "Unresectable HCC, no extrahepatic disease, 1 lesion of 35 mm: inclusion (a), covered.",
      [HCC(), resectability("unresectable"), fact("extrahepatic-disease", False), lesion_count(1), liver_lesion(35, "mm")],
      [order("sr1", "47371")], {"sr1": COVERED_NOAUTH}, {})
bcbsm("commercial-not-covered-exactly-4cm", "Unresectable HCC, 1 lesion of exactly 4.0 cm (not < 4 cm): not-covered.",
      [HCC(), resectability("unresectable"), fact("extrahepatic-disease", False), lesion_count(1), liver_lesion(4.0, "cm")],
      [order("sr1", "47381")], {"sr1": NOT_COVERED}, {"sopt": "6"})
bcbsm("commercial-not-covered-two-lesions", "Unresectable HCC, 2 lesions (not < 2) of 2 cm: not-covered.",
      [HCC(), resectability("unresectable"), fact("extrahepatic-disease", False), lesion_count(2), liver_lesion(2, "cm")],
      [order("sr1", "47371")], {"sr1": NOT_COVERED}, {})
bcbsm("medicare-advantage-covered-metabolically-active-net", "Neuroendocrine liver metastases (C7B.02), unresectable, no extrahepatic disease, metabolically active (E34.0), 5 lesions up to 6 cm: inclusion (b), covered.",
      [NET_LIVER(), condition("E34.0"), resectability("unresectable"), fact("extrahepatic-disease", False), lesion_count(5), liver_lesion(6, "cm")],
      [order("sr1", "47381")], {"sr1": COVERED_NOAUTH}, {"sopt": "111"})
bcbsm("medicare-advantage-not-covered-47383", "Unresectable HCC meeting inclusion (a) but ordered as 47383 (not listed): not-covered.",
      [HCC(), resectability("unresectable"), fact("extrahepatic-disease", False), lesion_count(1), liver_lesion(2, "cm")],
      [order("sr1", "47383")], {"sr1": NOT_COVERED}, {"sopt": "111"})
bcbsm("medicare-advantage-not-covered-extrahepatic-condition", "Unresectable liver metastases with an active lung metastasis C78.01 (extrahepatic): not-covered.",
      [LIVER_METS(), CRC(), condition("C78.01"), resectability("unresectable"), lesion_count(1), liver_lesion(2, "cm")],
      [order("sr1", "47371")], {"sr1": NOT_COVERED}, {"sopt": "111"})
bcbsm("medicaid-conditional-extrahepatic-unknown", "Unresectable HCC, 1 lesion of 2 cm, extrahepatic disease not documented: conditional.",
      [HCC(), resectability("unresectable"), lesion_count(1), liver_lesion(20, "mm")],
      [order("sr1", "47371")], {"sr1": CONDITIONAL_NOAUTH}, {"sopt": "2"})
bcbsm("medicaid-not-covered-hcc-metabolically-active", "Unresectable HCC with 3 lesions, metabolically active: (b) needs a neuroendocrine tumor, (a) fails: not-covered.",
      [HCC(), resectability("unresectable"), fact("extrahepatic-disease", False), fact("metabolically-active", True), lesion_count(3), liver_lesion(3, "cm")],
      [order("sr1", "47381")], {"sr1": NOT_COVERED}, {"sopt": "2"})
bcbsm("medicaid-not-covered-resectable", "Resectable HCC, 1 small lesion: not unresectable, not-covered.",
      [HCC(), resectability("resectable"), fact("extrahepatic-disease", False), lesion_count(1), liver_lesion(1.5, "cm")],
      [order("sr1", "47371")], {"sr1": NOT_COVERED}, {"sopt": "2"})

# ---------------------------------------------------------------------------------------------
# Blue Care Network: BCN-HMO, BCNA, BCC not-covered; BCN65 conditional (Original Medicare
# decides). Without a BCN plan class: Commercial -> BCN-HMO, MA -> BCNA, other Medicare ->
# BCN65, Medicaid -> BCC.

bcn_records = [("criteria-met", lambda: [HCC(), resectability("unresectable"), fact("extrahepatic-disease", False), lesion_count(1), liver_lesion(2, "cm")]),
               ("criteria-not-met", lambda: [HCC(), resectability("resectable")]),
               ("criteria-unknown", lambda: [HCC()])]
for plan, exp, text in (("BCN-HMO", NOT_COVERED, "commercial HMO: not-covered"),
                        ("BCNA", NOT_COVERED, "Medicare Advantage: not-covered"),
                        ("BCC", NOT_COVERED, "Blue Cross Complete (Medicaid): not-covered"),
                        ("BCN65", program("Medicare"), "Medicare complementary: conditional on Original Medicare")):
    for i, (label, rec) in enumerate(bcn_records):
        scenario("bcn-%s-%s" % (plan.lower(), label),
                 "Blue Care Network plan %s, %s, whatever the clinical criteria (%s)." % (plan, text, label),
                 "bcn", coverage("bcn", plan=plan), rec(), [order("sr1", "47371" if i % 2 else "47381")], {"sr1": exp})
for sopt, system, exp, text in (("6", SOPT, NOT_COVERED, "SOPT 6 Commercial -> BCN-HMO: not-covered"),
                                ("111", SOPT_OID, NOT_COVERED, "SOPT 111 Medicare Advantage -> BCNA: not-covered"),
                                ("121", SOPT, program("Medicare"), "SOPT 121 Medicare FFS -> BCN65: conditional"),
                                ("2", SOPT_OID, NOT_COVERED, "SOPT 2 Medicaid -> BCC: not-covered")):
    scenario("bcn-by-type-sopt-%s" % sopt, "Blue Care Network Coverage without a plan class; %s." % text,
             "bcn", coverage("bcn", sopt=sopt, sopt_system=system), bcn_records[0][1](),
             [order("sr1", "47371")], {"sr1": exp})
scenario("bcn-by-type-none", "Blue Care Network Coverage without plan or type: Commercial -> BCN-HMO, not-covered.",
         "bcn", coverage("bcn"), bcn_records[0][1](), [order("sr1", "47381")], {"sr1": NOT_COVERED})

# ---------------------------------------------------------------------------------------------
# BCBSRI: every LOB not-covered; the card says the member may not be charged unless informed
# in advance and agreed in writing.
RI_CARDS = {"min": 1, "textContains": ["writing"]}
for lob, kw in (("commercial", {}), ("medicare-advantage", {"sopt": "111"}), ("medicaid", {"sopt": "2"})):
    ri_records = [("criteria-met", lambda: [HCC(), resectability("unresectable"), lesion_count(1), liver_lesion(2, "cm")]),
                  ("criteria-not-met", lambda: [LIVER_METS(), CRC(), resectability("resectable")]),
                  ("no-findings", lambda: [])]
    for i, (label, rec) in enumerate(ri_records):
        scenario("bcbsri-%s-%s" % (lob, label),
                 "BCBSRI (%s): cryoablation of liver tumors is not medically necessary / not covered; no criteria change this (%s)." % (lob, label),
                 "bcbsri", coverage("bcbsri", **kw), rec(), [order("sr1", ("47371", "47381", "47383")[i])],
                 {"sr1": NOT_COVERED}, cards=RI_CARDS)

# ---------------------------------------------------------------------------------------------
# PacificSource: Commercial and Medicare: PA; (not awaiting transplant AND (HCC/ICC <= 5 cm,
# <= 3 lesions, unresectable | CRC mets <= 5 cm, <= 5 lesions, unresectable, no extrahepatic |
# NET mets systemic therapy failed, unresectable)) OR bridge to transplant. Documentation for
# the PA whenever covered or conditional. Medicaid: 47383 not-covered; 47371/47381 follow OHP.
PS = "pacificsource"

def ps(lob, kw, name, desc, rec, orders, exp):
    scenario("pacificsource-%s-%s" % (lob, name), "PacificSource (%s). %s" % (lob, desc), PS,
             coverage(PS, **kw), rec, orders, exp)

for lob, kw in (("commercial", {"sopt": "6"}), ("medicare", {"sopt": "121"})):
    ps(lob, kw, "covered-hcc-3-lesions-5cm", "HCC unresectable, 3 lesions, largest exactly 50 mm: covered, PA with documentation.",
       [HCC(), resectability("unresectable"), lesion_count(3), liver_lesion(50, "mm")], [order("sr1", "47383")], {"sr1": COVERED_PA_DOCS})
    ps(lob, kw, "not-covered-hcc-5.5cm", "HCC unresectable, 1 lesion of 5.5 cm (> 5 cm), not a transplant bridge: not-covered.",
       [HCC(), resectability("unresectable"), lesion_count(1), liver_lesion(5.5, "cm")], [order("sr1", "47383")], {"sr1": NOT_COVERED})
    ps(lob, kw, "conditional-net-systemic-unknown", "Neuroendocrine liver metastases, unresectable, failure of systemic therapy not documented: conditional, PA with documentation.",
       [NET_LIVER(), resectability("unresectable")], [order("sr1", "47381")], {"sr1": CONDITIONAL_PA})

ps("commercial", {}, "covered-crc-5-lesions", "Colorectal liver metastases (C78.7 + C18.7), unresectable, 5 lesions, largest 4.9 cm, no extrahepatic disease: covered.",
   [LIVER_METS(), CRC(), resectability("unresectable"), fact("extrahepatic-disease", False), lesion_count(5), liver_lesion(4.9, "cm")],
   [order("sr1", "47371")], {"sr1": COVERED_PA_DOCS})
ps("commercial", {}, "not-covered-crc-6-lesions", "Colorectal liver metastases, unresectable, 6 lesions (> 5): not-covered.",
   [LIVER_METS(), CRC(), resectability("unresectable"), fact("extrahepatic-disease", False), lesion_count(6), liver_lesion(3, "cm")],
   [order("sr1", "47371")], {"sr1": NOT_COVERED})
ps("commercial", {}, "not-covered-hcc-4-lesions-cholangio", "Intrahepatic cholangiocarcinoma, unresectable, 4 lesions (> 3): not-covered.",
   [condition("C22.1"), resectability("unresectable"), lesion_count(4), liver_lesion(2, "cm")],
   [order("sr1", "47383")], {"sr1": NOT_COVERED})
ps("commercial", {}, "not-covered-awaiting-transplant", "HCC meeting the size/number/resectability criteria but the patient is awaiting a liver transplant (Z76.82), order not a bridge: not-covered.",
   [HCC(), condition("Z76.82"), resectability("unresectable"), lesion_count(1), liver_lesion(2, "cm")],
   [order("sr1", "47383")], {"sr1": NOT_COVERED})
ps("commercial", {}, "covered-bridge-to-transplant", "HCC 6 cm awaiting transplant, order reasonCode bridge-to-transplant: criterion B, covered.",
   [HCC(), condition("Z76.82"), resectability("resectable"), lesion_count(1), liver_lesion(6, "cm")],
   [order("sr1", "47383", reason="bridge-to-transplant")], {"sr1": COVERED_PA_DOCS})
ps("commercial", {}, "covered-net-systemic-failed", "Neuroendocrine liver metastases, unresectable, systemic therapy failed to control symptoms: covered.",
   [NET_LIVER(), resectability("unresectable"), fact("systemic-therapy-failed", True)],
   [order("sr1", "47383")], {"sr1": COVERED_PA_DOCS})
ps("commercial", {}, "not-covered-crc-extrahepatic", "Colorectal liver metastases with extrahepatic disease: not-covered.",
   [LIVER_METS(), CRC(), resectability("unresectable"), fact("extrahepatic-disease", True), lesion_count(2), liver_lesion(3, "cm")],
   [order("sr1", "47381")], {"sr1": NOT_COVERED})
ps("commercial", {}, "not-covered-radiofrequency-out-of-scope", "A radiofrequency ablation (47382) is not a cryoablation code: no coverage-information; the cryoablation order beside it is covered.",
   [HCC(), resectability("unresectable"), lesion_count(1), liver_lesion(2, "cm")],
   [order("sr1", "47383"), order("sr2", "47382")], {"sr1": COVERED_PA_DOCS, "sr2": None})

for name, cpt, exp, desc in (("not-covered-47383", "47383", NOT_COVERED, "Percutaneous cryoablation 47383: Guideline Note 173, not-covered."),
                             ("conditional-47371", "47371", program("OHP"), "Laparoscopic 47371: coverage follows Oregon Health Plan rules, conditional."),
                             ("conditional-47381", "47381", program("OHP"), "Open 47381: coverage follows Oregon Health Plan rules, conditional.")):
    ps("medicaid", {"sopt": "2"}, name, "Oregon Health Plan (Medicaid). " + desc,
       [HCC(), resectability("unresectable"), lesion_count(1), liver_lesion(2, "cm")], [order("sr1", cpt)], {"sr1": exp})

# ---------------------------------------------------------------------------------------------
# Foreign examples, sent verbatim: any valid answer (2xx, or 4xx with an OperationOutcome).
REF = "/work/shared/reference"
FOREIGN = [("foreign-davinci-crd-2.1.0-request", "davinci-crd-2.1.0/CRDServiceRequest.json"),
           ("foreign-davinci-crd-2.1.0-request-2", "davinci-crd-2.1.0/CRDServiceRequest2.json"),
           ("foreign-inferno-order-sign", "inferno-crd-test-kit/fixtures/order_sign_hook_request.json")]


def main():
    if os.path.isdir(OUT):
        for f in os.listdir(OUT):
            if f.endswith(".json") and not f.startswith("foreign-"):
                os.remove(os.path.join(OUT, f))
    os.makedirs(OUT, exist_ok=True)
    names = set()
    for s in SCENARIOS:
        assert s["name"] not in names, s["name"]
        names.add(s["name"])
        for o in s["expected"]["orders"].values():
            if o is not None:
                for k in [k for k, v in o.items() if v is None]:
                    o[k] = None
        with open(os.path.join(OUT, s["name"] + ".json"), "w") as f:
            json.dump(s, f, indent=1)
            f.write("\n")
    for name, rel in FOREIGN:
        path = os.path.join(REF, rel)
        target = os.path.join(OUT, name + ".json")
        if not os.path.exists(path):
            continue  # keep the committed copy
        with open(path) as f:
            request = json.load(f)
        with open(target, "w") as f:
            json.dump({"name": name,
                       "description": "Verbatim example request from " + rel + " (not a cryoablation order of a known payer): the server must give a valid answer, not crash.",
                       "request": request,
                       "expected": {"status": [200, 400, 412, 422]}}, f, indent=1)
            f.write("\n")
    print("%d scenarios written to %s" % (len(SCENARIOS) + len(FOREIGN), os.path.normpath(OUT)))


if __name__ == "__main__":
    sys.exit(main())
