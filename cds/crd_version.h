// The Da Vinci CRD versions this service answers in, and how each shapes coverage-information.
//
// One table (crd_version.cc) holds, per version, the codes its value sets allow, whether the
// `detail` sub-extension may carry a policy link and whether it needs `category`, whether
// `indeterminate` exists and which coded reasons it defines. Everything that differs between
// CRD 2.0.1, 2.1 and 2.2 is read from that table, never decided by scattered version tests.
//
//   const CrdVersion* v = find_crd_version(request.requested_version);  // "" -> 2.0.1
//   CoverageValues values = shape_coverage(determination, *v, {.technical_problem = true});
//
// A client asks for a version with `extension["davinci-crd.requestedVersion"]` (CRD 2.2); with
// none the answer follows CRD 2.0.1, the version the Inferno CRD test kit validates.
//
// Thread safety: immutable data.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policies/determination.h"

namespace cryo::cds {

inline constexpr std::string_view kCrdTempSystem =
    "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp";

struct CrdVersion {
  std::string_view label;       // two-part label declared in discovery: "2.0", "2.1", "2.2"
  std::string_view ig_version;  // "2.0.1", "2.1.0", "2.2.1"
  // Codes each coded sub-extension accepts (required bindings).
  std::span<const std::string_view> covered;
  std::span<const std::string_view> pa_needed;
  std::span<const std::string_view> doc_needed;
  std::span<const std::string_view> doc_purpose;
  std::span<const std::string_view> info_needed;
  bool doc_needed_repeats;            // 0..1 in 2.0.1, 0..* later
  bool detail_policy_link;            // the `policy-link` detail code with a `valueUrl` exists
  bool detail_category;               // `detail.category` is 1..1 (2.2)
  bool indeterminate;                 // `indeterminate` + the `technical` reason exist (2.2)
  bool info_needed_when_conditional;  // any `conditional` requires `info-needed` (2.1+ q3)
  bool reason_for_doc_purpose;        // doc-purpose requires a reason (2.2 q8)
  std::span<const std::string_view> reason_codes;  // coverageAssertionReasons, temp system
  bool questionnaire;  // the `questionnaire` sub-extension (DTR canonical) exists (2.1+)
};

// Every version served, oldest first.
std::span<const CrdVersion> crd_versions();

// The version used when a request names none (CRD 2.0.1).
const CrdVersion& default_crd_version();

// The version a request asked for: "2.2", "2.2.1", "2.0" ... (matched on the first two parts).
// nullptr when the version is not served; "" gives the default.
const CrdVersion* find_crd_version(std::string_view requested);

// Whether `code` is in `codes`.
bool allows(std::span<const std::string_view> codes, std::string_view code);

// A reason on the coverage-information: text, and a code from the version's reason codes.
struct CoverageReason {
  std::string code;  // "" or a code of kCrdTempSystem ("technical")
  std::string text;
};

// The coverage-information values one determination gets in one version.
struct CoverageValues {
  std::string covered;
  std::string pa_needed;
  std::vector<std::string> doc_needed;
  std::vector<std::string> doc_purpose;
  std::vector<std::string> info_needed;
  std::vector<CoverageReason> reasons;
  bool policy_link_detail = false;  // write detail{code=policy-link, value=url}
  std::string detail_category;      // "" or "cat-other" (2.2)
  // The DTR questionnaire canonical (2.1+, only with doc-needed); "" when none.
  std::string questionnaire;
};

struct ShapeContext {
  // The record could not be fully read for technical reasons (the EHR's FHIR server failed).
  bool technical_problem = false;
  std::string technical_text;  // what went wrong, for the reason text
};

// The determination's values, restricted to what `version` defines.
CoverageValues shape_coverage(const policies::Determination& d, const CrdVersion& version,
                              const ShapeContext& context);

}  // namespace cryo::cds
