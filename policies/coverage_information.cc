#include "policies/coverage_information.h"

#include <array>
#include <utility>

namespace cryo::policies {
namespace {

// Each enum's codes, indexed by the enum's value.
constexpr std::array<std::string_view, 3> kCovered = {"covered", "not-covered", "conditional"};
constexpr std::array<std::string_view, 4> kPaNeeded = {"", "no-auth", "auth-needed", "conditional"};
constexpr std::array<std::string_view, 2> kDocNeeded = {"", "clinical"};
constexpr std::array<std::string_view, 3> kDocPurpose = {"", "withpa", "withclaim"};
constexpr std::array<std::string_view, 2> kInfoNeeded = {"", "OTH"};

template <class E, std::size_t N>
std::optional<E> parse_code(const std::array<std::string_view, N>& codes, std::string_view c) {
  for (std::size_t i = 0; i < N; ++i) {
    if (codes[i] == c) return static_cast<E>(i);
  }
  return std::nullopt;
}

Error refused(std::string rule) {
  return Error{"coverage-information", std::move(rule)};
}

}  // namespace

std::string_view code(Covered v) {
  return kCovered[static_cast<std::size_t>(v)];
}
std::string_view code(PaNeeded v) {
  return kPaNeeded[static_cast<std::size_t>(v)];
}
std::string_view code(DocNeeded v) {
  return kDocNeeded[static_cast<std::size_t>(v)];
}
std::string_view code(DocPurpose v) {
  return kDocPurpose[static_cast<std::size_t>(v)];
}
std::string_view code(InfoNeeded v) {
  return kInfoNeeded[static_cast<std::size_t>(v)];
}

std::optional<Covered> parse_covered(std::string_view c) {
  return parse_code<Covered>(kCovered, c);
}
std::optional<PaNeeded> parse_pa_needed(std::string_view c) {
  return parse_code<PaNeeded>(kPaNeeded, c);
}
std::optional<DocNeeded> parse_doc_needed(std::string_view c) {
  return parse_code<DocNeeded>(kDocNeeded, c);
}
std::optional<DocPurpose> parse_doc_purpose(std::string_view c) {
  return parse_code<DocPurpose>(kDocPurpose, c);
}
std::optional<InfoNeeded> parse_info_needed(std::string_view c) {
  return parse_code<InfoNeeded>(kInfoNeeded, c);
}

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
  return CoverageInformation::parse(d.covered, d.pa_needed, d.doc_needed, d.doc_purpose,
                                    d.info_needed);
}

}  // namespace cryo::policies
