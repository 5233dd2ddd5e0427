// Determination: the payer's answer for one order, with the reasons behind it.
//
// Produced by the policy engine from facts; rendered by cds/ into a coverage card and the
// CRD coverage-information extension; stored by audit/ (as the codes). The coverage-information
// values are the enums of policies/coverage_codes.h, each written on the wire by its code();
// they follow CRD's coverage-information codes exactly (see the reading guide's "What goes
// into the coverage-information"):
//
//   covered        kCovered | kNotCovered | kConditional
//   pa_needed      kAbsent | kNoAuth | kAuthNeeded | kConditional     (absent when not-covered)
//   doc_needed     kAbsent | kClinical
//   doc_purpose    kAbsent | kWithPa | kWithClaim    (present exactly when doc_needed is)
//   info_needed    kAbsent | kOther (OTH)            (present whenever covered is conditional)
//   reasons        one or more texts for conditional and not-covered results
//
// The engine sets `covered` on every path. A Determination nobody decided is conditional
// without info-needed, a combination CoverageInformation::make() refuses, so the service never
// sends one.
//
// Thread safety: plain values.
#pragma once

#include <string>
#include <vector>

#include "mappings/fact.h"
#include "policies/coverage_codes.h"

namespace cryo::policies {

// One row of the evaluated criteria tree, in pre-order, for cards and --explain.
struct CriterionResult {
  int depth = 0;      // 0 for the section's root criterion
  std::string label;  // "Largest lesion ≤ 5 cm", "Any of", ...
  std::string fact;   // fact id for leaves, "" for all/any/not nodes
  mappings::Truth value = mappings::Truth::kUnknown;
  std::string observed;  // what the record showed: "4.2 cm", "T2", "not found"
  std::vector<mappings::Evidence> evidence;
  std::vector<std::string> notes;  // conflicts, unusable measurements
  std::string role;                // "indication" or "criteria": which tree the row is in
  std::string group;               // "all" | "any" | "not" for group rows, "" for leaves
  std::string condition;           // leaves: the test applied, e.g. "≤ 5 cm", "is hcc"
};

// One document the policy asks for, and whether the record holds it.
struct DocumentCheck {
  std::string title;               // "Physician history and physical"
  std::vector<std::string> codes;  // LOINC document types that satisfy it (any of)
  bool required = true;            // false when its condition did not apply
  bool found = false;
  std::string reference;  // the document found
  std::string date;       // its clinical date
  std::string note;       // e.g. "only needed when the decision rests on ..."
};

// The result for one policy section (indication) that applies to the patient.
struct SectionResult {
  std::string id;     // "hcc"
  std::string title;  // "Hepatocellular carcinoma"
  mappings::Truth indication = mappings::Truth::kUnknown;
  bool code_listed = true;  // whether the order's code is listed for this section
  mappings::Truth criteria = mappings::Truth::kUnknown;
  mappings::Truth result = mappings::Truth::kUnknown;  // indication AND code listed AND criteria
  std::vector<CriterionResult> rows;
};

struct Determination {
  // The policy that decided.
  std::string policy_id;         // "florida-blue-02-40000-22"
  std::string policy_title;      // "Cryosurgical Ablation of Liver Tumors"
  std::string policy_document;   // "Medical Coverage Guideline 02-40000-22"
  std::string policy_revision;   // "2024-09-15": the revision in force on the date of service
  std::string data_hash;         // "sha256:…" of the policy and mapping data that decided
  std::string payer_id;          // "florida-blue"
  std::string payer_name;        // "Florida Blue"
  std::string line_of_business;  // "commercial", "FEP", "BCN65", ...
  std::string billing_code;      // "47383"
  std::string procedure;         // "Percutaneous cryoablation of liver tumor(s)"

  // CRD coverage-information values.
  Covered covered = Covered::kConditional;
  PaNeeded pa_needed = PaNeeded::kAbsent;
  DocNeeded doc_needed = DocNeeded::kAbsent;
  DocPurpose doc_purpose = DocPurpose::kAbsent;
  InfoNeeded info_needed = InfoNeeded::kAbsent;
  std::vector<std::string> reasons;

  // Why.
  std::string basis;                     // "criteria" | "line-of-business" (program rule)
  std::vector<SectionResult> sections;   // the sections evaluated (empty for LOB rules)
  std::vector<DocumentCheck> documents;  // documentation checklist (empty when not assessed)
  std::vector<std::string> requested_documents;  // what a PA/claim request must include
  std::vector<std::string> missing_facts;        // facts to document when conditional
  std::vector<std::string> notices;  // payer notices for the clinician (e.g. member billing)
  std::vector<std::string> notes;    // how the policy was read for this order (line of
                                     // business notes, interpretation notes of the sections)
};

}  // namespace cryo::policies
