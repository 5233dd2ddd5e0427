// The CRD coverage-information codes a determination carries, as types.
//
// One enum per coded field of the coverage-information extension. code() is the CRD code sent
// on the wire ("" where the field is absent); parse_*() reads a stored code back (audit rows,
// replayed determinations). Which combinations CRD allows is CoverageInformation's business
// (policies/coverage_information.h); these are the values alone, so that `Determination`
// (policies/determination.h) can hold them.
//
//   Covered      covered | not-covered | conditional
//   PaNeeded     (absent) | no-auth | auth-needed | conditional
//   DocNeeded    (absent) | clinical
//   DocPurpose   (absent) | withpa | withclaim
//   InfoNeeded   (absent) | OTH
//
// Thread safety: plain values.
#pragma once

#include <optional>
#include <string_view>

namespace cryo::policies {

enum class Covered { kCovered, kNotCovered, kConditional };
enum class PaNeeded { kAbsent, kNoAuth, kAuthNeeded, kConditional };
enum class DocNeeded { kAbsent, kClinical };
enum class DocPurpose { kAbsent, kWithPa, kWithClaim };
enum class InfoNeeded { kAbsent, kOther };

// The CRD code: "covered", "auth-needed", "withpa", "OTH", ...; "" for an absent field.
std::string_view code(Covered v);
std::string_view code(PaNeeded v);
std::string_view code(DocNeeded v);
std::string_view code(DocPurpose v);
std::string_view code(InfoNeeded v);

// The value a CRD code names ("" gives the absent value); nullopt for a code this server
// never produces.
std::optional<Covered> parse_covered(std::string_view code);
std::optional<PaNeeded> parse_pa_needed(std::string_view code);
std::optional<DocNeeded> parse_doc_needed(std::string_view code);
std::optional<DocPurpose> parse_doc_purpose(std::string_view code);
std::optional<InfoNeeded> parse_info_needed(std::string_view code);

}  // namespace cryo::policies
