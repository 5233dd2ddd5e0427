// CoverageInformation: the CRD coverage-information values of one determination, checked.
//
// Each field is one of the enums of policies/coverage_codes.h, whose code() is the CRD code
// sent on the wire ("" where the field is absent). A CoverageInformation is built only
// through make(), which refuses every combination CRD forbids (see the reading guide's "What
// goes into the coverage-information"):
//
//   q2          not-covered carries no pa-needed
//   doc-pair    doc-needed and doc-purpose come together or not at all
//   q3          a conditional value (covered or pa-needed) carries info-needed
//
// Thread safety: plain values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "policies/coverage_codes.h"
#include "policies/determination.h"

namespace cryo::policies {

class CoverageInformation {
 public:
  // Refuses a combination CRD forbids; the error names the rule broken.
  static Result<CoverageInformation> make(Covered covered, PaNeeded pa_needed, DocNeeded doc_needed,
                                          DocPurpose doc_purpose, InfoNeeded info_needed);
  // The same from stored CRD codes; also refuses an unknown code.
  static Result<CoverageInformation> parse(std::string_view covered, std::string_view pa_needed,
                                           std::string_view doc_needed,
                                           std::string_view doc_purpose,
                                           std::string_view info_needed);

  Covered covered() const { return covered_; }
  PaNeeded pa_needed() const { return pa_needed_; }
  DocNeeded doc_needed() const { return doc_needed_; }
  DocPurpose doc_purpose() const { return doc_purpose_; }
  InfoNeeded info_needed() const { return info_needed_; }

  bool operator==(const CoverageInformation&) const = default;

 private:
  CoverageInformation(Covered c, PaNeeded p, DocNeeded d, DocPurpose dp, InfoNeeded i)
      : covered_(c), pa_needed_(p), doc_needed_(d), doc_purpose_(dp), info_needed_(i) {}

  Covered covered_;
  PaNeeded pa_needed_;
  DocNeeded doc_needed_;
  DocPurpose doc_purpose_;
  InfoNeeded info_needed_;
};

// The typed coverage-information of a determination the engine produced; refuses (naming the
// rule) a combination CRD forbids, which the service then answers as an error instead of
// sending it.
Result<CoverageInformation> coverage_information_of(const Determination& d);

}  // namespace cryo::policies
