// Reading the patient's Coverage: which one is active, who the payer is, which plan.
//
// Only Coverages with status "active" count. The payer is identified by the identifiers of
// the payor Organization (contained, indexed, or on the Reference itself). The plan codes
// are Coverage.class entries of class type "plan"; the coverage type is read from Source of
// Payment Typology (SOPT) codes into a generic line of business. The mapping from SOPT
// prefixes to lines of business is data (mappings/data/coverage.json).
//
//   CoverageReading r = mappings.read_coverage(index);
//   if (r.status != CoverageReading::kOne) { return bad_request(r.problem); }
//   const Payer* p = registry.payer_for(r.payer_identifiers);
//
// Thread safety: pure function of its inputs.
#pragma once

#include <string>
#include <vector>

#include "fhir/json.h"
#include "fhir/resource_index.h"

namespace cryo::mappings {

struct Identifier {
  std::string system;
  std::string value;
};

struct CoverageReading {
  enum Status { kOne, kNone, kSeveral } status = kNone;
  const fhir::Json* coverage = nullptr;       // the single active Coverage (kOne)
  std::string reference;                      // "Coverage/<id>", for coverage-information
  std::vector<Identifier> payer_identifiers;  // from the payor Organization(s) / Reference
  std::string payer_name;                     // Organization.name or Reference.display
  std::vector<std::string> plan_codes;        // Coverage.class[type=plan].value
  std::string coverage_type;                  // "commercial" | "medicare-advantage" |
                                              // "medicare" | "medicaid" (default commercial)
  std::string problem;                        // for kNone/kSeveral: what was found
};

class MappingSet;

// Reads the Coverage from everything in `record`.
CoverageReading read_coverage(const fhir::ResourceIndex& record, const MappingSet& mappings);

}  // namespace cryo::mappings
