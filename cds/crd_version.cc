#include "cds/crd_version.h"

#include <algorithm>
#include <array>

namespace cryo::cds {
namespace {

using namespace std::string_view_literals;

// CRD 2.0.1 package (ValueSet-*.json), CRD 2.1.0 and 2.2.1 FSH (CoverageInformationValuesets).
constexpr std::array kCovered201 = {"covered"sv, "not-covered"sv, "conditional"sv};
constexpr std::array kCovered22 = {"covered"sv, "not-covered"sv, "conditional"sv,
                                   "indeterminate"sv};
constexpr std::array kPa21 = {"no-auth"sv, "auth-needed"sv, "satisfied"sv, "performpa"sv,
                              "conditional"sv};
constexpr std::array kPa22 = {"no-auth"sv,   "auth-needed"sv, "satisfied"sv,
                              "performpa"sv, "conditional"sv, "indeterminate"sv};
constexpr std::array kDoc201 = {"clinical"sv, "admin"sv, "both"sv, "conditional"sv};
constexpr std::array kDoc21 = {"clinical"sv, "admin"sv, "patient"sv, "conditional"sv};
constexpr std::array kDoc22 = {"clinical"sv, "admin"sv, "patient"sv, "conditional"sv,
                               "indeterminate"sv};
constexpr std::array kPurpose = {"withpa"sv, "withclaim"sv, "withorder"sv, "retain-doc"sv, "OTH"sv};
constexpr std::array kInfo21 = {"performer"sv, "location"sv, "timeframe"sv, "contract-window"sv,
                                "OTH"sv};
constexpr std::array kInfo22 = {"performer"sv,       "location"sv,    "timeframe"sv,
                                "contract-window"sv, "detail-code"sv, "OTH"sv};
constexpr std::array kReasons21 = {"gold-card"sv, "detail-code"sv};
constexpr std::array kReasons22 = {"gold-card"sv,          "no-member-found"sv,
                                   "no-active-coverage"sv, "coverage-not-found"sv,
                                   "auth-out-network"sv,   "technical"sv};

constexpr std::array<CrdVersion, 3> kVersions = {{
    {"2.0", "2.0.1", kCovered201, kPa21, kDoc201, kPurpose, kInfo21, false, false, false, false,
     false, false, kReasons21, false},
    {"2.1", "2.1.0", kCovered201, kPa21, kDoc21, kPurpose, kInfo21, true, true, false, false, true,
     false, kReasons21, true},
    {"2.2", "2.2.1", kCovered22, kPa22, kDoc22, kPurpose, kInfo22, true, true, true, true, true,
     true, kReasons22, true},
}};

}  // namespace

std::span<const CrdVersion> crd_versions() {
  return kVersions;
}

const CrdVersion& default_crd_version() {
  return kVersions[0];
}

const CrdVersion* find_crd_version(std::string_view requested) {
  if (requested.empty()) return &default_crd_version();
  for (const auto& v : kVersions) {
    if (requested == v.label || requested == v.ig_version) return &v;
    // "2.2.0", "2.2.1-ballot": the same two-part version.
    if (requested.size() > v.label.size() && requested.substr(0, v.label.size()) == v.label &&
        requested[v.label.size()] == '.')
      return &v;
  }
  return nullptr;
}

bool allows(std::span<const std::string_view> codes, std::string_view code) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

CoverageValues shape_coverage(const policies::Determination& d, const CrdVersion& version,
                              const ShapeContext& context) {
  using policies::Covered;
  using policies::DocPurpose;
  using policies::InfoNeeded;
  using policies::PaNeeded;
  // The determination's values the version defines (a covered value it does not define is
  // sent as conditional; absent values are defined by none).
  const Covered covered =
      allows(version.covered, code(d.covered)) ? d.covered : Covered::kConditional;
  const PaNeeded pa =
      covered != Covered::kNotCovered && allows(version.pa_needed, code(d.pa_needed))
          ? d.pa_needed
          : PaNeeded::kAbsent;
  const bool doc = allows(version.doc_needed, code(d.doc_needed));
  const DocPurpose purpose =
      doc && allows(version.doc_purpose, code(d.doc_purpose)) ? d.doc_purpose : DocPurpose::kAbsent;
  InfoNeeded info =
      allows(version.info_needed, code(d.info_needed)) ? d.info_needed : InfoNeeded::kAbsent;

  CoverageValues v;
  v.covered = code(covered);
  v.pa_needed = code(pa);
  if (doc) v.doc_needed.emplace_back(code(d.doc_needed));
  if (purpose != DocPurpose::kAbsent) v.doc_purpose.emplace_back(code(purpose));
  for (const auto& r : d.reasons) v.reasons.push_back({"", r});

  // The service could not decide because part of the record could not be read (CRD 2.2).
  const bool indeterminate =
      context.technical_problem && version.indeterminate && covered == Covered::kConditional;
  if (indeterminate) {
    v.covered = "indeterminate";
    if (pa == PaNeeded::kConditional) v.pa_needed = "indeterminate";
    v.reasons.insert(v.reasons.begin(),
                     {"technical", "Coverage could not be determined for technical reasons: " +
                                       context.technical_text});
  }

  // info-needed and `conditional` go together: 2.0.1 forbids info-needed without a
  // conditional value; 2.1+ requires it with one (indeterminate is not conditional).
  const bool conditional =
      !indeterminate && (covered == Covered::kConditional || pa == PaNeeded::kConditional);
  if (!conditional) {
    info = InfoNeeded::kAbsent;
  } else if (version.info_needed_when_conditional && info == InfoNeeded::kAbsent) {
    info = InfoNeeded::kOther;
  }
  if (info != InfoNeeded::kAbsent) v.info_needed.emplace_back(code(info));
  if (v.reasons.empty() && info == InfoNeeded::kOther)
    v.reasons.push_back({"", "The record does not yet say enough to decide coverage."});
  if (v.reasons.empty() && version.reason_for_doc_purpose && purpose != DocPurpose::kAbsent) {
    v.reasons.push_back(
        {"", purpose == DocPurpose::kWithPa
                 ? "The payer requires documentation with the prior authorization request."
                 : "The payer requires documentation with the claim."});
  }
  v.policy_link_detail = version.detail_policy_link;
  if (version.detail_category) v.detail_category = "cat-other";
  return v;
}

}  // namespace cryo::cds
