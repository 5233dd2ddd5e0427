// PrefetchTemplate: one prefetch template a CDS service declares in discovery, and the query
// the service runs itself against the EHR's FHIR server when the client did not honour it.
// The mappings declare them (mappings/mapping_set.h); the FHIR client runs them
// (fhir/client/prefetch_fetcher.h).
//
//   PrefetchTemplate t{"coverage", "Coverage?patient={{context.patientId}}&status=active"};
//
// Thread safety: plain value.
#pragma once

#include <string>

namespace cryo::fhir {

struct PrefetchTemplate {
  std::string key;    // e.g. "coverage"
  std::string query;  // e.g. "Coverage?patient={{context.patientId}}&status=active"
  // Data that can change a decision but that most records lack (completed questionnaires):
  // when the client leaves it out, it is read from the FHIR server only together with data
  // that is read anyway, and never makes a call unanswerable (412).
  bool optional = false;
};

}  // namespace cryo::fhir
