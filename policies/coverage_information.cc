#include "policies/coverage_information.h"

#include <utility>

namespace cryo::policies {
namespace {

Error refused(std::string rule) {
  return Error{"coverage-information", std::move(rule)};
}

}  // namespace

Result<CoverageInformation> CoverageInformation::make(Covered covered, PaNeeded pa_needed,
                                                      DocNeeded doc_needed, DocPurpose doc_purpose,
                                                      InfoNeeded info_needed) {
  if (covered == Covered::kNotCovered && pa_needed != PaNeeded::kAbsent) {
    return refused("not-covered with pa-needed '" + std::string(code(pa_needed)) +
                   "' (CRD q2: not-covered carries no pa-needed)");
  }
  if (doc_needed != DocNeeded::kAbsent && doc_purpose == DocPurpose::kAbsent) {
    return refused("doc-needed without doc-purpose (doc-needed and doc-purpose come together)");
  }
  if (doc_purpose != DocPurpose::kAbsent && doc_needed == DocNeeded::kAbsent) {
    return refused("doc-purpose without doc-needed (doc-needed and doc-purpose come together)");
  }
  bool conditional = covered == Covered::kConditional || pa_needed == PaNeeded::kConditional;
  if (conditional && info_needed == InfoNeeded::kAbsent) {
    return refused(
        "conditional without info-needed (CRD q3: a conditional answer says what "
        "information it needs)");
  }
  return CoverageInformation(covered, pa_needed, doc_needed, doc_purpose, info_needed);
}

Result<CoverageInformation> CoverageInformation::parse(std::string_view covered,
                                                       std::string_view pa_needed,
                                                       std::string_view doc_needed,
                                                       std::string_view doc_purpose,
                                                       std::string_view info_needed) {
  auto c = parse_covered(covered);
  auto p = parse_pa_needed(pa_needed);
  auto d = parse_doc_needed(doc_needed);
  auto dp = parse_doc_purpose(doc_purpose);
  auto i = parse_info_needed(info_needed);
  if (!c || !p || !d || !dp || !i) {
    return refused("unknown code among covered '" + std::string(covered) + "', pa-needed '" +
                   std::string(pa_needed) + "', doc-needed '" + std::string(doc_needed) +
                   "', doc-purpose '" + std::string(doc_purpose) + "', info-needed '" +
                   std::string(info_needed) + "'");
  }
  return make(*c, *p, *d, *dp, *i);
}

Result<CoverageInformation> coverage_information_of(const Determination& d) {
  return CoverageInformation::make(d.covered, d.pa_needed, d.doc_needed, d.doc_purpose,
                                   d.info_needed);
}

}  // namespace cryo::policies
